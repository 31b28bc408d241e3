"""Mother scores: Σ log P(answer | mother's words), the numbers the ``confidence`` reward ranks a reply against.

Padovani et al. 2025 (arXiv 2510.20358; github.com/fpadovani/communicative_baby_ppo, ``score_mom.py``) scored
every teacher answer under the teacher model given the mother's words. ``e2lm-bench data mom-scores`` adds
those scores to a teacher-answers file (:func:`write_mom_scores`, resumable as ``training.teacher``'s
teacher-answers); :func:`mother_logprobs` is the score itself, which the ``confidence`` reward also uses.
The answers are scored as written in the file (case and punctuation kept), so a reply must be scored as
written too to be comparable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm.auto import tqdm

from e2lm_bench.taskdata.readers import DataError, iter_json_objects
from e2lm_bench.training.dialogue_text import mother_utterance
from e2lm_bench.training.teacher import append_rows, done_prompts

if TYPE_CHECKING:
    import numpy as np

    from e2lm_bench.evaluation.conventions import LMScorer

__all__ = ["MomScoreConfig", "mother_logprobs", "read_answer_rows", "write_mom_scores"]


@dataclass(frozen=True)
class MomScoreConfig:
    """How the mother model is loaded for ``mom-scores``; the CLI reads its defaults here."""

    batch_size: int = 64
    device: str | None = None
    dtype: str = "auto"


def read_answer_rows(path: Path) -> list[dict]:
    """Rows of a teacher-answers file, the first of each prompt; each needs a ``prompt`` string and a
    non-empty list ``teacher_responses``."""
    rows = {}
    for where, row in iter_json_objects(path):
        if not isinstance(row.get("prompt"), str) or not row["prompt"].strip():
            raise DataError(f"{where}: field 'prompt' must be a non-empty string, got {row.get('prompt')!r}")
        answers = row.get("teacher_responses")
        if not isinstance(answers, list) or not answers or not all(isinstance(a, str) for a in answers):
            raise DataError(f"{where}: field 'teacher_responses' must be a non-empty list of strings, got {answers!r}")
        rows.setdefault(row["prompt"], row)
    if not rows:
        raise DataError(f"{path}: no rows")
    return list(rows.values())


def mother_logprobs(scorer: LMScorer, contexts: Sequence[str], answers: Sequence[str]) -> np.ndarray:
    """Σ log P(answer | context) under the scorer's model: the RL recipe's "mother" score (the seed's
    ``score_mom.py``).

    Tokenised as encode(context + " ") ++ encode(" " + answer) without special tokens, answer tokens only
    (a context that encodes to no tokens leaves the answer's first token unscored: nothing comes before it).
    """
    if len(contexts) != len(answers):
        raise ValueError(f"{len(contexts)} contexts for {len(answers)} answers")
    sequences, starts = [], []
    for context, answer in zip(contexts, answers):
        context_ids = scorer.tokenizer(context + " ", add_special_tokens=False)["input_ids"]
        answer_ids = scorer.tokenizer(" " + answer, add_special_tokens=False)["input_ids"]
        sequences.append(context_ids + answer_ids)
        starts.append(max(len(context_ids), 1))
    return scorer.sequence_logprobs(sequences, starts)


def write_mom_scores(answers_path: str | Path, model: str, output: str | Path,
                     config: MomScoreConfig = MomScoreConfig()) -> dict:
    """Each answers row plus ``mom_logps``: Σ log P(answer | mother's words) per teacher answer (resumable).

    The context is :func:`mother_utterance` (tag removed, stripped), as the seed's ``score_mom.py`` scored it.
    """
    rows = read_answer_rows(Path(answers_path))
    output = Path(output)

    def check(where: str, row: dict) -> None:
        if not isinstance(row.get("mom_logps"), list):
            raise DataError(f"{where}: field 'mom_logps' missing (is this an output of mom-scores?)")

    done = done_prompts(output, check)
    todo = [row for row in rows if row["prompt"] not in done]
    summary = {"output": str(output), "prompts": len(rows), "already_done": len(rows) - len(todo), "written": 0}
    if not todo:
        return summary
    from e2lm_bench.evaluation.conventions import LMScorer

    scorer = LMScorer.from_pretrained(model, batch_size=config.batch_size, device=config.device, dtype=config.dtype)
    output.parent.mkdir(parents=True, exist_ok=True)
    with open(output, "a", encoding="utf-8") as handle, tqdm(total=len(todo), desc="mom scores", unit="prompt") as bar:
        for start in range(0, len(todo), config.batch_size):
            batch = todo[start : start + config.batch_size]
            contexts = [mother_utterance(row["prompt"]) for row in batch for _ in row["teacher_responses"]]
            scores = mother_logprobs(scorer, contexts, [a for row in batch for a in row["teacher_responses"]]).tolist()
            out = []
            for row in batch:
                n = len(row["teacher_responses"])
                out.append({**row, "mom_logps": scores[:n]})
                scores = scores[n:]
            append_rows(handle, out)
            summary["written"] += len(out)
            bar.update(len(out))
    return summary
