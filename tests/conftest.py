"""Tiny offline fixtures: tokenizers trained in the test session and models of a few hundred thousand parameters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from e2lm_bench.training.baselines import save_random_logits_model, save_untrained_model
from e2lm_bench.training.tokenizer import train_bpe_tokenizer

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

SENTENCES = [
    "look at this purple thing .", "look at this purple things .", "the dog that i like is happy .",
    "the dogs that i like is happy .", "where is the ball ?", "where are the ball ?",
    "you are green ?", "I am blue .", "and that one !", "do you want some more juice ?",
    "no I want milk .", "shall we read a book ?", "Jwww went to the park .", "she goed home .",
    "the cats chase a mouse .", "a mouse chase the cats .", "he likes himself .", "him likes himself .",
]

DIALOGUE_ROWS = [
    {"prompt": "*MOT: you are green ?", "chosen": "*CHI: I am blue .", "rejected": "*CHI: and that one !"},
    {"prompt": "*MOT: do you want some more juice ?", "chosen": "*CHI: no I want milk .", "rejected": "*CHI: where is the ball ?"},
    {"prompt": "*MOT: shall we read a book ?", "chosen": "*CHI: yes !", "rejected": "*CHI: no !"},
    {"prompt": "*MOT: what did Jwww do ?", "chosen": "*CHI: Jwww went to the park .", "rejected": "*CHI: the cats chase a mouse ."},
]



@pytest.fixture(scope="session")
def tokenizer_bos():
    return train_bpe_tokenizer(SENTENCES * 5 + [r[k] for r in DIALOGUE_ROWS for k in r] * 5, vocab_size=400, add_bos=True)


@pytest.fixture(scope="session")
def tokenizer_nobos():
    return train_bpe_tokenizer(SENTENCES * 5 + [r[k] for r in DIALOGUE_ROWS for k in r] * 5, vocab_size=400, add_bos=False)


@pytest.fixture(scope="session")
def llama_dir(tmp_path_factory, tokenizer_bos):
    return save_untrained_model(tmp_path_factory.mktemp("llama"), tokenizer_bos, preset="llama-tiny", seed=1)


@pytest.fixture(scope="session")
def gpt2_dir(tmp_path_factory, tokenizer_nobos):
    return save_untrained_model(tmp_path_factory.mktemp("gpt2"), tokenizer_nobos, preset="gpt2-tiny", seed=2)


@pytest.fixture(scope="session")
def random_logits_dir(tmp_path_factory, tokenizer_bos):
    return save_random_logits_model(tmp_path_factory.mktemp("random"), tokenizer_bos, seed=7)


def write_data_dir(root: Path) -> Path:
    """A complete E2LM_DATA_DIR: every task reads from it."""
    from e2lm_bench.taskdata.sources import ZORRO_PARADIGMS

    (root / "dialogue_minpairs").mkdir(parents=True)
    for variant in ("words", "tokens"):
        with open(root / "dialogue_minpairs" / f"dialogue_eval_{variant}.jsonl", "w") as f:
            f.writelines(json.dumps(row) + "\n" for row in DIALOGUE_ROWS)
    (root / "lexical_decision").mkdir()
    with open(root / "lexical_decision" / "lexical_decision.jsonl", "w") as f:
        for lexeme, wug in [("dog", "dag"), ("happy", "hoppy"), ("milk", "molk"), ("ball", "bilt")]:
            f.write(json.dumps({"lexeme": lexeme, "wug": wug}) + "\n")
    (root / "zorro").mkdir()
    for paradigm in ZORRO_PARADIGMS:
        (root / "zorro" / f"{paradigm}.txt").write_text("\n".join(SENTENCES[:6]))
    return root


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory):
    return write_data_dir(tmp_path_factory.mktemp("data"))


@pytest.fixture
def use_data_dir(monkeypatch, data_dir):
    monkeypatch.setenv("E2LM_DATA_DIR", str(data_dir))
    return data_dir


def write_series(root: Path, tokenizer, steps=(100, 200, 300, 400), preset="llama-tiny") -> Path:
    """A checkpoint folder: checkpoint-<step> subfolders of a tiny model sharing one tokenizer."""
    for seed, step in enumerate(steps):
        save_untrained_model(root / f"checkpoint-{step}", tokenizer, preset=preset, seed=seed)
    return root


@pytest.fixture(scope="session")
def tiny_series(tmp_path_factory, tokenizer_bos):
    return write_series(tmp_path_factory.mktemp("series") / "tiny", tokenizer_bos)
