"""Few-shot prompts exactly as lm-eval builds them, the same at every checkpoint."""

from __future__ import annotations

import json

import pytest

from e2lm_bench.evaluation.trajectory import TrajectoryConfig, run_trajectory
from tests.conftest import SENTENCES

TASK = "fewshot_yes_no"


def write_fewshot_task(root, num_fewshot: int | None = 3):
    """A multiple-choice task over local JSON files, with lm-eval's default (random) few-shot sampler."""
    root.mkdir(parents=True, exist_ok=True)
    for split, sentences in (("train", SENTENCES[:12]), ("test", SENTENCES[12:])):
        with open(root / f"{split}.jsonl", "w") as f:
            for i, sentence in enumerate(sentences):
                f.write(json.dumps({"question": sentence, "label": i % 2}) + "\n")
    (root / f"{TASK}.yaml").write_text(
        f"task: {TASK}\ndataset_path: json\n"
        f"dataset_kwargs:\n  data_files:\n    train: {root / 'train.jsonl'}\n    test: {root / 'test.jsonl'}\n"
        "training_split: train\ntest_split: test\noutput_type: multiple_choice\n"
        "doc_to_text: \"Is this right? {{question}}\\nAnswer:\"\ndoc_to_choice: [\" yes\", \" no\"]\n"
        "doc_to_target: label\nmetric_list:\n  - metric: acc\nmetadata:\n  version: 1.0\n"
        + (f"num_fewshot: {num_fewshot}\n" if num_fewshot is not None else "")
    )
    return root


def _samples(out, checkpoint) -> dict[int, dict]:
    lines = (out / "samples" / "tiny" / checkpoint / f"{TASK}.jsonl").read_text().splitlines()
    return {record["doc_id"]: record for record in map(json.loads, lines)}


def test_fewshot_loglikelihoods_equal_lm_eval_per_checkpoint(tiny_series, tmp_path):
    """Acceptance: per item, equal to ``simple_evaluate(..., num_fewshot=3)`` with default seeds, per checkpoint."""
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    tasks = write_fewshot_task(tmp_path / "tasks")
    out = tmp_path / "run"
    run_trajectory(TrajectoryConfig(series=[str(tiny_series)], tasks=[TASK], output=out, include_path=str(tasks),
                                    max_step=300, batch_size=8, device="cpu"))
    largest = 0.0
    for step in (100, 200, 300):
        reference = simple_evaluate(
            model="hf", model_args=f"pretrained={tiny_series}/checkpoint-{step}", tasks=[TASK], num_fewshot=3,
            task_manager=TaskManager(include_defaults=False, include_path=str(tasks)), batch_size=8, device="cpu",
            log_samples=True,
        )["samples"][TASK]
        assert all(item["arguments"][0][0].count("Answer:") == 4 for item in reference)  # three demonstrations
        ours = _samples(out, f"checkpoint-{step}")
        assert sorted(ours) == sorted(item["doc_id"] for item in reference)
        for item in reference:
            expected = [resp[0][0] for resp in item["resps"]]
            got = ours[item["doc_id"]]["loglikelihoods"]
            assert got == pytest.approx(expected, abs=1e-4)
            largest = max(largest, *(abs(a - b) for a, b in zip(got, expected)))
    print(f"max abs log-likelihood difference to lm-eval: {largest:.2e}")
    first, *others = (_samples(out, f"checkpoint-{step}") for step in (100, 200, 300))
    assert all(record["requests_hash"] for record in first.values())
    for other in others:
        assert {d: r["requests_hash"] for d, r in other.items()} == {d: r["requests_hash"] for d, r in first.items()}


def test_seed_and_num_fewshot_shape_the_prompts(tiny_series, tmp_path):
    """--num-fewshot overrides the task's; another few-shot seed draws other demonstrations."""
    tasks = write_fewshot_task(tmp_path / "tasks", num_fewshot=None)
    hashes = {}
    for name, options in {"zero": {}, "one": {"num_fewshot": 1}, "one_again": {"num_fewshot": 1},
                          "one_seed": {"num_fewshot": 1, "seed": [0, 1234, 1234, 7]}}.items():
        out = tmp_path / name
        run_trajectory(TrajectoryConfig(series=[str(tiny_series)], tasks=[TASK], output=out, include_path=str(tasks),
                                        max_step=100, batch_size=8, device="cpu", **options))
        hashes[name] = [r["requests_hash"] for _, r in sorted(_samples(out, "checkpoint-100").items())]
    assert hashes["one"] == hashes["one_again"]
    assert hashes["zero"] != hashes["one"] and hashes["one"] != hashes["one_seed"]
