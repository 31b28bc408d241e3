"""Where models run and in which precision: one policy for every command that loads or trains a model.

Light on purpose (torch is imported only when called), so the CLI reads ``DTYPES`` to build its arguments.

- device: the one asked for, else CUDA when there is a GPU, else the CPU (lm-eval's own default); each process
  of a launch on the GPU its local rank names (:func:`process_device`);
- loading: a dtype name of ``DTYPES`` ("auto": as saved);
- training: bf16 mixed precision on a CUDA device that supports bf16, else fp16 on CUDA (Trainer's
  ``TrainingArguments`` scale its loss), else full precision; a loop of our own (no loss scaling) autocasts
  to bf16 where Trainer would use bf16 and stays in full precision elsewhere.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from e2lm_bench.errors import UserError
from e2lm_bench.launch import Launch

if TYPE_CHECKING:
    import contextlib

    import torch

DTYPES = ("auto", "bfloat16", "float16", "float32")


def default_device() -> str:
    """CUDA when there is a GPU, as lm-eval's own default."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_device(name: str | torch.device | None = None) -> torch.device:
    """The device ``name`` ("cpu", "cuda:1", ...), or :func:`default_device` when None."""
    import torch

    return torch.device(name or default_device())


def process_device(name: str | None, launch: Launch) -> str:
    """The device of one process of a launch: ``cuda`` (or no device on a GPU machine) becomes ``cuda:<local rank>``.

    When each process sees one GPU only (``srun --gpus-per-task=1`` sets its ``CUDA_VISIBLE_DEVICES``), that one is
    ``cuda:0`` whatever the local rank. A device given with its index, or the CPU, is kept as given.
    """
    name = name or default_device()
    if not launch.launched or name != "cuda":
        return name
    import torch

    visible = torch.cuda.device_count()
    return f"cuda:{launch.local_rank % visible}" if visible > 1 else "cuda:0"


def torch_dtype(name: str) -> torch.dtype | str:
    """The torch dtype of a name in ``DTYPES``; "auto" stays "auto" (transformers then loads as saved)."""
    if name not in DTYPES:
        raise UserError(f"dtype {name!r}: expected one of {', '.join(DTYPES)}")
    if name == "auto":
        return name
    import torch

    return getattr(torch, name)


def _bf16(device: torch.device) -> bool:
    import torch

    return device.type == "cuda" and torch.cuda.is_bf16_supported()


def trainer_precision(device: str | torch.device | None = None) -> dict[str, bool]:
    """``bf16``/``fp16`` for ``TrainingArguments`` and trl's configs on ``device`` (default: :func:`resolve_device`)."""
    device = resolve_device(device)
    bf16 = _bf16(device)
    return {"bf16": bf16, "fp16": device.type == "cuda" and not bf16}


def autocast(device: str | torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast on a CUDA device that supports it; elsewhere a no-op (full precision, no loss scaling)."""
    import contextlib

    import torch

    device = resolve_device(device)
    return torch.autocast("cuda", dtype=torch.bfloat16) if _bf16(device) else contextlib.nullcontext()
