"""``InteractionConfig``: every setting of ``e2lm-bench interact``, with its default stated once.

Apart from the trainer (as trl keeps its configs) so that the CLI reads these defaults without importing
torch. Defaults are the BabyLM 2025 interaction-track SimPO baseline's (its code and
model card, huggingface.co/BabyLM-community/babylm-interaction-baseline-simpo), except
the seed (the baseline drew a random one) and the 7 pure-LM epochs (its code; its model card says 8).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from e2lm_bench.errors import UserError

BACKENDS = ("transformers", "vllm")


@dataclass
class InteractionConfig:
    student: str  # a model folder, or a preset name / config file for a random init
    teacher: str  # a model folder (causal or chat) or a Python callable "module:function"
    corpus: Path  # folder of BabyLM *.train files
    output: Path
    tokenizer: str | None = None  # random init only; None trains a byte-level BPE on the corpus
    vocab_size: int = 16_000  # of that BPE
    rounds: int = 20
    context_tokens: int = 256
    completion_tokens: int = 256
    batch_size: int = 16
    generation_batch_size: int = 64
    lm_epochs: int = 7
    po_epochs: int = 2
    beta: float = 2.0
    gamma_ratio: float = 0.5  # absolute SimPO margin = beta * gamma_ratio
    lm_weight: float = 0.2
    learning_rate: float = 5e-5
    warmup_steps: int = 2000
    scheduler_steps: int = 200_000
    max_grad_norm: float = 1.0
    temperature: float = 1.0
    top_p: float = 0.8
    seed: int = 0
    backend: str = "transformers"
    device: str | None = None  # default: cuda when available

    @property
    def gamma(self) -> float:
        """The absolute SimPO margin (trl's ``simpo_gamma``); the baseline configures it as a ratio of beta."""
        return self.beta * self.gamma_ratio


def check_steps(config: InteractionConfig) -> None:
    """Settings under which a run would take no optimizer step, refused before anything loads."""
    if config.rounds < 1:
        raise UserError(f"--rounds {config.rounds}: no round to train (give at least 1)")
    if min(config.lm_epochs, config.po_epochs) < 0 or config.lm_epochs + config.po_epochs < 1:
        raise UserError(f"--lm-epochs {config.lm_epochs} --po-epochs {config.po_epochs}: a round would take no "
                        "optimizer step (give at least one epoch, none negative)")
