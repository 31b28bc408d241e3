"""``e2lm-bench demo --with interaction``: SimPO interaction rounds from the demo's pretrained model, offline.

The teacher is the grammar itself: it finishes the utterance each context cut off and goes on with
utterances it generates (none held out for evaluation), so each winning text is a grammatical
continuation by construction and the student's own continuation is the losing one. The contexts come
from a corpus of the grammar drawn with another seed, sized so that a round takes seconds on a CPU.
"""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from e2lm_bench.demo.corpus import generate_corpus, held_out, write_corpus
from e2lm_bench.demo.grammar import utterance

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class InteractionSettings:
    """The stage's budget (see the README demo paragraph for what it measured)."""

    rounds: int = 6
    utterances: int = 20_000  # contexts per round ≈ tokens of the corpus / rounds / (context + completion tokens)
    context_tokens: int = 24
    completion_tokens: int = 8  # about one utterance: mostly the end of the one the context cut
    batch_size: int = 16
    lm_epochs: int = 1
    po_epochs: int = 2
    learning_rate: float = 3e-4


class GrammarTeacher:
    """The teacher callable of :class:`InteractionTrainer`: the grammar finishes the utterance the context cut.

    A context ends inside an utterance (it is a window of the corpus stream), so a correction worth learning
    from is that utterance's grammatical end, then whole utterances, as long as the student's text at least.
    The teacher knows the language as a pool of its utterances (``known`` plus a sample of fresh ones, none
    held out for evaluation) and finishes the cut one with a pool line that begins with it, drawn at random;
    the corpus' own lines are in the pool, so a context from the corpus always has one. Seeded, so a demo
    run is repeatable.
    """

    def __init__(self, seed: int, known: list[str] = (), fresh: int = 20_000):
        self.rng = random.Random(seed)
        self.pool = sorted(set(known) | set(generate_corpus(fresh, seed)))

    def __call__(self, contexts: list[str], completions: list[str]) -> list[str]:
        return [self.ending(context) + " " + " ".join(self.words(len(completion.split())))
                for context, completion in zip(contexts, completions)]

    def ending(self, context: str) -> str:
        """The rest of a pool utterance that begins where the context's last utterance begins ("" if none).

        Utterances begin after " . ", " ? " or " ! ", but a "*CHI:" answer continues its exchange line, so the
        starts are tried from the last one back until one begins a pool line. The cut may split a word, so the
        match is on characters, and the ending may begin inside a word.
        """
        starts = [i + 2 for i in range(len(context) - 1) if context[i] in ".?!" and context[i + 1] == " "]
        for start in reversed(starts):
            begun = context[start:]
            first = bisect.bisect_left(self.pool, begun)
            last = bisect.bisect_left(self.pool, begun + "\U0010ffff")
            if first < last:
                return self.pool[self.rng.randrange(first, last)][len(begun):]
        return ""

    def words(self, count: int) -> list[str]:
        words: list[str] = []
        while len(words) < max(count, 1):
            line = utterance(self.rng)
            if not held_out(line):
                words += line.split()
        return words


def train_interaction(student: Path, output: Path, seed: int, settings: InteractionSettings = InteractionSettings()) -> Path:
    """Interaction rounds from ``student``; returns the series folder (``round_00`` … plus ``rounds.csv``)."""
    from e2lm_bench.training.interaction import InteractionTrainer
    from e2lm_bench.training.interaction_config import InteractionConfig

    output = Path(output)
    corpus = write_corpus(output.parent / f"{output.name}_corpus", settings.utterances, 0, seed=seed + 2)
    config = InteractionConfig(
        student=str(student), teacher="the demo grammar", corpus=corpus, output=output, rounds=settings.rounds,
        context_tokens=settings.context_tokens, completion_tokens=settings.completion_tokens,
        batch_size=settings.batch_size, generation_batch_size=256, lm_epochs=settings.lm_epochs,
        po_epochs=settings.po_epochs, learning_rate=settings.learning_rate, warmup_steps=0,
        scheduler_steps=10**9, seed=seed, device="cpu",
    )
    return InteractionTrainer(config, teacher=GrammarTeacher(seed + 3, generate_corpus(settings.utterances, seed + 2))).train()


def round_summary(log: pd.DataFrame, table: pd.DataFrame, model: str) -> dict:
    """What the demo reports of the rounds: the SimPO margin of the first and the last round, and the mean
    Zorro-style accuracy of the series ``model`` at its first (``round_00``, the pretrained model) and last round."""
    rows = table[(table["model"] == model) & (table["metric"] == "acc") & table["task"].str.startswith("zorro_")]
    zorro = rows.groupby("step")["value"].mean().sort_index()
    return {"rounds": int(log["round"].iloc[-1]),
            "first_round_margin": round(float(log["margin"].iloc[0]), 4),
            "last_round_margin": round(float(log["margin"].iloc[-1]), 4),
            "zorro_mean_acc_round_00": round(float(zorro.iloc[0]), 4),
            "zorro_mean_acc_last_round": round(float(zorro.iloc[-1]), 4)}
