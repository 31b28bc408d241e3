"""The interaction loop's loss: LM on the winning sequences plus SimPO on pairs (the baseline's code,
github.com/momergul/babylm-interaction-simpo-baseline).

Sequences are token ids: start token + context (the prompt) + completion + EOS. The LM term covers every
real token, context included (as the baseline's); the SimPO term only the completion and the final EOS.
The SimPO term equals trl's (``CPOTrainer`` with ``loss_type="simpo"``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from e2lm_bench.training.interaction_config import InteractionConfig


def collate(sequences: list[list[int]], prompt_lengths: list[int], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded inputs (seq[:-1]) and targets (seq[1:]) with the baseline's two masks.

    ``sft_mask`` covers every real target; ``simpo_mask`` only those after the prompt (start token +
    context): the completion and the final EOS. Masks come from lengths, not from ``input != eos`` as in the
    baseline, which agree unless a sequence contains EOS inside (our teacher texts may).
    """
    width = max(len(s) for s in sequences) - 1
    inputs = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    targets = inputs.clone()
    sft_mask = torch.zeros(len(sequences), width)
    simpo_mask = sft_mask.clone()
    for row, (sequence, prompt) in enumerate(zip(sequences, prompt_lengths)):
        length = len(sequence) - 1
        inputs[row, :length] = torch.tensor(sequence[:-1])
        targets[row, :length] = torch.tensor(sequence[1:])
        sft_mask[row, :length] = 1
        simpo_mask[row, prompt - 1:length] = 1
    return {"inputs": inputs, "targets": targets, "sft_mask": sft_mask, "simpo_mask": simpo_mask}


def token_logps(model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """log p(target | inputs before it) per position; padding positions are masked later."""
    logits = model(input_ids=batch["inputs"], attention_mask=batch["sft_mask"].long()).logits
    return -F.cross_entropy(logits.float().transpose(1, 2), batch["targets"], reduction="none")


def sft_loss(logps: torch.Tensor, sft_mask: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood over all real tokens of the batch (context included)."""
    return -(logps * sft_mask).sum() / sft_mask.sum()


def simpo_loss(logps_w: torch.Tensor, logps_l: torch.Tensor, mask_w: torch.Tensor, mask_l: torch.Tensor,
               beta: float, gamma: float) -> tuple[torch.Tensor, torch.Tensor]:
    """SimPO with an absolute margin: −mean log σ(β·avg logp(w) − β·avg logp(l) − γ), and the mean β-margin."""
    margins = beta * ((logps_w * mask_w).sum(-1) / mask_w.sum(-1) - (logps_l * mask_l).sum(-1) / mask_l.sum(-1))
    return -F.logsigmoid(margins - gamma).mean(), margins.mean()


def interaction_loss(model, winning: list[list[int]], losing: list[list[int]], prompt_lengths: list[int],
                     pad_id: int, config: InteractionConfig) -> dict[str, torch.Tensor]:
    """SimPO + ``lm_weight`` · LM on one batch of pairs: winning and losing go through the model together."""
    batch = collate(winning + losing, prompt_lengths * 2, pad_id)
    batch = {key: value.to(model.device) for key, value in batch.items()}
    logps = token_logps(model, batch)
    half = len(winning)
    lm = sft_loss(logps[:half], batch["sft_mask"][:half])
    preference, margin = simpo_loss(logps[:half], logps[half:], batch["simpo_mask"][:half], batch["simpo_mask"][half:],
                                    config.beta, config.gamma)
    return {"loss": preference + config.lm_weight * lm, "sft": lm, "simpo": preference, "margin": margin}
