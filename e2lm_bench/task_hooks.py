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


# A task whose requests must be tokenised as the BabyLM 2025 pipeline tokenises them says so in each
# document, under this key; the models of ``e2lm_bench.evaluation`` read it (``pipeline_rule``). The
# values name the pipeline's three rules: sentence candidates scored by character offsets, the reading
# surprisal of a bare word re-tokenised piece by piece, and a word scored after the BOS token alone.
SCORING_RULE = "scoring_rule"
BABYLM_OFFSETS, BABYLM_READING, BABYLM_BOS_WORD = "babylm-2025", "babylm-2025-reading", "babylm-2025-bos-word"


def with_rule(rows: list[dict], rule: str) -> list[dict]:
    return [{**row, SCORING_RULE: rule} for row in rows]


def pipeline_choice_results(doc: dict, results: list[tuple[float, bool]]) -> dict[str, float]:
    """``acc``, ``margin`` and ``ties`` for a choice list whose first entry is the gold one.

    The pipeline takes the first maximum, so a tie is credited to gold (its issue #34); ``ties`` is 1
    when gold ties the best other candidate, so a user sees how much of ``acc`` such ties carry.
    """
    scores = minimal_pair_results(doc, results)
    return {**scores, "ties": float(scores["margin"] == 0.0)}
