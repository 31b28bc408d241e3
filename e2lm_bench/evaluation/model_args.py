"""``--model-args`` as lm-eval's ``--model_args``: the one parser every model-loading command uses."""

from __future__ import annotations


def parse_model_args(text: str | None, trust_remote_code: bool = False) -> dict:
    """``k=v,...`` parsed exactly as lm-eval parses ``--model_args``; ``--trust-remote-code`` folded in."""
    from lm_eval.utils import simple_parse_args_string

    args = simple_parse_args_string(text)
    if trust_remote_code:
        args["trust_remote_code"] = True
    return args
