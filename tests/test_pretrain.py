"""Pretraining: checkpoint series that lm-eval loads, loud data errors, and the distillation loss."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from e2lm_bench.training.corpus import BlockDataset, CorpusError, CorpusStats, tokenize_split
from e2lm_bench.training.pretrain import PretrainConfig, pretrain, save_schedule
from e2lm_bench.training.schedule import babylm_word_schedule, log_uniform_steps
from e2lm_bench.training.tokenizer import train_bpe_tokenizer

UTTERANCES = ["the dog runs .", "the dogs run .", "where is the ball ?", "look at the red ball .",
              "do you want more milk ?", "the cat sleeps on the bed .", "i see a big truck .", "no more juice ."]


def _corpus(folder, lines=400, extra=()):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    lines = ["*MOT: " + UTTERANCES[i] for i in rng.integers(0, 8, lines)] + list(extra)
    (folder / "childes.train").write_text("\n".join(lines) + "\n")
    (folder / "childes.dev").write_text("\n".join(UTTERANCES * 10) + "\n")
    return folder


def test_pretrain_writes_loadable_checkpoint_series(tmp_path):
    from lm_eval.models.huggingface import HFLM

    out = pretrain(PretrainConfig(corpus=_corpus(tmp_path / "corpus"), output=tmp_path / "run", preset="llama-tiny",
                                  vocab_size=300, block_size=32, batch_size=4, max_steps=24, warmup_steps=2,
                                  save="log:5"))
    stats = json.loads((out / "corpus_stats.json").read_text())
    expected = [f"checkpoint-{s}" for s in log_uniform_steps(24, 5)]
    assert sorted(stats["checkpoints"], key=lambda n: int(n.split("-")[1])) == expected
    assert stats["empty_lines"] == 0 and 0.3 < stats["words_per_token"] <= 1.5
    assert not (out / "final").exists()  # the last scheduled checkpoint is the final model
    for name in expected:
        lm = HFLM(pretrained=str(out / name), batch_size=2, device="cpu")
        assert lm.tokenizer.eos_token_id is not None and lm.model.config.vocab_size >= len(lm.tokenizer)


def test_word_schedule_names_and_word_counts():
    config = PretrainConfig(corpus=".", output=".", save="words")
    tokens_per_step, words_per_token = 8192, 0.75
    schedule = save_schedule(config, max_steps=5000, tokens_per_step=tokens_per_step, words_per_token=words_per_token)
    words_per_step = tokens_per_step * words_per_token
    names = [schedule[s] for s in sorted(schedule)]
    assert names[:3] == ["chck_1M", "chck_2M", "chck_3M"] and "chck_10M" in names and "chck_20M" in names
    for step, name in schedule.items():
        words = int(name[5:-1]) * 1_000_000
        assert step * words_per_step >= words > (step - 1) * words_per_step  # the first step past the mark
    assert babylm_word_schedule(250e6)[-3:] == [90_000_000, 100_000_000, 200_000_000]


def test_empty_lines_are_skipped_and_counted(tmp_path):
    corpus = _corpus(tmp_path / "c", lines=20, extra=["", "   ", "*MOT: "])
    tokenizer = train_bpe_tokenizer(UTTERANCES * 5, vocab_size=300)
    stats = CorpusStats()
    ids = tokenize_split([corpus / "childes.train"], tokenizer, len(tokenizer), stats)
    assert stats.empty_lines == 3 and stats.lines == 20
    assert ids.dtype == np.int32 and ids.min() >= 0 and ids.max() < len(tokenizer)


def test_unencodable_characters_fail_loudly(tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    raw = Tokenizer(models.BPE())  # no byte fallback, no unknown token: unseen characters vanish
    raw.pre_tokenizer = pre_tokenizers.Whitespace()
    raw.train_from_iterator(UTTERANCES, trainers.BpeTrainer(vocab_size=200, special_tokens=["<pad>", "</s>"]))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=raw, eos_token="</s>", pad_token="<pad>")
    corpus = _corpus(tmp_path / "c", lines=5, extra=["the dög runs ☃ ."])
    with pytest.raises(CorpusError, match=r"1 line\(s\) with characters the tokenizer cannot encode.*'ö☃'"):
        tokenize_split([corpus / "childes.train"], tokenizer, len(tokenizer))


def test_none_ids_fail_loudly(tmp_path):
    class LookupTokenizer:  # a word-lookup tokenizer with no unknown token, as slow tokenizers behave
        is_fast, eos_token_id = False, 1
        vocab = {w: i + 2 for i, w in enumerate(sorted({w for u in UTTERANCES for w in u.split()} | {"*MOT:"}))}

        def __call__(self, lines, add_special_tokens=False, return_offsets_mapping=False):
            return {"input_ids": [[self.vocab.get(w) for w in line.split()] for line in lines]}

    corpus = _corpus(tmp_path / "c", lines=5, extra=["the zebra runs ."])
    with pytest.raises(CorpusError, match=r"ids that are not integers \(None\).*zebra.*no ids were substituted"):
        tokenize_split([corpus / "childes.train"], LookupTokenizer(), 100)


def test_tokenizer_larger_than_model_fails_loudly(tmp_path):
    tokenizer = train_bpe_tokenizer(UTTERANCES * 5, vocab_size=300)
    corpus = _corpus(tmp_path / "c", lines=5)
    with pytest.raises(CorpusError, match=r"ids outside 0\.\.49"):
        tokenize_split([corpus / "childes.train"], tokenizer, vocab_size=50)
    with pytest.raises(CorpusError, match="outside 0..9"):
        BlockDataset(np.arange(40, dtype=np.int32), 8, vocab_size=10, random_offset=False)


def test_training_blocks_move_dev_blocks_do_not():
    ids = np.arange(100, dtype=np.int32)
    train, dev = BlockDataset(ids, 10, 100, random_offset=True), BlockDataset(ids, 10, 100, random_offset=False)
    offsets = set()
    for epoch in range(6):
        train.set_epoch(epoch)
        dev.set_epoch(epoch)
        offsets.add(int(train[0]["input_ids"][0]))
        assert dev[0]["input_ids"].tolist() == list(range(10))
    assert len(offsets) > 1 and len(train) == 9


def test_distillation_loss_combines_ce_and_kl_as_specified(tmp_path):
    from transformers import TrainingArguments

    from e2lm_bench.training.baselines import save_untrained_model
    from e2lm_bench.training.distill import DistillationTrainer

    tokenizer = train_bpe_tokenizer(UTTERANCES * 5, vocab_size=300)
    student, *teachers = [
        __import__("transformers").AutoModelForCausalLM.from_pretrained(
            save_untrained_model(tmp_path / f"m{i}", tokenizer, preset="llama-tiny", seed=i)) for i in range(3)
    ]
    batch = tokenizer(["the dog runs . the cat sleeps on the bed ."] * 2, return_tensors="pt")
    inputs = {"input_ids": batch["input_ids"], "labels": batch["input_ids"].clone()}
    trainer = DistillationTrainer(model=student, args=TrainingArguments(output_dir=str(tmp_path / "t"), report_to="none"),
                                  teachers=teachers, alpha=0.3, temperature=2.0)
    loss = trainer.compute_loss(student, inputs)
    with torch.no_grad():
        logits = student(input_ids=inputs["input_ids"]).logits
        ce = F.cross_entropy(logits[:, :-1].reshape(-1, logits.size(-1)), inputs["labels"][:, 1:].reshape(-1))
        mean_teacher = (teachers[0](input_ids=inputs["input_ids"]).logits + teachers[1](input_ids=inputs["input_ids"]).logits) / 2
        p = F.softmax(mean_teacher / 2.0, dim=-1)
        kl = (p * (p.log() - F.log_softmax(logits / 2.0, dim=-1))).sum() / logits.size(0)
    assert loss.item() == pytest.approx((0.3 * ce + 0.7 * 4.0 * kl).item(), rel=1e-5)
    assert kl.item() > 0


def test_babylm_word_checkpoints_from_a_real_run(tmp_path):
    """chck_1M is saved at the first step whose words seen (measured words per token) pass one million."""
    from lm_eval.models.huggingface import HFLM

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "childes.train").write_text("\n".join(UTTERANCES * 30_000) + "\n")  # 1.26M words
    (corpus / "childes.dev").write_text("\n".join(UTTERANCES * 10) + "\n")
    out = pretrain(PretrainConfig(corpus=corpus, output=tmp_path / "run", preset="llama-tiny", vocab_size=300,
                                  block_size=64, batch_size=64, max_steps=600, warmup_steps=5, save="words"))
    stats = json.loads((out / "corpus_stats.json").read_text())
    words_per_step = stats["tokens_per_step"] * stats["words_per_token"]
    assert stats["words"] == 1_260_000
    assert list(stats["checkpoints"]) == ["chck_1M"]
    step = stats["checkpoints"]["chck_1M"]
    assert step * words_per_step >= 1_000_000 > (step - 1) * words_per_step
    assert HFLM(pretrained=str(out / "chck_1M"), batch_size=2, device="cpu").model.config.vocab_size == 300
