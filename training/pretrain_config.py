"""``PretrainConfig``: every setting of ``e2lm-bench train``, with its default stated once.

Apart from the trainer (as trl keeps its configs) so that the CLI can read these defaults without
importing torch and transformers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class PretrainConfig:
    corpus: Path
    output: Path
    preset: str = "babyllama-58m"
    tokenizer: str | None = None  # a tokenizer folder; None trains a byte-level BPE on the corpus
    vocab_size: int = 16_000
    block_size: int = 256
    batch_size: int = 32
    gradient_accumulation_steps: int = 1
    learning_rate: float = 2.5e-4
    weight_decay: float = 0.1
    warmup_steps: int = 200
    epochs: float = 6.0
    max_steps: int = -1
    max_grad_norm: float = 1.0
    save: str = "words"  # "words" (BabyLM chck_<N>M), "log:N" (N log-uniform steps), "steps:N" (every N steps)
    teachers: list[str] = field(default_factory=list)
    alpha: float = 0.5
    temperature: float = 2.0
    seed: int = 0
    report_to: str = "none"
    resume: bool = False
    dataloader_workers: int = 0
