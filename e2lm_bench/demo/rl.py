"""``e2lm-bench demo --with rl``: RLOO on the BLEU reward from the demo's pretrained model, offline.

The teacher is the grammar itself: it knows what a child answers to each of its caregiver questions, so
the teacher-answers file (the row format of ``e2lm-bench data teacher-answers``) holds answers the
grammar gave, not samples of a language model.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict

import pandas as pd

from e2lm_bench.demo.corpus import held_out
from e2lm_bench.demo.grammar import exchange, exchange_line
from e2lm_bench.training.teacher import TEACHER_RESPONSE_INDEX, TeacherConfig

TEACHER_ANSWERS = TeacherConfig().n
EXCHANGE_DRAWS = 100_000


def teacher_rows(n_prompts: int, seed: int, n_answers: int = TEACHER_ANSWERS) -> list[dict]:
    """``n_prompts`` caregiver prompts, each with the first ``n_answers`` answers the grammar gave it.

    Exchanges are drawn as the corpus draws them (held-out ones skipped, so no answer is an evaluation
    item) and grouped by question, so a prompt's answers are samples of the grammar's answers to it.
    Only questions asked at least ``n_answers`` times qualify: the frequent kinds ("who ...", "is ...",
    "what did ...") rather than the "does ..." questions, whose objects make most of them unique.
    """
    rng = random.Random(seed)
    answers: dict[str, list[str]] = defaultdict(list)
    for _ in range(EXCHANGE_DRAWS):
        _, question, answer = exchange(rng)
        if not held_out(exchange_line(question, answer)):
            answers[question.text].append(answer.text)
    asked = sorted(q for q, a in answers.items() if len(a) >= n_answers)
    if len(asked) < n_prompts:
        raise ValueError(f"only {len(asked)} questions asked {n_answers} times in {EXCHANGE_DRAWS} draws, "
                         f"{n_prompts} asked for")
    rows = []
    for question in rng.sample(asked, n_prompts):
        drawn = answers[question][:n_answers]
        rows.append({"prompt": f"*MOT: {question}", "teacher_responses": drawn,
                     "teacher_response": drawn[min(TEACHER_RESPONSE_INDEX, n_answers - 1)]})
    return rows


def reward_fifths(log: pd.DataFrame) -> dict[str, float]:
    """Mean reward over the first and the last fifth of the steps: the rise the demo reports."""
    fifth = max(1, math.floor(len(log) / 5))
    return {"first_fifth_reward": round(float(log["reward"].iloc[:fifth].mean()), 4),
            "last_fifth_reward": round(float(log["reward"].iloc[-fifth:].mean()), 4)}
