"""The BabyLM 2025 suite scored as the official pipeline scores it, checked against a direct computation.

The reference below is written from the pipeline's description (babylm/evaluation-pipeline-2025: the
candidate encoded once with its special tokens and offsets, tokens ending after the completion's start
scored, token 0 never; the reading surprisal re-tokenised piece by piece), with transformers alone: no
lm-eval, no code of ours. Both the ``hf-prefix`` model and the runner's ``hf`` scorer must equal it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from lm_eval.evaluator import evaluate
from transformers import AutoModelForCausalLM, AutoTokenizer

from e2lm_bench.evaluation.pipeline_rule import offset_pieces
from e2lm_bench.evaluation.prefix_lm import PrefixHFLM
from e2lm_bench.evaluation.run_plan import load_tasks
from e2lm_bench.evaluation.series_lm import SeriesLM
from e2lm_bench.taskdata import babylm
from e2lm_bench.taskdata.sample import SAMPLE_DATA_DIR

FAST_TASKS = ["babylm_2025_fast", "comps", "aoa_word"]


def candidate_ll(model, tokenizer, text: str, completion: str) -> float:
    encoded = tokenizer(text, return_offsets_mapping=True)
    ids = encoded["input_ids"]
    start = len(text) - len(completion)
    mask = torch.tensor([1.0 if end > start else 0.0 for _, end in encoded["offset_mapping"]])[1:]
    with torch.no_grad():
        logits = model(torch.tensor([ids[:-1]])).logits[0].float()
    picked = torch.log_softmax(logits, -1).gather(1, torch.tensor(ids[1:])[:, None])[:, 0]
    return float((picked * mask).sum())


def reading_surprisal(model, tokenizer, item: str, word: str) -> float:
    def next_prob(context: str, piece: str) -> float:
        with torch.no_grad():
            logits = model(torch.tensor([tokenizer(context)["input_ids"]])).logits[0, -1].float()
        return float(torch.softmax(logits, -1)[tokenizer(piece, add_special_tokens=False)["input_ids"][0]])

    pieces = tokenizer(word, add_special_tokens=False)["input_ids"]
    probs = [next_prob(item, word)]
    context = item + tokenizer.decode(pieces[0])
    for token in pieces[1:]:
        piece = tokenizer.decode(token)
        probs.append(next_prob(context, piece))
        context += piece
    return -math.log(float(np.prod(probs)))


def expected(model, tokenizer, task: str, doc: dict) -> list[float]:
    """The pipeline's log-likelihood of each request of ``doc`` (surprisal for reading, negated)."""
    if task.startswith(("blimp", "wug")):
        texts = doc.get("candidates") or [doc["sentence_good"], doc["sentence_bad"]]
        return [candidate_ll(model, tokenizer, t, t) for t in texts]
    if task.startswith("ewok"):
        return [candidate_ll(model, tokenizer, doc["Context1"] + " " + doc[t], " " + doc[t]) for t in ("Target1", "Target2")]
    if task.startswith("entity_tracking"):
        return [candidate_ll(model, tokenizer, doc["input_prefix"] + o, o) for o in doc["options"]]
    if task.startswith("comps"):
        return [candidate_ll(model, tokenizer, doc[p] + " " + doc["property_phrase"], doc["property_phrase"])
                for p in ("prefix_acceptable", "prefix_unacceptable")]
    if task.startswith("reading"):
        return [-reading_surprisal(model, tokenizer, doc["context"], doc["word"])]
    if task == "aoa_word":
        return [candidate_ll(model, tokenizer, tokenizer.bos_token + doc["word"], doc["word"])]
    raise AssertionError(task)


@pytest.fixture(scope="module")
def fast_tasks():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("E2LM_DATA_DIR", str(SAMPLE_DATA_DIR))
        yield load_tasks(FAST_TASKS)


def _run(lm, task_dicts):
    outputs = {}
    for name, task_dict in task_dicts.items():
        outputs[name] = evaluate(lm, task_dict, limit=3, log_samples=True, verbosity="WARNING")
    return outputs


@pytest.mark.parametrize("model_fixture", ["llama_dir", "gpt2_dir"])
def test_every_family_equals_the_direct_computation(model_fixture, request, fast_tasks, monkeypatch):
    monkeypatch.setenv("E2LM_DATA_DIR", str(SAMPLE_DATA_DIR))
    path = request.getfixturevalue(model_fixture)
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    scorers = {"hf-prefix": PrefixHFLM(pretrained=str(path), batch_size=4, device="cpu", dtype="float32"),
               "hf": SeriesLM(encoded={}, pretrained=str(path), batch_size=4, device="cpu", dtype="float32")}
    runs = {name: _run(lm, fast_tasks) for name, lm in scorers.items()}
    checked, direct_acc = set(), {}
    for scorer, outputs in runs.items():
        for group, output in outputs.items():
            for task, samples in output["samples"].items():
                if task == "aoa_word" and tokenizer.bos_token is None:
                    assert all(math.isnan(s["resps"][0][0][0]) for s in samples)
                    continue
                for sample in samples:
                    got = [resp[0][0] for resp in sample["resps"]]
                    want = expected(model, tokenizer, task, sample["doc"])
                    np.testing.assert_allclose(got, want, atol=1e-4, err_msg=f"{scorer} {task} {sample['doc_id']}")
                    if len(got) > 1 and not task.startswith("wug"):
                        assert sample["acc"] == float(np.argmax(want) == 0)
                        assert sample["ties"] == float(want[0] == max(want[1:]))
                        if scorer == "hf-prefix":
                            direct_acc.setdefault(task, []).append(float(np.argmax(want) == 0))
                checked.add(task.split("_")[0])
    assert checked >= {"blimp", "ewok", "entity", "comps", "wug", "reading", "aoa"}
    # the pipeline's averages from the direct per-item decisions: a macro mean over UIDs; entity tracking's
    # mean over operation counts within a split, then over splits
    uid_mean = {t: np.mean(v) for t, v in direct_acc.items()}
    averages = {
        "blimp_fast": np.mean([uid_mean[f"blimp_fast_{u}"] for u in babylm.BLIMP_UIDS]),
        "blimp_supplement_fast": np.mean([uid_mean[f"blimp_supplement_fast_{u}"] for u in babylm.SUPPLEMENT_UIDS]),
        "ewok_fast": np.mean([uid_mean[f"ewok_fast_{d.replace('-', '_')}"] for d in babylm.EWOK_DOMAINS]),
        "entity_tracking_fast": np.mean([np.mean([uid_mean[f"entity_tracking_fast_regular_{n}_ops"]
                                                  for n in babylm.NUMOPS])]),
        "comps": np.mean([uid_mean[s.replace("-", "_")] for s in babylm.COMPS_STEMS]),
    }
    for scorer, outputs in runs.items():
        results = {**outputs["babylm_2025_fast"]["results"], **outputs["comps"]["results"]}
        for group, value in averages.items():
            assert results[group]["acc,none"] == pytest.approx(value, abs=1e-12), (scorer, group)
    for group in FAST_TASKS:  # the two scorers report the same numbers
        a, b = runs["hf-prefix"][group]["results"], runs["hf"][group]["results"]
        for task in a:
            for key, value in a[task].items():
                if isinstance(value, float) and not key.endswith("stderr,none"):
                    exact = key.startswith(("acc", "ties"))  # decided per item, identical on both paths
                    assert b[task][key] == pytest.approx(value, abs=0 if exact else 1e-4, nan_ok=True), (task, key)


def test_the_first_word_piece_goes_unscored_without_bos(tokenizer_bos, tokenizer_nobos):
    text = "the dog that i like is happy ."
    (with_bos,) = offset_pieces(tokenizer_bos, text, text)
    (without,) = offset_pieces(tokenizer_nobos, text, text)
    assert with_bos[1] == [tokenizer_bos.bos_token_id]
    assert with_bos[2] == tokenizer_bos(text, add_special_tokens=False)["input_ids"]
    assert without[1] == tokenizer_nobos(text)["input_ids"][:1] and len(without[1]) == 1
    assert without[2] == tokenizer_nobos(text)["input_ids"][1:]


def test_a_straddling_token_belongs_to_the_completion(tokenizer_bos):
    text = "where is the ball ?"
    pieces = offset_pieces(tokenizer_bos, text, "ball ?")
    ids = tokenizer_bos(text)["input_ids"]
    assert pieces[0][1] + pieces[0][2] == ids  # " ball" starts at the space, inside the context: still scored
    assert tokenizer_bos.decode(pieces[0][2]).strip() == "ball ?"
