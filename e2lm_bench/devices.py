"""Where models run and in which precision: one policy for every command that loads or trains a model.

Light on purpose (torch is imported only when called), so the CLI reads ``DTYPES`` to build its arguments.
"""

from __future__ import annotations

DTYPES = ("auto", "bfloat16", "float16", "float32")


def default_device() -> str:
    """CUDA when there is a GPU, as lm-eval's own default."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
