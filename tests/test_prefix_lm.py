"""``hf-prefix`` gives lm-eval's ``hf`` log-likelihoods, in request order, while running each shared context once."""

from __future__ import annotations

import functools
import json
import logging

import pytest
import torch
from lm_eval.models.huggingface import HFLM

from e2lm_bench.evaluation.harness import task_requests
from e2lm_bench.evaluation.prefix_lm import PrefixHFLM, PrefixSharingMixin
from e2lm_bench.evaluation.series_lm import SeriesLM
from e2lm_bench.taskdata.sample import SAMPLE_DATA_DIR
from tests.conftest import SENTENCES

MODELS = ["llama_dir", "gpt2_dir"]
OUR_TASKS = ["dialogue_minpairs_words", "dialogue_minpairs_tokens", "lexical_decision", "early_science",
             "zorro_agreement_determiner_noun_between_neighbors", "zorro_irregular_verb"]
CHOICES = [" yes", " the dog", " a mouse chase the cats", " where is the ball ?"]


class PrefixSeriesLM(PrefixSharingMixin, SeriesLM):
    """How the checkpoint runner would combine the two."""


def write_mc_task(root):
    """A 5-shot, 4-choice task with lm-eval's default random sampler: every item has its own context."""
    root.mkdir(parents=True, exist_ok=True)
    for split, sentences in (("train", SENTENCES[:12]), ("test", SENTENCES[12:])):
        with open(root / f"{split}.jsonl", "w") as f:
            f.writelines(json.dumps({"question": s, "label": i % 4}) + "\n" for i, s in enumerate(sentences))
    (root / "mc4.yaml").write_text(
        f"task: mc4\ndataset_path: json\n"
        f"dataset_kwargs:\n  data_files:\n    train: {root / 'train.jsonl'}\n    test: {root / 'test.jsonl'}\n"
        "training_split: train\ntest_split: test\noutput_type: multiple_choice\nnum_fewshot: 5\n"
        f"doc_to_text: \"Q: {{{{question}}}}\\nA:\"\ndoc_to_choice: {json.dumps(CHOICES)}\n"
        "doc_to_target: label\nmetric_list:\n  - metric: acc\nmetadata:\n  version: 1.0\n"
    )
    return root


@pytest.fixture(scope="module")
def our_requests():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("E2LM_DATA_DIR", str(SAMPLE_DATA_DIR))
        return task_requests(OUR_TASKS, limit=6)


@pytest.fixture(scope="module")
def mc_requests(tmp_path_factory):
    return task_requests(["mc4"], include_path=str(write_mc_task(tmp_path_factory.mktemp("mc4"))))


@pytest.fixture(scope="module")
def models(request):
    """(hf, hf-prefix) for a model folder and max_length, built once."""
    built = {}

    def get(fixture, max_length=None, cls=PrefixHFLM):
        key = (fixture, max_length, cls)
        if key not in built:
            kwargs = dict(pretrained=str(request.getfixturevalue(fixture)), batch_size=8, device="cpu")
            kwargs.update({"max_length": max_length} if max_length else {})
            built[key] = HFLM(**kwargs), cls(**kwargs)
        return built[key]

    return get


@pytest.fixture
def plain_counts(monkeypatch):
    """How many requests the prefix model handed to HFLM's own path."""
    counts = []
    original = HFLM._loglikelihood_tokens

    def spy(self, requests, *args, **kwargs):
        if isinstance(self, PrefixSharingMixin):
            counts.append(len(requests))
        return original(self, requests, *args, **kwargs)

    monkeypatch.setattr(HFLM, "_loglikelihood_tokens", spy)
    return counts


def assert_same(reference, ours):
    assert len(ours) == len(reference)
    assert [ll for ll, _ in ours] == pytest.approx([ll for ll, _ in reference], abs=1e-4)
    assert [greedy for _, greedy in ours] == [greedy for _, greedy in reference]


@pytest.mark.parametrize("model", MODELS)
def test_our_tasks_equal_hf(models, model, our_requests, plain_counts):
    """(a) dialogue, lexical decision, early_science (5-shot) and Zorro on the sample data, in request order."""
    hf, prefix = models(model)
    assert_same(hf.loglikelihood(our_requests, disable_tqdm=True), prefix.loglikelihood(our_requests, disable_tqdm=True))
    context_free = sum(r.args[0] == "" for r in our_requests)
    dialogue = sum(r.task_name.startswith("dialogue") for r in our_requests)
    assert 0 < context_free <= sum(plain_counts) <= len(our_requests) - dialogue  # at least every dialogue was shared


@pytest.mark.parametrize("model", MODELS)
def test_fewshot_multiple_choice_equals_hf(models, model, mc_requests, plain_counts, monkeypatch):
    """(b) 5-shot, 4 choices, random sampler: per item, the four choices come from one context pass; each answer
    also reaches lm-eval's cache hook, as HFLM hands it over."""
    hf, prefix = models(model)
    hooked = {}
    monkeypatch.setattr(prefix.cache_hook, "add_partial", lambda kind, args, answer: hooked.setdefault(args, (kind, answer)))
    assert all(r.args[0].count("A:") == 6 for r in mc_requests)
    answers = prefix.loglikelihood(mc_requests, disable_tqdm=True)
    assert_same(hf.loglikelihood(mc_requests, disable_tqdm=True), answers)
    assert sum(plain_counts) == 0
    assert hooked == {r.args: ("loglikelihood", answer) for r, answer in zip(mc_requests, answers)}


@pytest.mark.parametrize("model", MODELS)
def test_truncated_contexts_equal_hf(models, model, mc_requests, our_requests, plain_counts):
    """(c) max_length 32 cuts the contexts from the left, by a different amount per continuation length."""
    hf, prefix = models(model, max_length=32)
    requests = mc_requests + [r for r in our_requests if r.task_name == "early_science"]
    assert_same(hf.loglikelihood(requests, disable_tqdm=True), prefix.loglikelihood(requests, disable_tqdm=True))
    encoded = [prefix._encode_pair(*r.args) for r in requests]
    assert sum(len(c) + len(x) > 33 for c, x in encoded) == len(requests)
    assert sum(plain_counts) < len(requests)


@pytest.mark.parametrize("model", MODELS)
def test_context_free_requests_equal_hf_on_both_paths(models, model, our_requests, plain_counts):
    """Empty contexts become lm-eval's prefix token: too short to cache by default, still exact when cached."""
    hf, prefix = models(model)
    zorro = [r for r in our_requests if r.task_name.startswith("zorro")]
    reference = hf.loglikelihood(zorro, disable_tqdm=True)
    assert_same(reference, prefix.loglikelihood(zorro, disable_tqdm=True))
    assert plain_counts == [len(zorro)]
    prefix.min_shared_context = 1
    try:
        assert_same(reference, prefix.loglikelihood(zorro, disable_tqdm=True))
    finally:
        del prefix.min_shared_context
    assert plain_counts == [len(zorro)]


@pytest.mark.parametrize("model", MODELS)
def test_greedy_continuations_flagged_like_hf(models, model):
    """is_greedy on continuations that are the model's own argmax (and one that is not), at the token level."""
    import torch

    hf, prefix = models(model)
    context = hf.tok_encode(" ".join(SENTENCES[:3]))
    tokens = list(context)
    with torch.no_grad():
        for _ in range(4):
            tokens.append(int(hf.model(torch.tensor([tokens])).logits[0, -1].argmax()))
    greedy = tokens[len(context):]
    requests = [((None, None), context, greedy[:n]) for n in (1, 2, 4)] + [((None, None), context, [greedy[0], 5])]
    reference = hf._loglikelihood_tokens(requests, disable_tqdm=True)
    assert [g for _, g in reference] == [True, True, True, False]
    assert_same(reference, prefix._loglikelihood_tokens(requests, disable_tqdm=True))


def test_falls_back_without_usable_cache(models, mc_requests, plain_counts, monkeypatch):
    """A forward that takes no cache, and contexts with a single continuation, go through HFLM unchanged."""
    hf, prefix = models("llama_dir", cls=type("Uncached", (PrefixHFLM,), {}))
    reference = hf.loglikelihood(mc_requests, disable_tqdm=True)
    one_each = [r for i, r in enumerate(mc_requests) if i % len(CHOICES) == 0]
    assert_same([reference[i] for i in range(0, len(mc_requests), len(CHOICES))],
                prefix.loglikelihood(one_each, disable_tqdm=True))
    assert plain_counts == [len(one_each)]
    original = prefix.model.forward
    monkeypatch.setattr(prefix.model, "forward", lambda input_ids, attention_mask=None, **kw: original(input_ids, **kw))
    prefix.__dict__.pop("_cache_argument", None)
    assert prefix._cache_argument is None
    assert_same(reference, prefix.loglikelihood(mc_requests, disable_tqdm=True))
    assert plain_counts[-1] == len(mc_requests)


def notes(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == "e2lm_bench.evaluation.prefix_lm"]


@pytest.mark.parametrize("error", [KeyError, AttributeError])
def test_probe_errors_fall_back_with_one_note(models, mc_requests, plain_counts, monkeypatch, caplog, error):
    """Any exception from the cache probe means HFLM's path, noted once per model with its class and the error."""
    from transformers.cache_utils import Cache

    hf, prefix = models("llama_dir", cls=type(f"Raising{error.__name__}", (PrefixHFLM,), {}))
    original = prefix.model.forward

    @functools.wraps(original)
    def forward(*args, **kwargs):
        if any(isinstance(value, Cache) for value in kwargs.values()):
            raise error("layer_types")
        return original(*args, **kwargs)

    monkeypatch.setattr(prefix.model, "forward", forward)
    with caplog.at_level(logging.WARNING):
        answers = prefix.loglikelihood(mc_requests, disable_tqdm=True)
        prefix.loglikelihood(mc_requests[:4], disable_tqdm=True)
    assert_same(hf.loglikelihood(mc_requests, disable_tqdm=True), answers)
    assert plain_counts == [len(mc_requests), 4]
    [note] = notes(caplog)
    assert "LlamaForCausalLM" in note and error.__name__ in note


def test_a_forward_that_indexes_with_logits_to_keep_falls_back(models, mc_requests, plain_counts, monkeypatch, caplog):
    """transformers before 5.21 index the hidden states with a logits_to_keep tensor, giving (B, B, 1, V) logits: the
    probe sees it, and HFLM's path scores every request instead of the shared path failing on the shapes."""
    hf, prefix = models("llama_dir", cls=type("IndexingLogitsToKeep", (PrefixHFLM,), {}))
    original = prefix.model.forward

    @functools.wraps(original)
    def forward(*args, logits_to_keep=0, **kwargs):
        out = original(*args, logits_to_keep=0, **kwargs)
        if isinstance(logits_to_keep, torch.Tensor):
            out.logits = out.logits[:, logits_to_keep]
        return out

    monkeypatch.setattr(prefix.model, "forward", forward)
    with caplog.at_level(logging.WARNING):
        answers = prefix.loglikelihood(mc_requests, disable_tqdm=True)
    assert_same(hf.loglikelihood(mc_requests, disable_tqdm=True), answers)
    assert plain_counts == [len(mc_requests)]
    [note] = notes(caplog)
    assert "does not read logits_to_keep as positions" in note


@pytest.mark.parametrize("spread", ["hf_device_map", "parameters"])
def test_model_over_several_devices_takes_hf_path(models, mc_requests, plain_counts, monkeypatch, caplog, spread):
    """parallelize=True or a device_map over several devices (faked: the map, or the parameters' devices) would spread
    the cache rows too: HFLM's path, with a note."""
    import torch

    hf, prefix = models("llama_dir", cls=type(f"Spread{spread}", (PrefixHFLM,), {}))
    if spread == "hf_device_map":
        monkeypatch.setattr(prefix.model, "hf_device_map", {"model.layers.0": "cpu", "model.layers.1": "meta"},
                            raising=False)
    else:
        placed = [torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1, device="meta"))]
        monkeypatch.setattr(prefix.model, "parameters", lambda recurse=True: iter(placed))
    with caplog.at_level(logging.WARNING):
        answers = prefix.loglikelihood(mc_requests, disable_tqdm=True)
    assert_same(hf.loglikelihood(mc_requests, disable_tqdm=True), answers)
    assert plain_counts == [len(mc_requests)]
    [note] = notes(caplog)
    assert "LlamaForCausalLM" in note and "several devices" in note


def test_auto_batch_size_sizes_the_path_that_runs(models, llama_dir, mc_requests, our_requests, monkeypatch):
    """--batch_size auto: the shared path is sized for its own shapes (longest context, widest continuation input),
    the requests it hands to HFLM by HFLM's own detection; on CPU the shared path keeps the cap."""
    hf, _ = models("llama_dir")
    prefix = PrefixHFLM(pretrained=str(llama_dir), batch_size="auto", device="cpu")
    assert prefix._detect_shared_batch_size(40, 3) == prefix.max_batch_size
    shared_shapes, hf_requests, chunks = [], [], []
    monkeypatch.setattr(prefix, "_detect_shared_batch_size", lambda *shape: shared_shapes.append(shape) or 3)
    monkeypatch.setattr(HFLM, "_detect_batch_size", lambda self, requests=None, pos=0: hf_requests.append(requests[pos]) or 5)
    encode = prefix._encode_contexts
    monkeypatch.setattr(prefix, "_encode_contexts", lambda contexts: chunks.append(len(contexts)) or encode(contexts))
    zorro = [r for r in our_requests if r.task_name.startswith("zorro")]
    requests = mc_requests + zorro
    assert_same(hf.loglikelihood(requests, disable_tqdm=True), prefix.loglikelihood(requests, disable_tqdm=True))
    encoded = [prefix._encode_pair(*r.args) for r in mc_requests]
    assert shared_shapes == [(max(len(c) for c, _ in encoded), max(len(x) for _, x in encoded) - 1)]
    assert sum(chunks) == len(mc_requests) // len(CHOICES) and max(chunks) == prefix._contexts_per_batch(3)
    assert hf_requests and {r[0] for r in hf_requests} <= {r.args for r in zorro}


def test_auto_trial_runs_the_shared_shapes(models, monkeypatch):
    """The OOM trial of "auto" runs what the shared path runs at that batch size: its share of contexts, then a full
    batch of continuations against their cache."""
    _, prefix = models("llama_dir")
    contexts = prefix._contexts_per_batch(8)  # probes the model first
    shapes = []
    original = prefix.model.forward

    @functools.wraps(original)
    def recording(*args, **kwargs):
        shapes.append(tuple(kwargs["input_ids"].shape))
        return original(*args, **kwargs)

    monkeypatch.setattr(prefix.model, "forward", recording)
    assert prefix._try_shared_batch(8, 30, 3) == 8
    assert shapes == [(contexts, 30), (8, 3)]


def test_bf16_no_further_from_float32_than_hf(tmp_path, tokenizer_bos):
    """In bf16, hf-prefix is no further from float32 hf than bf16 hf (4-layer Llama, 5-shot early_science). Its
    log-softmax runs in float32 on the rows it needs: measured max 0.0049, mean 0.0017 against hf's 0.17, 0.042; in
    bf16 it would equal hf's, which the second check catches."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer_bos), hidden_size=64, intermediate_size=128, num_hidden_layers=4,
                         num_attention_heads=4, max_position_embeddings=1024, tie_word_embeddings=False,
                         bos_token_id=tokenizer_bos.bos_token_id, eos_token_id=tokenizer_bos.eos_token_id)
    LlamaForCausalLM(config).save_pretrained(tmp_path)
    tokenizer_bos.save_pretrained(tmp_path)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("E2LM_DATA_DIR", str(SAMPLE_DATA_DIR))
        requests = task_requests(["early_science"], limit=20)
    common = dict(pretrained=str(tmp_path), batch_size=8, device="cpu")
    reference = HFLM(dtype="float32", **common).loglikelihood(requests, disable_tqdm=True)
    errors = {}
    for cls in (HFLM, PrefixHFLM):
        answers = cls(dtype="bfloat16", **common).loglikelihood(requests, disable_tqdm=True)
        gaps = [abs(ours - theirs) for (ours, _), (theirs, _) in zip(answers, reference, strict=True)]
        errors[cls.__name__] = (max(gaps), sum(gaps) / len(gaps))
    print(f"bf16 against float32 (max, mean): {errors}")
    (hf_max, hf_mean), (prefix_max, prefix_mean) = errors["HFLM"], errors["PrefixHFLM"]
    assert prefix_max <= hf_max and prefix_mean <= hf_mean
    assert prefix_max <= hf_max / 4 and prefix_mean <= hf_mean / 4


def test_sliding_window_model_falls_back(tmp_path, tokenizer_bos, mc_requests):
    """A sliding-window cache cannot hold padding between context and continuation: such models keep HFLM's path."""
    import torch
    from transformers import MistralConfig, MistralForCausalLM

    torch.manual_seed(3)
    config = MistralConfig(vocab_size=len(tokenizer_bos), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                           num_attention_heads=4, num_key_value_heads=2, sliding_window=16, max_position_embeddings=256,
                           bos_token_id=tokenizer_bos.bos_token_id, eos_token_id=tokenizer_bos.eos_token_id)
    MistralForCausalLM(config).save_pretrained(tmp_path)
    tokenizer_bos.save_pretrained(tmp_path)
    prefix = PrefixHFLM(pretrained=str(tmp_path), batch_size=8, device="cpu")
    assert prefix._cache_argument is None
    hf = HFLM(pretrained=str(tmp_path), batch_size=8, device="cpu")
    assert_same(hf.loglikelihood(mc_requests, disable_tqdm=True), prefix.loglikelihood(mc_requests, disable_tqdm=True))


def test_runs_fewer_tokens_than_hf(models, mc_requests, monkeypatch):
    """The point of it: on a 5-shot task, far fewer tokens reach the model than with hf."""
    counted = {}
    for lm in models("llama_dir"):
        original = lm.model.forward
        tokens = counted.setdefault(type(lm).__name__, [])

        @functools.wraps(original)
        def counting(*args, _original=original, _tokens=tokens, **kwargs):
            _tokens.append(kwargs.get("input_ids", args[0] if args else None).numel())
            return _original(*args, **kwargs)

        monkeypatch.setattr(lm.model, "forward", counting)
        lm.__dict__.pop("_cache_argument", None)
        lm.loglikelihood(mc_requests, disable_tqdm=True)
    hf_tokens, prefix_tokens = sum(counted["HFLM"]), sum(counted["PrefixHFLM"])
    print(f"tokens run: hf {hf_tokens}, hf-prefix {prefix_tokens}")
    assert prefix_tokens < 0.5 * hf_tokens


def test_combines_with_series_lm(models, llama_dir, mc_requests, our_requests):
    """PrefixSeriesLM keeps SeriesLM's memoised tokenisation and scores like hf."""
    hf, series = models("llama_dir", cls=functools.partial(PrefixSeriesLM, encoded={}))
    requests = mc_requests + [r for r in our_requests if r.task_name.startswith(("dialogue", "zorro"))]
    assert_same(hf.loglikelihood(requests, disable_tqdm=True), series.loglikelihood(requests, disable_tqdm=True))
    assert len(series._encoded) == len({r.args for r in requests})


def test_e2lm_bench_eval_finds_hf_prefix(llama_dir, tmp_path, monkeypatch):
    """`e2lm-bench eval --model hf-prefix` (batch size auto) runs our tasks, registered through the harness."""
    import lm_eval.tasks
    from lm_eval.api.registry import get_model

    from e2lm_bench.cli import main

    monkeypatch.setattr(lm_eval.tasks, "TaskManager", lm_eval.tasks.TaskManager)
    monkeypatch.setenv("E2LM_DATA_DIR", str(SAMPLE_DATA_DIR))
    assert get_model("hf-prefix") is PrefixHFLM and get_model("hf") is HFLM
    out = tmp_path / "out"
    assert main(["eval", "--model", "hf-prefix", "--model_args", f"pretrained={llama_dir}", "--tasks",
                 "dialogue_minpairs_words", "--limit", "4", "--output_path", str(out), "--device", "cpu"]) == 0
    results = json.loads(next(out.rglob("results_*.json")).read_text())
    assert "margin,none" in results["results"]["dialogue_minpairs_words"]
