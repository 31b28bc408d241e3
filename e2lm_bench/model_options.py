"""Model options shared by every command that loads a model: dtypes, the default device, ``--model-args``.

Light on purpose (torch and lm-eval are imported only when called): the CLI reads these to build its
arguments.
"""

from __future__ import annotations

DTYPES = ("auto", "bfloat16", "float16", "float32")


def default_device() -> str:
    """CUDA when there is a GPU, as lm-eval's own default."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def parse_model_args(text: str | None, trust_remote_code: bool = False) -> dict:
    """``k=v,...`` parsed exactly as lm-eval parses ``--model_args``; ``--trust-remote-code`` folded in."""
    from lm_eval.utils import simple_parse_args_string

    args = simple_parse_args_string(text)
    if trust_remote_code:
        args["trust_remote_code"] = True
    return args
