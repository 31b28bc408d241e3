"""Loading the checkpoints of a run, the next one fetched in the background while this one is evaluated.

A Hub checkpoint's files are downloaded (only what loading reads) and its weights read once into memory, so a
Hub series costs about max(download, evaluation) per checkpoint rather than their sum. Each checkpoint is then
loaded by lm-eval's ``HFLM`` from that local folder, so device, dtype and model arguments take lm-eval's path.
"""

from __future__ import annotations

import contextlib
import shutil
import threading
from concurrent.futures import Future, wait
from pathlib import Path

from e2lm_bench.devices import default_device
from e2lm_bench.evaluation.results import DOWNLOADS, safe_name
from e2lm_bench.evaluation.run_plan import TrajectoryConfig, model_arguments
from e2lm_bench.evaluation.series import Checkpoint, has_weights, is_local, local_folder, warm
from e2lm_bench.launch import alone


def fetched(fetch, take, ahead: bool):
    """Each checkpoint ``take`` hands out, with the future of its fetch, done; with ``ahead``, the next one's fetch
    is already running.

    ``take(block)`` gives the next checkpoint or None when there is none; with ``block=False`` it must not wait
    for one (the next is taken early, while this one is evaluated, only if one is ready). Only one fetch runs at a
    time and the next starts when this one is handed over, so at most one checkpoint waits ahead of the one
    evaluated: neither downloads nor memory pile up. A fetch's error is kept in its future and raised when that
    checkpoint's turn comes.
    """
    following = None
    while True:
        if following is None:
            checkpoint = take(True)
            if checkpoint is None:
                return
            following = checkpoint, in_background(fetch, checkpoint)
        checkpoint, current = following
        wait([current])
        upcoming = take(False) if ahead else None
        following = (upcoming, in_background(fetch, upcoming)) if upcoming is not None else None
        yield checkpoint, current


def in_background(function, *args) -> Future:
    """A daemon thread rather than an executor's: an interrupted run exits without waiting for a download."""
    future = Future()
    future.set_running_or_notify_cancel()

    def run():
        try:
            future.set_result(function(*args))
        except BaseException as err:  # kept for the main thread, which records it
            future.set_exception(err)

    threading.Thread(target=run, name="e2lm-prefetch", daemon=True).start()
    return future


class CheckpointLoader:
    """Loads checkpoints one by one, keeping the tokenizer and the tokenised requests while they fit.

    HFLM loads each checkpoint from its local folder (a Hub checkpoint's is the fetched snapshot), so device,
    dtype and model arguments (``parallelize``, ``device_map``, ``attn_implementation``, ...) take the path they
    take in lm-eval, and nothing is downloaded twice.
    """

    def __init__(self, config: TrajectoryConfig, device: str | None = None, together: bool = False):
        self.config = config
        self.together = together  # the processes of a launch evaluate each checkpoint together (--split requests)
        self.model_args = model_arguments(config)
        self.device = device or config.device or default_device()
        self.tokenizer = None
        self.fingerprint = None
        self.encoded: dict = {}
        self.processes_per_checkpoint = 1  # among which lm-eval splits each task's documents

    def fetch(self, checkpoint: Checkpoint) -> Path:
        """The checkpoint's folder with its files on this machine and its weights in memory; safe off the main thread."""
        gguf = self.model_args.get("gguf_file")
        folder = local_folder(checkpoint, revision=self.model_args.get("revision"), token=self.config.hub_token,
                              local_dir=self.download_dir(checkpoint), **({"weights": (gguf,)} if gguf else {}))
        warm(folder)
        return folder

    def download_dir(self, checkpoint: Checkpoint) -> Path | None:
        """Where a Hub checkpoint is downloaded with ``cleanup`` (removed once its parts are written); None: the
        Hugging Face cache, or a local checkpoint."""
        if not self.config.cleanup or is_local(checkpoint):
            return None
        return Path(self.config.output) / DOWNLOADS / safe_name(checkpoint.model) / safe_name(checkpoint.name)

    def release(self, checkpoint: Checkpoint) -> None:
        """With ``cleanup``, remove a Hub checkpoint's downloaded files: at most this and the prefetched one stay."""
        folder = self.download_dir(checkpoint)
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)

    def lm_for(self, checkpoint: Checkpoint, folder: Path | None = None):
        from transformers import AutoTokenizer

        from e2lm_bench.evaluation.series_lm import PrefixSeriesLM, SeriesLM, tokenizer_fingerprint

        folder = self.fetch(checkpoint) if folder is None else folder
        if not has_weights(folder):
            raise FileNotFoundError(f"no weight file (*.safetensors, *.bin, ...) in {checkpoint.location}")
        tokenizer = AutoTokenizer.from_pretrained(
            str(folder), revision=self.model_args.get("revision"),
            trust_remote_code=self.model_args.get("trust_remote_code", False),
        )
        fingerprint = tokenizer_fingerprint(tokenizer)
        if fingerprint != self.fingerprint:  # a new tokenizer: earlier tokenisations do not apply
            self.tokenizer, self.fingerprint, self.encoded = tokenizer, fingerprint, {}
        model = PrefixSeriesLM if self.config.scorer == "hf-prefix" else SeriesLM
        # each process of a launch evaluating its own parts joins no process group, and splits no task's documents
        with contextlib.nullcontext() if self.together else alone():
            lm = model(
                pretrained=str(folder), tokenizer=self.tokenizer, batch_size=self.config.batch_size,
                device=self.device, encoded=self.encoded, **self.model_args,
            )
        self.processes_per_checkpoint = lm.world_size
        return lm
