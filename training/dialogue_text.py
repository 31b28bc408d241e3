"""CHILDES-style dialogue text as the RL recipe sees it: ``*MOT: …`` prompts and ``*CHI: …`` replies.

One home for the rules every part of the recipe shares (teacher prompts, mother scores, rewards), taken
from Padovani et al. 2025 (arXiv 2510.20358; github.com/fpadovani/communicative_baby_ppo): a completion ends at the next speaker
tag, the child's utterance is compared lower-cased (a mother model scores it as written, as it scored
the teacher answers), and the mother's utterance is the prompt without its tags.
"""

from __future__ import annotations

import re

SPEAKER_TAG = re.compile(r"\*[A-Z]{2,4}:")
MOT_TAG, CHI_TAG = "*MOT:", "*CHI:"


def mother_utterance(prompt: str) -> str:
    """The caregiver's words: the prompt without its ``*MOT:`` tag and a trailing ``*CHI:``, stripped."""
    text = prompt.strip()
    if text.endswith(CHI_TAG):
        text = text[: -len(CHI_TAG)]
    return text.replace(MOT_TAG, "", 1).strip()


def child_words(completion: str) -> str:
    """The child's reply in a completion as written: up to the next speaker tag, stripped (case kept)."""
    text = completion.split(CHI_TAG, 1)[1] if completion.lstrip().startswith(CHI_TAG) else completion
    match = SPEAKER_TAG.search(text)
    return (text[: match.start()] if match else text).strip()


def child_utterance(completion: str) -> str:
    """The child's reply in a completion: up to the next speaker tag, stripped and lower-cased."""
    return child_words(completion).lower()
