"""How close the trajectory runner's scoring comes to the cost of the model's forward passes alone.

On one ~40M-parameter Llama checkpoint, the runner scores a task while every input batch that reaches
the model is recorded; the same batches are then replayed through the model's forward pass alone.
Scoring time / forward time is the overhead of everything else (tokenisation, batching, log-softmax,
gathering, metrics); 1.0 is the floor.

    python benchmarks/trajectory_compute_floor.py --data-dir DATA [--task dialogue_minpairs_words] [--limit 100]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import torch
from common import task_arguments

SHAPE = dict(hidden_size=512, intermediate_size=1376, num_hidden_layers=8, num_attention_heads=8,
             max_position_embeddings=512, vocab_size=16_000, tie_word_embeddings=False)


def build_model(folder: Path) -> Path:
    from transformers import LlamaConfig, LlamaForCausalLM

    from e2lm_bench.training.tokenizer import sample_tokenizer

    tokenizer = sample_tokenizer()
    torch.manual_seed(0)
    config = LlamaConfig(**SHAPE, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    model = LlamaForCausalLM(config)
    model.save_pretrained(folder / "checkpoint-1")
    tokenizer.save_pretrained(folder / "checkpoint-1")
    return folder, sum(p.numel() for p in model.parameters())


def main() -> None:
    args = task_arguments(__doc__, limit=100)
    os.environ["E2LM_DATA_DIR"] = args.data_dir

    from e2lm_bench.evaluation import series_lm, trajectory

    batches, scoring = [], []
    model_call, loglikelihood = series_lm.SeriesLM._model_call, series_lm.SeriesLM.loglikelihood

    def recording_call(self, inps, *rest, **kwargs):
        batches.append(inps.detach().clone())
        return model_call(self, inps, *rest, **kwargs)

    def timed_loglikelihood(self, requests, disable_tqdm=True):
        start = time.perf_counter()
        out = loglikelihood(self, requests, disable_tqdm)
        scoring.append(time.perf_counter() - start)
        return out

    series_lm.SeriesLM._model_call = recording_call
    series_lm.SeriesLM.loglikelihood = timed_loglikelihood
    with tempfile.TemporaryDirectory() as tmp:
        series, n_params = build_model(Path(tmp) / "series")
        config = trajectory.TrajectoryConfig(series=[str(series)], tasks=[args.task], output=Path(tmp) / "run",
                                             limit=args.limit, batch_size=args.batch_size, device="cpu")
        trajectory.run_trajectory(config)
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained(series / "checkpoint-1").eval()
        with torch.inference_mode():
            start = time.perf_counter()
            for batch in batches:
                model(batch)
            floor = time.perf_counter() - start
    tokens = sum(b.numel() for b in batches)
    print(f"command: {' '.join([Path(sys.argv[0]).name, *sys.argv[1:]])}")
    print(f"model: Llama, {n_params / 1e6:.1f}M parameters; task {args.task}, limit {args.limit}, "
          f"batch size {args.batch_size}; {len(batches)} batches, {tokens} padded tokens")
    print(f"runner scoring time (loglikelihood): {sum(scoring):6.1f} s")
    print(f"forward passes alone, same batches:  {floor:6.1f} s")
    print(f"ratio: {sum(scoring) / floor:.2f}x the floor")


if __name__ == "__main__":
    main()
