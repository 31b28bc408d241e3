"""Each named convention against an independent implementation: minicons (PyPI) and lm-eval's HFLM."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from minicons import scorer as minicons_scorer
from transformers import AutoModelForCausalLM, AutoTokenizer

from e2lm_bench.evaluation.conventions import LMScorer, PairScores, compare_conventions, pair_sources, task_pairs
from tests.conftest import DIALOGUE_ROWS, SENTENCES, SHARED_DATA

DIALOGUE_TEXTS = [row["prompt"] + " " + row[key] for row in DIALOGUE_ROWS for key in ("chosen", "rejected")]


def _load(path):
    return AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path)


def _minicons(model, tokenizer, texts, bow_correction):
    reference = minicons_scorer.IncrementalLMScorer(model, device="cpu", tokenizer=tokenizer)
    return np.array(
        reference.sequence_score(texts, reduction=lambda x: x.sum(0).item(), bow_correction=bow_correction)
    )


@pytest.mark.parametrize("model_fixture", ["llama_dir", "gpt2_dir"])
def test_minicons_convention_matches_minicons_per_sentence(request, model_fixture):
    model, tokenizer = _load(request.getfixturevalue(model_fixture))
    texts = SENTENCES + DIALOGUE_TEXTS
    ours = LMScorer(model, tokenizer, batch_size=5).candidate_logprobs(texts, convention="minicons")
    expected = _minicons(model, tokenizer, texts, bow_correction=True)
    np.testing.assert_allclose(ours, expected, atol=1e-4, rtol=0)
    # and the prefix form: prompt + " " + reply is scored as one text, as the seed did
    prompts = [row["prompt"] for row in DIALOGUE_ROWS]
    replies = [row["chosen"] for row in DIALOGUE_ROWS]
    joined = LMScorer(model, tokenizer).candidate_logprobs(replies, prompts, convention="minicons")
    np.testing.assert_allclose(joined, expected[len(SENTENCES) :: 2], atol=1e-4, rtol=0)


def test_word_correction_changes_scores(llama_dir):
    """Guards the test above: without the correction minicons gives other numbers."""
    model, tokenizer = _load(llama_dir)
    plain = _minicons(model, tokenizer, SENTENCES, bow_correction=False)
    ours = LMScorer(model, tokenizer).candidate_logprobs(SENTENCES, convention="minicons")
    assert np.abs(ours - plain).max() > 1e-2


@pytest.mark.parametrize("model_fixture", ["llama_dir", "gpt2_dir"])
def test_babylm_2025_scores_whole_sentences_without_correction(request, model_fixture):
    model, tokenizer = _load(request.getfixturevalue(model_fixture))
    ours = LMScorer(model, tokenizer).candidate_logprobs(SENTENCES, convention="babylm-2025")
    np.testing.assert_allclose(ours, _minicons(model, tokenizer, SENTENCES, bow_correction=False), atol=1e-4, rtol=0)


def test_babylm_2025_with_prefix_scores_only_the_candidate(llama_dir):
    model, tokenizer = _load(llama_dir)
    prompts = [row["prompt"] for row in DIALOGUE_ROWS]
    replies = [row["chosen"] for row in DIALOGUE_ROWS]
    scorer = LMScorer(model, tokenizer)
    candidate_only = scorer.candidate_logprobs(replies, prompts, convention="babylm-2025")
    whole = scorer.candidate_logprobs([p + " " + r for p, r in zip(prompts, replies)], convention="babylm-2025")
    # The joining space is its own token here ("Ġ" before "*CHI"): it belongs to the prompt's span.
    prompt_alone = scorer.candidate_logprobs([p + " " for p in prompts], convention="babylm-2025")
    np.testing.assert_allclose(candidate_only, whole - prompt_alone, atol=1e-4)


@pytest.mark.parametrize("model_fixture", ["llama_dir", "gpt2_dir"])
def test_lm_eval_convention_matches_hflm(request, model_fixture):
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    model, tokenizer = _load(request.getfixturevalue(model_fixture))
    contexts = [""] * len(SENTENCES) + [row["prompt"] for row in DIALOGUE_ROWS]
    continuations = SENTENCES + [row["chosen"] for row in DIALOGUE_ROWS]
    lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=4, device="cpu")
    requests = [
        Instance("loglikelihood", {}, (ctx, " " + cont), i) for i, (ctx, cont) in enumerate(zip(contexts, continuations))
    ]
    expected = np.array([ll for ll, _ in lm.loglikelihood(requests, disable_tqdm=True)])
    ours = LMScorer(model, tokenizer).candidate_logprobs(continuations, contexts, convention="lm-eval")
    np.testing.assert_allclose(ours, expected, atol=1e-4, rtol=0)


def test_tie_rules():
    tie = np.array([-3.0, -2.0])
    assert PairScores("minicons", tie, tie).accuracy == 0.0
    assert PairScores("lm-eval", tie, tie).accuracy == 1.0
    assert PairScores("babylm-2025", tie, tie).accuracy == 1.0
    np.testing.assert_array_equal(PairScores("lm-eval", np.array([1.0]), np.array([3.0])).margin, [-2.0])


def test_unknown_convention_is_refused(llama_dir):
    model, tokenizer = _load(llama_dir)
    with pytest.raises(ValueError, match="unknown convention 'blimp'"):
        LMScorer(model, tokenizer).candidate_logprobs(["a ."], convention="blimp")


def test_compare_conventions_reports_every_convention(llama_dir, use_data_dir):
    model, tokenizer = _load(llama_dir)
    scorer = LMScorer(model, tokenizer)
    subtasks = task_pairs("dialogue_minpairs_words")
    table = compare_conventions(scorer, subtasks)
    assert set(table) == {"lm-eval", "minicons", "babylm-2025"}
    prefixes, good, bad = subtasks["dialogue_minpairs_words"]
    for convention, row in table.items():
        scores = scorer.score_pairs(good, bad, prefixes, convention=convention)
        assert row == {"acc": scores.accuracy, "margin": pytest.approx(float(scores.margin.mean()), abs=1e-12)}


def test_pair_sources_name_the_data_folder_or_the_public_dataset(monkeypatch, data_dir):
    monkeypatch.setenv("E2LM_DATA_DIR", "")
    assert pair_sources("dialogue_minpairs_tokens") == {"dialogue_minpairs_tokens": "Hub dataset fpadovani/dialogue_eval_tokens"}
    assert pair_sources("lexical_decision") == {"lexical_decision": "Hub dataset bbunzeck/lexical-decision"}
    zorro = pair_sources("zorro")
    assert len(zorro) == 23 and zorro["zorro_ellipsis_n_bar"].endswith("/test_suites/zorro/ellipsis-n_bar.txt")
    monkeypatch.setenv("E2LM_DATA_DIR", str(data_dir))
    assert set(pair_sources("zorro").values()) == {f"data folder {data_dir}"}


@pytest.mark.parametrize("dtype, expected", [("bfloat16", torch.bfloat16), ("float32", torch.float32)])
def test_from_pretrained_places_the_model_on_the_device_in_the_dtype(llama_dir, dtype, expected):
    scorer = LMScorer.from_pretrained(str(llama_dir), device="cpu", dtype=dtype, attn_implementation="eager")
    assert {(p.device.type, p.dtype) for p in scorer.model.parameters()} == {("cpu", expected)}
    assert scorer.model.config._attn_implementation == "eager"
    assert np.isfinite(scorer.candidate_logprobs(SENTENCES[:2])).all()


def test_from_pretrained_refuses_an_unknown_dtype(llama_dir):
    with pytest.raises(ValueError, match="dtype 'float8': expected one of auto, bfloat16, float16, float32"):
        LMScorer.from_pretrained(str(llama_dir), device="cpu", dtype="float8")


@pytest.mark.skipif(not (SHARED_DATA / "dialogue_minpairs").is_dir(), reason="../shared/data is absent")
@pytest.mark.parametrize("model_fixture", ["llama_dir", "gpt2_dir"])
def test_minicons_agreement_on_shared_dialogue_pairs(request, model_fixture):
    """Acceptance: the seed convention equals minicons per sentence on real dialogue pairs (a sample)."""
    rows = [json.loads(line) for line in open(SHARED_DATA / "dialogue_minpairs" / "dialogue_eval_words.jsonl")]
    rows = rows[::150]  # ~50 rows spread over the file
    texts = [r["prompt"] + " " + r[key] for r in rows for key in ("chosen", "rejected")]
    model, tokenizer = _load(request.getfixturevalue(model_fixture))
    ours = LMScorer(model, tokenizer, batch_size=16).candidate_logprobs(texts, convention="minicons")
    np.testing.assert_allclose(ours, _minicons(model, tokenizer, texts, bow_correction=True), atol=1e-4, rtol=0)
