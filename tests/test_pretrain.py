"""Pretraining: checkpoint series that lm-eval loads, loud data errors, and the distillation loss."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from transformers import AutoTokenizer

from e2lm_bench.training.corpus import BlockDataset, CorpusError, CorpusStats, clean_line, tokenize_split
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


def _lines(path):
    return [clean_line(raw, "childes") for raw in path.read_text().splitlines() if clean_line(raw, "childes")]


def _tokenizer_without_bos():
    """A byte-level BPE that declares only EOS, as GPT-NeoX-style tokenizers passed with --tokenizer do."""
    from transformers import PreTrainedTokenizerFast

    backend = train_bpe_tokenizer(UTTERANCES * 5, vocab_size=300, add_bos=False).backend_tokenizer
    return PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="</s>", pad_token="<pad>")


def _assert_each_line_follows(ids: list[int], lines: list[list[int]], prefix: int, eos: int):
    """Every line's ids sit right after ``prefix`` and right before EOS, with nothing else in the stream."""
    position = 0
    for line in lines:
        if ids[position] == prefix and (prefix != eos or position == 0):
            position += 1
        assert position >= 1 and ids[position - 1] == prefix, f"line at {position} follows {ids[position - 1:position]}"
        assert ids[position:position + len(line)] == line and ids[position + len(line)] == eos
        position += len(line) + 1
    assert position == len(ids)


@pytest.mark.parametrize("with_bos", [True, False])
def test_every_line_follows_the_token_lm_eval_conditions_on(tmp_path, with_bos):
    """Zorro and lexical decision items have no context: HFLM scores them after ``prefix_token_id``
    (BOS, or EOS without one), so training must show that token before every line."""
    from lm_eval.models.huggingface import HFLM

    from e2lm_bench.training.baselines import save_untrained_model

    tokenizer = train_bpe_tokenizer(UTTERANCES * 5, vocab_size=300) if with_bos else _tokenizer_without_bos()
    prefix = HFLM(pretrained=str(save_untrained_model(tmp_path / "m", tokenizer)), batch_size=1, device="cpu").prefix_token_id
    assert prefix == (tokenizer.convert_tokens_to_ids("<s>") if with_bos else tokenizer.eos_token_id)
    corpus = _corpus(tmp_path / "c", lines=30)
    ids = tokenize_split([corpus / "childes.train"], tokenizer, len(tokenizer)).tolist()
    lines = [tokenizer(line, add_special_tokens=False)["input_ids"] for line in _lines(corpus / "childes.train")]
    _assert_each_line_follows(ids, lines, prefix, tokenizer.eos_token_id)
    assert len(ids) == sum(len(line) + 1 for line in lines) + (len(lines) if with_bos else 1)  # no doubled EOS


def test_pretrain_writes_loadable_checkpoint_series(tmp_path):
    from lm_eval.models.huggingface import HFLM

    corpus = _corpus(tmp_path / "corpus")
    out = pretrain(PretrainConfig(corpus=corpus, output=tmp_path / "run", preset="llama-tiny",
                                  vocab_size=300, block_size=32, batch_size=4, max_steps=24, warmup_steps=2,
                                  save="log:5"))
    stats = json.loads((out / "corpus_stats.json").read_text())
    expected = [f"checkpoint-{s}" for s in log_uniform_steps(24, 5)]
    assert sorted(stats["checkpoints"], key=lambda n: int(n.split("-")[1])) == expected
    assert not (out / "final").exists()  # the last scheduled checkpoint is the final model
    tokenizer = AutoTokenizer.from_pretrained(out / "tokenizer")
    lines = _lines(corpus / "childes.train")
    encoded = [tokenizer(line, add_special_tokens=False)["input_ids"] for line in lines]
    assert stats["empty_lines"] == 0 and stats["lines"] == 400 and stats["words"] == sum(len(x.split()) for x in lines)
    assert stats["tokens"] == sum(len(ids) + 2 for ids in encoded)  # each line: <s> ... </s>
    assert stats["words_per_token"] == pytest.approx(stats["words"] / stats["tokens"])
    stream = tokenize_split([corpus / "childes.train"], tokenizer, len(tokenizer)).tolist()
    for name in expected:
        lm = HFLM(pretrained=str(out / name), batch_size=2, device="cpu")
        # The token the trained model saw before every line is the one lm-eval conditions items on,
        # both for an empty context and as the first token of a context.
        _assert_each_line_follows(stream, encoded, lm.prefix_token_id, tokenizer.eos_token_id)
        assert lm.prefix_token_id == tokenizer.convert_tokens_to_ids("<s>")
        assert lm.tok_encode("where is the ball ?")[0] == lm.prefix_token_id
        assert lm.model.config.vocab_size == len(lm.tokenizer) and lm.tokenizer.eos_token_id == tokenizer.eos_token_id


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
    assert ids.dtype == np.int32 and stats.tokens == ids.size
    assert (ids == tokenizer.bos_token_id).sum() == 20 and (ids == tokenizer.eos_token_id).sum() == 20


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
    out = pretrain(PretrainConfig(corpus=corpus, output=tmp_path / "run", preset="llama-tiny", vocab_size=1000,
                                  block_size=64, batch_size=64, max_steps=360, warmup_steps=5, save="words"))
    stats = json.loads((out / "corpus_stats.json").read_text())
    words_per_step = stats["tokens_per_step"] * stats["words_per_token"]
    assert stats["words"] == 1_260_000
    assert list(stats["checkpoints"]) == ["chck_1M"]
    step = stats["checkpoints"]["chck_1M"]
    assert step * words_per_step >= 1_000_000 > (step - 1) * words_per_step
    lm = HFLM(pretrained=str(out / "chck_1M"), batch_size=2, device="cpu")  # the corpus's words fill 327 of 1000
    assert lm.model.config.vocab_size == len(lm.tokenizer)


def test_world_size_counts_in_tokens_per_step_steps_and_word_checkpoints(tmp_path, monkeypatch):
    """Under ``accelerate launch``/torchrun every process consumes a batch per step: 8 processes see 8x the
    words per step, so an epoch has 1/8 of the steps and chck_1M comes 8x earlier than one process counts."""
    from transformers import TrainingArguments

    monkeypatch.setattr(TrainingArguments, "world_size", property(lambda self: 8))
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "childes.train").write_text("\n".join(UTTERANCES * 30_000) + "\n")  # 1.26M words
    out = pretrain(PretrainConfig(corpus=corpus, output=tmp_path / "run", preset="llama-tiny", vocab_size=1000,
                                  block_size=64, batch_size=32, epochs=1, warmup_steps=5, save="words"))
    stats = json.loads((out / "corpus_stats.json").read_text())
    assert stats["tokens_per_step"] == 64 * 32 * 8
    blocks = stats["tokens"] // 64 - 1  # training blocks keep one block's room for the random offset
    assert stats["max_steps"] == blocks // (32 * 8)
    words_per_step = stats["tokens_per_step"] * stats["words_per_token"]
    assert stats["checkpoints"] == {"chck_1M": math.ceil(1_000_000 / words_per_step)}
    state = json.loads((out / "trainer_state" / f"checkpoint-{stats['max_steps']}" / "trainer_state.json").read_text())
    assert state["global_step"] == stats["max_steps"] and (out / "chck_1M" / "config.json").is_file()


def test_one_precision_policy_for_trainers_and_our_loops(monkeypatch):
    """CPU: full precision everywhere; CUDA: bf16 where supported, else fp16 for Trainer and fp32 for our own loop."""
    import contextlib

    from e2lm_bench.devices import autocast, trainer_precision

    assert trainer_precision("cpu") == {"bf16": False, "fp16": False}
    assert isinstance(autocast("cpu"), contextlib.nullcontext)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert trainer_precision("cuda") == {"bf16": True, "fp16": False}
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert trainer_precision("cuda") == {"bf16": False, "fp16": True}
    assert isinstance(autocast("cuda"), contextlib.nullcontext)


def _train_command(corpus, output, *extra):
    return ["train", str(corpus), "--output", str(output), "--preset", "llama-tiny", "--vocab-size", "300",
            "--block-size", "32", "--batch-size", "4", "--warmup-steps", "1", *extra]


@pytest.mark.parametrize("extra, message", [
    (["--max-steps", "0"], "--max-steps 0"),
    (["--epochs", "0"], "--epochs 0"),
    (["--max-steps", "0", "--teachers", "no-teacher-is-loaded"], "--max-steps 0"),  # distillation
])
def test_options_that_train_no_step_are_refused_before_any_work(tmp_path, capsys, extra, message):
    from e2lm_bench.cli import main

    corpus = _corpus(tmp_path / "c", lines=40)
    assert main(_train_command(corpus, tmp_path / "run", *extra)) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("lines", [1, 3])  # ~20 tokens: less than one block; ~60: less than a block plus the random offset's room
def test_a_corpus_without_a_training_block_names_the_file_and_the_numbers(tmp_path, capsys, lines):
    from e2lm_bench.cli import main

    corpus = _corpus(tmp_path / "c", lines=lines)
    assert main(_train_command(corpus, tmp_path / "run", "--max-steps", "2")) == 2
    err = capsys.readouterr().err
    assert not (tmp_path / "run").exists()
    assert len(err.strip().splitlines()) == 1 and "childes.train" in err and "--block-size 32" in err, err
    assert "64" in err  # one block of 32 plus a block's room for the random offset


def test_a_run_that_takes_no_optimizer_step_is_an_error(tmp_path, monkeypatch):
    from transformers import Trainer

    from e2lm_bench.errors import UserError

    monkeypatch.setattr(Trainer, "train", lambda self, *args, **kwargs: None)
    with pytest.raises(UserError, match="no optimizer step"):
        pretrain(PretrainConfig(corpus=_corpus(tmp_path / "c", lines=40), output=tmp_path / "run", preset="llama-tiny",
                                vocab_size=300, block_size=32, batch_size=4, max_steps=3, warmup_steps=1, save="log:2"))
