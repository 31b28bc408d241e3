"""A causal LM whose logits are random: the "dummy model" sanity check of a benchmark.

Saved with its own code (``trust_remote_code=True``), so stock ``lm_eval --model hf`` loads it. The
logits at each position are a fixed pseudo-random function of the seed and the tokens up to that
position, so scores are reproducible and do not depend on batch size, padding or device. A task on
which this model scores far from chance is leaking its answer through something other than language.
"""

import torch
from transformers import PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import CausalLMOutput

_MASK64 = (1 << 64) - 1


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


_MUL1 = _signed(0xBF58476D1CE4E5B9)
_MUL2 = _signed(0x94D049BB133111EB)
_GOLDEN = _signed(0x9E3779B97F4A7C15)


def _shift_right(x: torch.Tensor, n: int) -> torch.Tensor:
    return (x >> n) & ((1 << (64 - n)) - 1)  # logical shift on int64


def _mix(x: torch.Tensor) -> torch.Tensor:
    """The splitmix64 finaliser on int64 tensors (multiplication wraps)."""
    x = (x ^ _shift_right(x, 30)) * _MUL1
    x = (x ^ _shift_right(x, 27)) * _MUL2
    return x ^ _shift_right(x, 31)


class RandomLogitsConfig(PretrainedConfig):
    model_type = "random_logits"

    def __init__(self, vocab_size=16_000, seed=0, max_position_embeddings=2048, **kwargs):
        self.vocab_size = vocab_size
        self.seed = seed
        self.max_position_embeddings = max_position_embeddings
        super().__init__(**kwargs)


class RandomLogitsForCausalLM(PreTrainedModel):
    config_class = RandomLogitsConfig
    main_input_name = "input_ids"

    def __init__(self, config):
        super().__init__(config)
        # One weight so that device and dtype queries work; it does not touch the logits.
        self.unused = torch.nn.Parameter(torch.zeros(1))
        self.post_init()

    def _init_weights(self, module):
        pass

    def forward(self, input_ids=None, attention_mask=None, labels=None, **kwargs):
        state = torch.full((input_ids.shape[0],), _signed(self.config.seed & _MASK64), dtype=torch.long)
        ids = input_ids.to("cpu", torch.long)
        prefix_hashes = []
        for t in range(ids.shape[1]):
            state = _mix(state * _GOLDEN + ids[:, t] + 1)
            prefix_hashes.append(state)
        vocab = torch.arange(self.config.vocab_size, dtype=torch.long) * _GOLDEN
        rows = []
        for hashes in torch.stack(prefix_hashes, dim=1):  # one sequence at a time bounds memory
            bits = _shift_right(_mix(hashes[:, None] ^ vocab[None, :]), 11)  # 53 random bits
            uniform = (bits.double() + 0.5) / float(1 << 53)
            rows.append(torch.special.ndtri(uniform).float())
        logits = torch.stack(rows).to(input_ids.device, self.unused.dtype)
        loss = None
        if labels is not None:
            loss = torch.nn.functional.cross_entropy(
                logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1), ignore_index=-100
            )
        return CausalLMOutput(loss=loss, logits=logits)
