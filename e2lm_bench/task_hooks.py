"""Python hooks shared by the task YAMLs in ``lm_eval_tasks``.

Plain functions instead of Jinja templates: lm-eval recompiles a template string on every call, which
costs more than the model on small minimal-pair tasks.
"""

from __future__ import annotations


def no_context(doc: dict) -> str:
    """Empty context: lm-eval then conditions each choice on the BOS (or EOS) token alone."""
    return ""


def good_bad_choices(doc: dict) -> list[str]:
    return [doc["sentence_good"], doc["sentence_bad"]]


def minimal_pair_results(doc: dict, results: list[tuple[float, bool]]) -> dict[str, float]:
    """``acc`` and ``margin`` for a choice list whose first entry is the correct one.

    acc follows lm-eval's ``multiple_choice`` rule (argmax takes the first maximum, so a tie counts as
    correct); margin = log P(correct) - max log P(incorrect), in nats: for a pair, the log-probability
    difference. lm-eval drops ``metric: !function`` for multiple_choice tasks, hence this hook.
    """
    correct, *others = (loglikelihood for loglikelihood, _ in results)
    best_other = max(others)
    return {"acc": float(correct >= best_other), "margin": correct - best_other}
