"""Finding the checkpoints of a training run: a local folder, one model, or a Hub repository.

A series is named by what the user typed; its checkpoints are sorted by training step (or by words
seen for BabyLM ``chck_<N>M`` names), so scores see the curve in training order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from e2lm_bench.errors import UserError
from e2lm_bench.evaluation.checkpoints import babylm_words, checkpoint_axes, parse_step

WEIGHT_PATTERNS = ("*.safetensors", "*.bin", "*.pt", "*.pth", "*.ckpt", "*.gguf")
HUB_SUBFOLDER = re.compile(r"^(iter_\d+|checkpoint-\d+|step[_-]?\d+|global_step\d+)$")
HUB_REVISION = re.compile(r"^chck_\d+[MK]$", re.IGNORECASE)
FINAL = "final"
HUB_LOADED_FILES = ("*.json", "*.txt", "*.model", "*.tiktoken", "*.jinja", "*.py")  # config, tokenizer, remote code


class SeriesError(UserError):
    """A series that cannot be read; the message names the folder or repository."""


@dataclass(frozen=True)
class Checkpoint:
    model: str  # the series name
    name: str  # checkpoint name: a subfolder, a Hub revision, or "final"
    pretrained: str  # local path or Hub repository id
    subfolder: str | None = None
    revision: str | None = None
    step: int | None = None
    tokens: float | None = None
    words: float | None = None

    @property
    def location(self) -> str:
        where = self.pretrained + (f"/{self.subfolder}" if self.subfolder else "")
        return where + (f"@{self.revision}" if self.revision else "")


def _order(name: str) -> tuple:
    step, words = parse_step(name), babylm_words(name)
    key = step if step is not None else words
    return (key is None, key if key is not None else 0, name)


def _checkpoint(model: str, name: str, pretrained: str, tokens_per_step=None, **where) -> Checkpoint:
    axes = checkpoint_axes(name, tokens_per_step=tokens_per_step, e2lm_ramp=name.startswith("iter_"))
    return Checkpoint(model=model, name=name, pretrained=pretrained, **where, **axes)


def discover(spec: str, tokens_per_step: float | None = None, token: str | None = None) -> list[Checkpoint]:
    """The checkpoints of one series, in training order.

    ``spec`` is a local folder whose subfolders are checkpoints (a subfolder counts when it has a
    ``config.json`` or a checkpoint-like name), a single local model folder, or a Hub repository with
    checkpoint subfolders (``iter_*``, as the E2LM models), ``chck_*`` revisions (as BabyLM models), or
    neither (one model). Steps convert to tokens with the E2LM batch ramp for ``iter_*`` names, or with
    ``tokens_per_step``.
    """
    path = Path(spec).expanduser()
    if path.exists():
        return _discover_local(path, tokens_per_step)
    if spec.startswith((".", "/", "~")) or spec.count("/") > 1:
        raise SeriesError(f"{spec}: no such folder")
    return _discover_hub(spec, tokens_per_step, token)


def _discover_local(path: Path, tokens_per_step) -> list[Checkpoint]:
    if not path.is_dir():
        raise SeriesError(f"{path}: not a folder")
    model = path.resolve().name
    if (path / "config.json").is_file():
        return [_checkpoint(model, FINAL, str(path.resolve()), tokens_per_step)]
    children = [
        child for child in path.iterdir()
        if child.is_dir() and ((child / "config.json").is_file() or parse_step(child.name) is not None
                               or babylm_words(child.name) is not None)
    ]
    if not children:
        raise SeriesError(
            f"{path}: no checkpoints found (expected subfolders with a config.json, such as checkpoint-500 "
            "or iter_0004000, or a model folder with a config.json)"
        )
    children.sort(key=lambda child: _order(child.name))
    return [_checkpoint(model, child.name, str(child.resolve()), tokens_per_step) for child in children]


def _discover_hub(repo: str, tokens_per_step, token) -> list[Checkpoint]:
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    files = api.list_repo_files(repo)
    subfolders = sorted(
        {f.split("/")[0] for f in files if f.count("/") == 1 and f.endswith("/config.json") and HUB_SUBFOLDER.match(f.split("/")[0])},
        key=_order,
    )
    if subfolders:
        return [_checkpoint(repo, name, repo, tokens_per_step, subfolder=name) for name in subfolders]
    branches = sorted((b.name for b in api.list_repo_refs(repo).branches if HUB_REVISION.match(b.name)), key=_order)
    if branches:
        return [_checkpoint(repo, name, repo, tokens_per_step, revision=name) for name in branches]
    if "config.json" not in files:
        raise SeriesError(f"{repo}: no config.json, checkpoint subfolders or chck_* revisions in this Hub repository")
    return [_checkpoint(repo, FINAL, repo, tokens_per_step)]


def has_weights(folder: Path) -> bool:
    """A folder without any weight file is reported as such, not as whatever loading it would raise."""
    return any(any(Path(folder).glob(pattern)) for pattern in WEIGHT_PATTERNS)


def is_local(checkpoint: Checkpoint) -> bool:
    return Path(checkpoint.pretrained).is_dir()


def local_folder(checkpoint: Checkpoint, revision: str | None = None, token: str | None = None,
                 weights: tuple[str, ...] = ("*.safetensors", "*.bin"), local_dir: Path | None = None) -> Path:
    """The checkpoint's folder on this machine, so that loading it needs no network.

    A Hub checkpoint is downloaded first, only what loading reads: config, tokenizer, code, and the first of
    ``weights`` it has (from_pretrained prefers safetensors), not optimizer states or other checkpoints' files;
    into the Hugging Face cache, or into ``local_dir`` (plain files, for removing once the checkpoint is done).
    """
    if is_local(checkpoint):
        return Path(checkpoint.pretrained) / (checkpoint.subfolder or "")
    from huggingface_hub import snapshot_download

    prefix = f"{checkpoint.subfolder}/" if checkpoint.subfolder else ""
    for pattern in weights:
        root = Path(snapshot_download(
            checkpoint.pretrained, revision=checkpoint.revision or revision, token=token,
            allow_patterns=[prefix + p for p in (*HUB_LOADED_FILES, pattern)], ignore_patterns=[f"{prefix}*/*"],
            **({"local_dir": str(local_dir)} if local_dir else {}),
        ))
        folder = root / (checkpoint.subfolder or "")
        if any(folder.glob(pattern)):
            break
    return folder


def warm(folder: Path) -> None:
    """Read the weights once, in large blocks, so that loading them reads memory rather than a slow disk.

    These are page-cache pages, which the kernel evicts under memory pressure: memory stays bounded.
    """
    block = bytearray(16 << 20)
    files = sorted(folder.glob("*.safetensors")) or sorted(folder.glob("*.bin"))
    for file in files:
        with open(file, "rb", buffering=0) as stream:
            while stream.readinto(block):
                pass


def select(checkpoints: list[Checkpoint], every: int | None = None, max_step: int | None = None) -> list[Checkpoint]:
    """Keep steps divisible by ``every`` and at most ``max_step`` (checkpoints without a step are kept)."""
    return [
        c for c in checkpoints
        if c.step is None or ((every is None or c.step % every == 0) and (max_step is None or c.step <= max_step))
    ]
