"""BabyLlama's offline knowledge distillation: α·CE + (1 − α)·T²·KL against the teachers' mean logits."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from transformers import Trainer


def distillation_loss(student_logits, teacher_logits: list, labels, alpha: float = 0.5, temperature: float = 2.0,
                      ce_loss=None):
    """The loss of one batch; ``ce_loss`` is the student's own next-token cross-entropy when already computed.

    KL(softmax(z̄_t / T) ‖ softmax(z_s / T)) with z̄_t the mean of the teachers' logits, summed over
    positions and vocabulary and divided by the batch size (``batchmean``), as BabyLlama computes it.
    """
    if ce_loss is None:
        ce_loss = F.cross_entropy(student_logits[:, :-1].reshape(-1, student_logits.size(-1)),
                                  labels[:, 1:].reshape(-1), ignore_index=-100)
    teacher_mean = torch.stack(teacher_logits).mean(dim=0)
    kl = F.kl_div(F.log_softmax(student_logits / temperature, dim=-1),
                  F.softmax(teacher_mean / temperature, dim=-1), reduction="batchmean")
    return alpha * ce_loss + (1 - alpha) * temperature**2 * kl


class DistillationTrainer(Trainer):
    """A Trainer whose loss mixes the student's cross-entropy with the distillation term."""

    def __init__(self, *args, teachers=(), alpha: float = 0.5, temperature: float = 2.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.teachers = [teacher.to(self.model.device).eval() for teacher in teachers]
        self.alpha, self.temperature = alpha, temperature

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        outputs = model(**inputs)
        with torch.no_grad():
            teacher_logits = [teacher(input_ids=inputs["input_ids"]).logits for teacher in self.teachers]
        loss = distillation_loss(outputs.logits, teacher_logits, inputs["labels"], self.alpha, self.temperature,
                                 ce_loss=outputs.loss)
        return (loss, outputs) if return_outputs else loss
