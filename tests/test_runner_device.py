"""The runner on real hardware: the checkpoint goes where and in what dtype the user asked, as lm-eval places it."""

from __future__ import annotations

import pytest
import torch
import transformers

from e2lm_bench.evaluation import fetching, trajectory
from e2lm_bench.evaluation.series import discover
from e2lm_bench.evaluation.trajectory import TrajectoryConfig


def _runner(series, tmp_path, **kwargs) -> fetching.CheckpointLoader:
    return fetching.CheckpointLoader(TrajectoryConfig(series=[str(series)], tasks=["zorro"], output=tmp_path, **kwargs))


@pytest.fixture
def loads(monkeypatch) -> list[dict]:
    """The keyword arguments of every model load; the load itself is the real one."""
    seen = []
    auto = transformers.AutoModelForCausalLM
    original = auto.from_pretrained.__func__

    def recording(cls, *args, **kwargs):
        seen.append(kwargs)
        return original(cls, *args, **kwargs)

    monkeypatch.setattr(auto, "from_pretrained", classmethod(recording))
    return seen


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_checkpoint_is_placed_on_the_default_device_in_the_requested_dtype(tiny_series, tmp_path, loads, dtype):
    runner = _runner(tiny_series, tmp_path, dtype=dtype, model_args={"attn_implementation": "eager"})
    lm = runner.lm_for(discover(str(tiny_series))[0])
    parameter = next(lm.model.parameters())
    assert parameter.dtype == getattr(torch, dtype) and parameter.device.type == torch.device(runner.device).type
    assert loads[-1]["device_map"] == {"": runner.device}  # placed while loading, the path a GPU takes
    assert loads[-1]["attn_implementation"] == "eager" and lm.model.config._attn_implementation == "eager"


def test_default_device_is_cuda_when_available(tiny_series, tmp_path, monkeypatch):
    assert _runner(tiny_series, tmp_path).device == ("cuda" if torch.cuda.is_available() else "cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert _runner(tiny_series, tmp_path).device == "cuda"
    assert _runner(tiny_series, tmp_path, device="cuda:1").device == "cuda:1"


def test_model_args_cannot_contradict_the_series_or_the_options(tiny_series, tmp_path):
    with pytest.raises(trajectory.TrajectoryError, match="--model-args pretrained=x"):
        _runner(tiny_series, tmp_path, model_args={"pretrained": "x"})
    with pytest.raises(trajectory.TrajectoryError, match="--dtype bfloat16 and --model-args dtype=float16"):
        _runner(tiny_series, tmp_path, dtype="bfloat16", model_args={"dtype": "float16"})


def test_cli_passes_model_args_dtype_seed_and_fewshot(monkeypatch, tmp_path):
    from e2lm_bench.cli import main

    seen = []
    monkeypatch.setattr(trajectory, "run_trajectory", lambda config: seen.append(config) or _Stop.raise_())
    with pytest.raises(_Stop):
        main(["trajectory", "s", "--tasks", "zorro", "--output", str(tmp_path), "--dtype", "bfloat16",
              "--model-args", "revision=v2,attn_implementation=sdpa,parallelize=True", "--trust-remote-code",
              "--num-fewshot", "2", "--seed", "5"])
    config = seen[0]
    assert config.dtype == "bfloat16" and config.num_fewshot == 2 and config.seed == [5, 5, 5, 5]
    assert config.model_args == {"revision": "v2", "attn_implementation": "sdpa", "parallelize": True,
                                 "trust_remote_code": True}
    with pytest.raises(_Stop):
        main(["trajectory", "s", "--tasks", "zorro", "--output", str(tmp_path)])
    assert seen[1].seed == [0, 1234, 1234, 1234] and seen[1].model_args == {} and seen[1].num_fewshot is None


class _Stop(Exception):
    @classmethod
    def raise_(cls):
        raise cls
