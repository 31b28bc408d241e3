"""``hf-prefix`` gives lm-eval's ``hf`` log-likelihoods, in request order, while running each shared context once."""

from __future__ import annotations

import functools
import json
import logging
from pathlib import Path

import pytest
import torch
from lm_eval.models.huggingface import HFLM

from e2lm_bench.evaluation.harness import task_requests
from e2lm_bench.evaluation.prefix_lm import PrefixHFLM, PrefixSharingMixin
from e2lm_bench.evaluation.prefix_plan import (
    HELD_PREFIXES,
    common_length,
    group_contexts,
    hf_tokens,
    prefix_tokens,
    shared_chunks,
    token_requests,
    trie_floor,
    window,
)
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
    return _write_json_mc_task(root, "mc4", train=12, extra="num_fewshot: 5\n")


def _write_json_mc_task(root, name: str, train: int, extra: str):
    """A 4-choice task on the test sentences, its few-shot examples from the first ``train``; ``extra``: YAML lines."""
    root.mkdir(parents=True, exist_ok=True)
    for split, sentences in (("train", SENTENCES[:train]), ("test", SENTENCES[train:])):
        with open(root / f"{split}.jsonl", "w") as f:
            f.writelines(json.dumps({"question": s, "label": i % 4}) + "\n" for i, s in enumerate(sentences))
    (root / f"{name}.yaml").write_text(
        f"task: {name}\ndataset_path: json\n"
        f"dataset_kwargs:\n  data_files:\n    train: {root / 'train.jsonl'}\n    test: {root / 'test.jsonl'}\n"
        "training_split: train\ntest_split: test\noutput_type: multiple_choice\n" + extra +
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
    monkeypatch.setattr(prefix, "_encode_contexts", lambda contexts, *rest: chunks.append(contexts) or encode(contexts, *rest))
    zorro = [r for r in our_requests if r.task_name.startswith("zorro")]
    requests = mc_requests + zorro
    assert_same(hf.loglikelihood(requests, disable_tqdm=True), prefix.loglikelihood(requests, disable_tqdm=True))
    encoded = [prefix._encode_pair(*r.args) for r in mc_requests]
    assert shared_shapes == [(max(len(c) for c, _ in encoded), max(len(x) for _, x in encoded) - 1)]
    contexts = {tuple(c) for c, _ in encoded}
    chunks = [len(chunk) for chunk in chunks if set(chunk) <= contexts]  # not the shared prefixes' own runs
    assert sum(chunks) == len(contexts) == len(mc_requests) // len(CHOICES)
    assert max(chunks) == prefix._contexts_per_batch(3)
    assert hf_requests and {r[0] for r in hf_requests} <= {r.args for r in zorro}


def test_auto_trial_runs_the_shared_shapes(models, monkeypatch):
    """The OOM trial of "auto" holds at least what the shared path holds at that batch size: the held prefixes'
    caches, its share of contexts run whole, then a full batch of continuations against their cache."""
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
    assert shapes == [(HELD_PREFIXES, 30), (contexts, 30), (8, 3)]


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


# Three levels: a prefix shared by a chunk of contexts (a few-shot preamble) run once, each context's rest, then its
# continuations. The tiny models get 1024 positions, so that 5-shot prompts (about 300 tokens of the tests' small
# vocabulary) fit whole and keep their shared preamble; lm-eval's left cut of a longer request is tested apart.

MMLU_ROWS = [  # lm-eval's e2lmc/mmlu_early_training reads the MMLU format: question, subject, choices, answer
    ("biology", "Which organ pumps blood around the body?", ["the heart", "the liver", "the lungs", "the skin"], 0),
    ("biology", "Which part of a plant takes in water?", ["the leaf", "the root", "the flower", "the seed"], 1),
    ("physics", "What pulls a dropped ball to the ground?", ["light", "sound", "gravity", "heat"], 2),
    ("physics", "What do we call a push or a pull?", ["a mass", "a wave", "a charge", "a force"], 3),
]


def write_mmlu_early_training(root):
    """lm-eval's own ``e2lmc/mmlu_early_training`` task (5-shot first_n, a description naming each item's subject),
    included from lm-eval's folder, its Hub dataset replaced by local files in the same format."""
    import lm_eval

    root.mkdir(parents=True, exist_ok=True)
    rows = [dict(zip(("subject", "question", "choices", "answer"), row, strict=True)) for row in MMLU_ROWS]
    for split, copies in (("dev", 2), ("test", 4)):
        with open(root / f"{split}.jsonl", "w") as f:
            for n in range(copies):
                f.writelines(json.dumps({**row, "question": f"{row['question']} ({split} {n})"}) + "\n" for row in rows)
    definition = Path(lm_eval.__file__).parent / "tasks" / "e2lmc" / "mmlu_early_training" / "mmlu_early_training.yaml"
    (root / "mmlu_early_training_local.yaml").write_text(
        f"include: {definition}\ntask: mmlu_early_training_local\ndataset_path: json\n"
        f"dataset_kwargs:\n  data_files:\n    dev: {root / 'dev.jsonl'}\n    test: {root / 'test.jsonl'}\n"
    )
    return root


def write_random_fewshot_task(root):
    """3-shot with lm-eval's default (random) sampler after a description: contexts share the description, some the
    first example too, and no more."""
    return _write_json_mc_task(root, "random3", train=8, extra=(
        "num_fewshot: 3\nfewshot_config:\n  sampler: default\n"
        "description: \"Here are some things children say, each with a reply.\\n\\n\"\n"))


def with_positions(source, target, positions: int = 1024):
    """A seeded copy of a tiny model folder's architecture with more positions."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    config = AutoConfig.from_pretrained(source)
    setattr(config, "n_positions" if config.model_type == "gpt2" else "max_position_embeddings", positions)
    torch.manual_seed(5)
    AutoModelForCausalLM.from_config(config).save_pretrained(target)
    AutoTokenizer.from_pretrained(source).save_pretrained(target)
    return target


@pytest.fixture(scope="module")
def llama_long_dir(llama_dir, tmp_path_factory):
    return with_positions(llama_dir, tmp_path_factory.mktemp("llama_long"))


@pytest.fixture(scope="module")
def gpt2_long_dir(gpt2_dir, tmp_path_factory):
    return with_positions(gpt2_dir, tmp_path_factory.mktemp("gpt2_long"))


LONG_MODELS = ["llama_long_dir", "gpt2_long_dir"]
FEWSHOT_TASKS = ["early_science", "mmlu_early_training", "random_fewshot"]


@pytest.fixture(scope="module")
def fewshot_requests(tmp_path_factory):
    root = tmp_path_factory.mktemp("fewshot")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("E2LM_DATA_DIR", str(SAMPLE_DATA_DIR))
        early = task_requests(["early_science"], limit=12)
    return {"early_science": early,
            "mmlu_early_training": task_requests(["mmlu_early_training_local"],
                                                 include_path=str(write_mmlu_early_training(root / "mmlu"))),
            "random_fewshot": task_requests(["random3"], include_path=str(write_random_fewshot_task(root / "random3")))}


def plan(lm, requests) -> list:
    """The chunks hf-prefix runs these requests' shared contexts in, at its batch size."""
    shared, _ = group_contexts(token_requests(lm, requests), lm.max_length, lm.min_shared_context)
    return list(shared_chunks(shared, lm._contexts_per_batch(lm.batch_size), lm.min_shared_prefix))


@pytest.mark.parametrize("task", FEWSHOT_TASKS)
@pytest.mark.parametrize("model", LONG_MODELS)
def test_shared_prefixes_equal_hf(models, model, task, fewshot_requests, plain_counts, monkeypatch):
    """5-shot first_n early_science, lm-eval's mmlu_early_training on local data, a 3-shot random-sampler task: a
    prefix runs once for a chunk, held prefixes start the next chunks', and every answer is hf's, in request order,
    each handed to the cache hook."""
    hf, prefix = models(model)
    requests = fewshot_requests[task]
    chunks = plan(prefix, requests)
    assert len(chunks) > 1 and all(chunk.prefix for chunk in chunks)
    assert any(0 < chunk.reused for chunk in chunks)
    contexts = [context for chunk in chunks for context in chunk.contexts]
    preamble = min(common_length(contexts[0], context) for context in contexts)  # what every context shares
    assert preamble >= prefix.min_shared_prefix
    assert all(chunk.reused >= preamble for chunk in chunks[1:])  # it runs once: later prefixes start from a held one
    hooked = {}
    monkeypatch.setattr(prefix.cache_hook, "add_partial", lambda kind, args, answer: hooked.setdefault(args, answer))
    answers = prefix.loglikelihood(requests, disable_tqdm=True)
    assert_same(hf.loglikelihood(requests, disable_tqdm=True), answers)
    assert sum(plain_counts) == 0
    assert hooked == {r.args: answer for r, answer in zip(requests, answers)}


@pytest.mark.parametrize("model", LONG_MODELS)
def test_shared_prefixes_under_truncation_equal_hf(models, model, fewshot_requests, plain_counts):
    """max_length between the requests' lengths: the longer are cut from the left, each by its own amount (sharing a
    prefix only with those cut alike), the others keep their preamble. Every answer is hf's."""
    requests = fewshot_requests["early_science"] + fewshot_requests["mmlu_early_training"]
    hf, _ = models(model)
    encoded = token_requests(hf, requests)
    lengths = sorted(len(c) + len(x) - 1 for _, c, x in encoded)
    hf, prefix = models(model, max_length=lengths[len(lengths) // 2])
    cut = sum(len(c) + len(x) > prefix.max_length + 1 for _, c, x in encoded)
    assert 0 < cut < len(requests)
    assert any(chunk.prefix for chunk in plan(prefix, requests))
    assert_same(hf.loglikelihood(requests, disable_tqdm=True), prefix.loglikelihood(requests, disable_tqdm=True))
    assert sum(plain_counts) < len(requests)


def test_counted_tokens_are_the_tokens_run(models, fewshot_requests, our_requests, monkeypatch):
    """prefix_plan's counts are what reaches the forward, padding left out: hf-prefix's own forwards (the new tokens of
    their attention masks) and those of hf's path (its inputs before padding), and hf's alone; the trie floor is
    below them all."""
    import lm_eval.models.huggingface as huggingface

    requests = [r for task in FEWSHOT_TASKS for r in fewshot_requests[task]]
    requests += [r for r in our_requests if r.task_name.startswith(("zorro", "dialogue"))]
    hf, prefix = models("llama_long_dir")
    per_batch = prefix._contexts_per_batch(prefix.batch_size)  # its probes run before the counting
    ran = {"forward": 0, "hf": 0}
    original_forward, original_pad = prefix.model.forward, huggingface.pad_and_concat

    @functools.wraps(original_forward)
    def forward(*args, attention_mask=None, **kwargs):
        if attention_mask is not None and attention_mask.dim() == 2:
            ran["forward"] += int(attention_mask[:, -kwargs["input_ids"].shape[1] :].sum())
        return original_forward(*args, attention_mask=attention_mask, **kwargs)

    def pad_and_concat(max_length, tensors, *args, **kwargs):
        ran["hf"] += sum(len(t) for t in tensors)
        return original_pad(max_length, tensors, *args, **kwargs)

    monkeypatch.setattr(prefix.model, "forward", forward)
    monkeypatch.setattr(huggingface, "pad_and_concat", pad_and_concat)
    encoded = token_requests(hf, requests)
    prefix.loglikelihood(requests, disable_tqdm=True)
    three = prefix_tokens(encoded, prefix.max_length, prefix.min_shared_context, per_batch, prefix.min_shared_prefix)
    assert ran["forward"] + ran["hf"] == three
    ran["hf"] = 0
    hf.loglikelihood(requests, disable_tqdm=True)
    assert ran["hf"] == hf_tokens(encoded, hf.max_length)
    two = prefix_tokens(encoded, prefix.max_length, prefix.min_shared_context, per_batch, None)
    floor = trie_floor(encoded, hf.max_length)
    print(f"tokens run: hf {ran['hf']}, hf-prefix in two levels {two}, in three {three}; trie floor {floor}")
    assert floor <= three < 0.5 * two < 0.5 * ran["hf"]


def test_token_counts_by_hand():
    """The counts on requests small enough to count by hand; max_length 5 keeps the last 6 tokens of a request."""
    requests = [(None, [1, 2, 3], [4]), (None, [1, 2, 3], [5]), (None, [1, 2, 9], [4, 4]), (None, [7, 1, 2, 3, 4, 5], [6])]
    assert window(*requests[3][1:], 5) == [1, 2, 3, 4, 5, 6]
    assert trie_floor(requests, 5) == 7  # inputs 123, 123, 1294, 12345: nodes 1 2 3, 9 4, 4 5
    assert hf_tokens(requests, 5) == 3 + 4 + 5  # 123 once: its one-token continuations share it
    assert hf_tokens(requests, 5, logits_cache=False) == 3 + 3 + 4 + 5
    shared, plain = group_contexts(requests, 5, 3)
    assert shared == {(1, 2, 3): [0, 1]} and plain == [2, 3]
    assert prefix_tokens(requests, 5, 3, 8, None) == 3 + (4 + 5)  # 123 run once, the others as hf runs them
    assert prefix_tokens(requests, 5, 3, 8, 2) == 2 + 1 + (4 + 5)  # 12 as a prefix, then 3


def test_a_preamble_every_chunk_shares_runs_once():
    """Contexts of one preamble and different questions, three to a chunk: the preamble runs in the first chunk's
    prefix only, later chunks start from the held one; a chunk ends early where its prefix would shrink by more than
    min_shared_prefix tokens over its contexts; below min_shared_prefix nothing is shared; None keeps two levels."""
    preamble = tuple(range(100, 140))
    stems = [tuple(range(1, 21)), tuple(range(21, 41))]
    contexts = [preamble + stem + (q, 99) for stem in reversed(stems) for q in range(30, 35)]
    chunks = list(shared_chunks(contexts, 3, 16))
    assert [len(c.contexts) for c in chunks] == [3, 2, 3, 2]  # the second stem starts a chunk of its own
    assert [(len(c.prefix), c.reused) for c in chunks] == [(60, 0), (60, 60), (60, 40), (60, 60)]
    assert chunks[0].contexts[0] == preamble + stems[0] + (30, 99)  # in token order
    assert chunks[1].base == chunks[2].base == chunks[0].prefix and chunks[3].base == chunks[2].prefix
    ran = sum(len(c.prefix) - c.reused for c in chunks) + sum(len(x) - len(c.prefix) for c in chunks for x in c.contexts)
    assert ran == 40 + 2 * 20 + len(contexts) * 2
    # Stems of 10 tokens: ending the second chunk after two contexts would save 10 tokens, not worth a forward.
    short = [preamble + stem[:10] + (q, 99) for stem in stems for q in range(30, 35)]
    assert [len(c.contexts) for c in shared_chunks(short, 3, 16)] == [3, 3, 3, 1]
    assert not any(c.prefix for c in shared_chunks(contexts, 3, 70))
    assert [len(c.contexts) for c in shared_chunks(contexts, 3, None)] == [3, 3, 3, 1]
