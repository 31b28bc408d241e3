"""``submission.zip``: ``evaluation.patch`` and ``metadata.yaml`` at the root, as the E2LM submission space expects.

``metadata.yaml`` carries the user's Hugging Face token (for a private dataset), so it and the zip are
written readable by the owner only, and the token is never printed: the summary shows its length.
"""

from __future__ import annotations

import io
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from e2lm_bench.atomic import atomic_write_text
from e2lm_bench.errors import UserError
from e2lm_bench.submission.patch import FORK_COMMIT, build_patch, stage_folder
from e2lm_bench.submission.validate import Validation, find_task_yaml, validate_task
from e2lm_bench.taskdata.e2lm_rules import MAX_DOCS, MIN_DOCS
from e2lm_bench.taskdata.sources import DATA_DIR_ENV

DEFAULT_OUTPUT = Path("build/submission")
TOKEN_ENV = "HF_TOKEN"
PATCH_NAME, METADATA_NAME, ZIP_NAME = "evaluation.patch", "metadata.yaml", "submission.zip"
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed, so the same inputs give the same zip
PLACEHOLDER_DATASET = "e2lm-bench/early-science"  # the dataset_path our early_science.yaml ships with; it is nobody's


@dataclass(frozen=True)
class Result:
    task_dir: Path
    validation: Validation
    output_dir: Path
    patch_path: Path
    metadata_path: Path
    zip_path: Path
    patch_files: tuple[str, ...]
    patch_base: str | None
    warnings: tuple[str, ...]
    token_chars: int  # the token itself is never kept here


def metadata_text(task: str, result_key: str, token: str) -> str:
    """The organizers read ``results[task_name][task_metric]``, so the metric is lm-eval's results key, e.g. ``margin,none``."""
    return yaml.safe_dump({"task_name": task, "task_metric": result_key, "hf_token": token}, sort_keys=False)


def data_warnings(validation: Validation) -> tuple[str, ...]:
    """Why the data the organizers load may not be what was checked: one line each."""
    warnings = []
    if validation.hub_dataset == PLACEHOLDER_DATASET:
        warnings.append(f"the patch names the placeholder Hub dataset {PLACEHOLDER_DATASET}; push the data and pass "
                        "--dataset owner/name, or the organizers cannot load it")
    if validation.local_data:
        warnings.append(f"{DATA_DIR_ENV} is set, so the task was checked on the local copy in {_local_folder(validation)} "
                        f"and the Hub dataset {validation.hub_dataset} was never opened; unset it to check what the "
                        "organizers will load")
    return tuple(warnings)


def _local_folder(validation: Validation) -> Path:
    return Path(next(iter(validation.local_data["dataset_kwargs"]["data_files"].values()))).parent


def build_submission(task: str, metric: str, output_dir: str | Path = DEFAULT_OUTPUT, fork: str | Path | None = None,
                     dataset: str | None = None, token: str | None = None) -> Result:
    """Validate the task as it will be submitted, then write the patch, metadata.yaml and submission.zip.

    ``token`` defaults to the HF_TOKEN environment variable; empty means a public dataset.
    """
    token = (os.environ.get(TOKEN_ENV, "") if token is None else token).strip()
    task_yaml = find_task_yaml(task)
    with tempfile.TemporaryDirectory(prefix="e2lm-submission-") as tmp:
        staged = stage_folder(task_yaml.parent, Path(tmp), task_yaml, dataset)
        try:
            validation = validate_task(staged, task, metric)
            patch = build_patch(staged, fork)
        except UserError as err:  # name the user's folder, not the temporary copy
            raise type(err)(str(err).replace(str(staged.resolve()), str(task_yaml.parent))) from err
    output_dir = Path(output_dir)
    patch_path = atomic_write_text(output_dir / PATCH_NAME, patch.text)
    metadata = metadata_text(task, validation.result_key, token).encode("utf-8")
    metadata_path = _write_private(output_dir / METADATA_NAME, metadata)
    members = {PATCH_NAME: (patch.text.encode("utf-8"), 0o644), METADATA_NAME: (metadata, 0o600)}
    zip_path = _write_private(output_dir / ZIP_NAME, zip_bytes(members))
    return Result(task_yaml.parent, validation, output_dir, patch_path, metadata_path, zip_path, patch.files, patch.base,
                  patch.warnings + data_warnings(validation), len(token))


def zip_bytes(members: dict[str, tuple[bytes, int]]) -> bytes:
    """A zip of ``{name: (data, mode)}`` at the root, with fixed timestamps."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, (data, mode) in members.items():
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix, so the mode below is honoured on extraction
            info.external_attr = (0o100000 | mode) << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def _write_private(path: Path, data: bytes) -> Path:
    """Write atomically through a file that is mode 0600 from its creation, so the secret is never readable by others."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def summary(result: Result) -> str:
    """What was checked and written, with the token replaced by its length."""
    v = result.validation
    if v.local_data:
        source = f"Hub dataset {v.hub_dataset} (checked on the local copy in {_local_folder(v)}, from {DATA_DIR_ENV})"
    else:
        source = f"Hub dataset {v.hub_dataset} (downloaded for the check)"
    base = f"against fork commit {result.patch_base[:12]}" if result.patch_base else f"new files, for the fork at {FORK_COMMIT}"
    with zipfile.ZipFile(result.zip_path) as archive:
        listing = [f"  {info.file_size:>9}  {info.filename}" for info in archive.infolist()]
    hidden = metadata_text(v.task_name, v.result_key, f"<hidden: {result.token_chars} characters>" if result.token_chars else "")
    if result.token_chars:
        secret = (f"{ZIP_NAME} and {METADATA_NAME} hold your Hugging Face token (a secret): they are readable only by you "
                  "(mode 600); do not share or commit them.")
    else:
        secret = f"No token ({TOKEN_ENV} is unset or empty): the organizers can load only a public dataset."
    return "\n".join([
        f"Validated task {v.task_name} from {result.task_dir}:",
        f"  data: {source}",
        f"  {v.doc_count} documents in split {v.split!r} (E2LM accepts {MIN_DOCS} to {MAX_DOCS:,}); no gold answer in any prompt",
        f"  metric {v.metric!r} is reported by the task (results key {v.result_key})",
        f"{PATCH_NAME} ({base}):",
        *(f"  {line}" for line in result.patch_files),
        f"{result.zip_path}:",
        *listing,
        f"{METADATA_NAME}:",
        *(f"  {line}" for line in hidden.splitlines()),
        secret,
    ])
