"""Speaker-tag rules of the RL recipe (Padovani et al. 2025, arXiv 2510.20358; github.com/fpadovani/communicative_baby_ppo)."""

from __future__ import annotations

import pytest

from e2lm_bench.training.dialogue_text import child_utterance, mother_utterance


@pytest.mark.parametrize("prompt, expected", [
    ("*MOT: where is the ball ? *CHI:", "where is the ball ?"),
    ("*MOT:   look !", "look !"),
    ("  *MOT: do you want juice *CHI:  ", "do you want juice"),
    ("no tag at all", "no tag at all"),
])
def test_mother_utterance(prompt, expected):
    assert mother_utterance(prompt) == expected


@pytest.mark.parametrize("completion, expected", [
    (" Ball There", "ball there"),
    (" yes ! *MOT: good girl *CHI: more", "yes !"),
    ("*CHI: Doggy. *FAT: yes", "doggy."),
    (" *MOT: what ?", ""),
    ("", ""),
])
def test_child_utterance(completion, expected):
    assert child_utterance(completion) == expected
