"""Where task data comes from: the public source by default, or a local folder named by E2LM_DATA_DIR.

Every loader validates what it reads (:mod:`e2lm_bench.taskdata.readers`) and raises a ``DataError``
naming the file, the line and the field, so a bad row is found before a model spends time on it.

Local layout (the layout of the bundled sample, ``e2lm-bench sample-data``)::

    dialogue_minpairs/dialogue_eval_words.jsonl     {"prompt", "chosen", "rejected"}
    dialogue_minpairs/dialogue_eval_tokens.jsonl
    lexical_decision/lexical_decision.jsonl         {"lexeme", "wug"}
    zorro/<paradigm>.txt                            consecutive line pairs, grammatical first
"""

from __future__ import annotations

import os
from pathlib import Path

from e2lm_bench.taskdata.readers import DataError, checked_fields, read_jsonl, read_pair_lines

DATA_DIR_ENV = "E2LM_DATA_DIR"

# The 23 Zorro paradigms (file stems of the test suite; Huebner et al. 2021).
ZORRO_PARADIGMS = (
    "agreement_determiner_noun-across_1_adjective",
    "agreement_determiner_noun-between_neighbors",
    "agreement_subject_verb-across_prepositional_phrase",
    "agreement_subject_verb-across_relative_clause",
    "agreement_subject_verb-in_question_with_aux",
    "agreement_subject_verb-in_simple_question",
    "anaphor_agreement-pronoun_gender",
    "argument_structure-dropped_argument",
    "argument_structure-swapped_arguments",
    "argument_structure-transitive",
    "binding-principle_a",
    "case-subjective_pronoun",
    "ellipsis-n_bar",
    "filler-gap-wh_question_object",
    "filler-gap-wh_question_subject",
    "irregular-verb",
    "island-effects-adjunct_island",
    "island-effects-coordinate_structure_constraint",
    "local_attractor-in_question_with_aux",
    "npi_licensing-matrix_question",
    "npi_licensing-only_npi_licensor",
    "quantifiers-existential_there",
    "quantifiers-superlative",
)

# Public sources, read when E2LM_DATA_DIR is unset.
DIALOGUE_HUB_IDS = {"words": "fpadovani/dialogue_eval_words", "tokens": "fpadovani/dialogue_eval_tokens"}
LEXICAL_DECISION_HUB_ID = "bbunzeck/lexical-decision"
# phueb/UnMasked distributes the Zorro suites with the grammatical sentence first (phueb/Zorro itself
# puts the ungrammatical one first); pinned so the default data never changes under a user.
ZORRO_URL = (
    "https://raw.githubusercontent.com/phueb/UnMasked/df493c82dc9df3ae3f96bb2803cbb1c50a0f3a29/"
    "test_suites/zorro/{paradigm}.txt"
)

# Tasks whose YAML names a Hub dataset (so the folder can be submitted as it is) and whose data
# e2lm-bench reads from E2LM_DATA_DIR/<folder>/<split>.jsonl when the variable is set.
HUB_TASK_FOLDERS = {"early_science": "early_science"}

DIALOGUE_FIELDS = ("prompt", "chosen", "rejected")
LEXICAL_FIELDS = ("lexeme", "wug")


def zorro_task_name(paradigm: str) -> str:
    return "zorro_" + paradigm.replace("-", "_")


def local_data_dir() -> Path | None:
    """The folder named by E2LM_DATA_DIR, made absolute, or None when the variable is unset or empty."""
    value = os.environ.get(DATA_DIR_ENV, "").strip()
    if not value:
        return None
    path = Path(value).expanduser().resolve()
    if not path.is_dir():
        raise DataError(f"{DATA_DIR_ENV}={value!r} is not a directory")
    return path


def _local_file(relative: str) -> Path | None:
    root = local_data_dir()
    if root is None:
        return None
    path = root / relative
    if not path.is_file():
        raise DataError(f"{path}: file not found ({DATA_DIR_ENV} is set, so task data is read from {root})")
    return path


def download_failed(what: str, relative: str, err: OSError) -> DataError:
    """Offline, the library's own error is often a bare URL: say what failed and where local data would go.

    ``relative`` is where the same data goes in a local data folder."""
    return DataError(
        f"could not download {what} ({relative} in a data folder): {type(err).__name__}: {err}. To use local data, "
        f"pass --data-dir DIR (--data-dir sample: the bundled sample) or set {DATA_DIR_ENV}=DIR, "
        "a folder in the layout `e2lm-bench sample-data` prints"
    )


def _hub_rows(hub_id: str, fields: tuple[str, ...], relative: str) -> list[dict[str, str]]:
    import datasets

    try:
        table = datasets.load_dataset(hub_id, split="train")
    except OSError as err:  # datasets' ConnectionError, DatasetNotFoundError
        raise download_failed(f"the Hub dataset {hub_id}", relative, err) from err
    return [checked_fields(record, fields, f"{hub_id} row {i}") for i, record in enumerate(table)]


def _download(url: str) -> Path:
    import datasets

    return Path(datasets.DownloadManager().download(url))


def dialogue_minpairs_rows(variant: str) -> list[dict[str, str]]:
    if variant not in DIALOGUE_HUB_IDS:
        raise DataError(f"unknown dialogue_minpairs variant {variant!r}; expected one of {sorted(DIALOGUE_HUB_IDS)}")
    relative = f"dialogue_minpairs/dialogue_eval_{variant}.jsonl"
    local = _local_file(relative)
    if local is not None:
        return read_jsonl(local, DIALOGUE_FIELDS)
    return _hub_rows(DIALOGUE_HUB_IDS[variant], DIALOGUE_FIELDS, relative)


def lexical_decision_rows() -> list[dict[str, str]]:
    relative = "lexical_decision/lexical_decision.jsonl"
    local = _local_file(relative)
    if local is not None:
        return read_jsonl(local, LEXICAL_FIELDS)
    return _hub_rows(LEXICAL_DECISION_HUB_ID, LEXICAL_FIELDS, relative)


def zorro_rows(paradigm: str) -> list[dict[str, str]]:
    if paradigm not in ZORRO_PARADIGMS:
        raise DataError(f"unknown Zorro paradigm {paradigm!r}")
    relative = f"zorro/{paradigm}.txt"
    path = _local_file(relative)
    if path is None:
        try:
            path = _download(ZORRO_URL.format(paradigm=paradigm))
        except OSError as err:  # ConnectionError, or FileNotFoundError naming only the URL
            raise download_failed(f"the Zorro paradigm {paradigm}", relative, err) from err
    return read_pair_lines(path)


def as_test_split(rows: list[dict]) -> dict:
    """The ``{split: Dataset}`` shape that lm-eval's ``custom_dataset`` hook must return."""
    import datasets

    return {"test": datasets.Dataset.from_list(rows)}


SPLIT_KEYS = ("test_split", "validation_split", "fewshot_split", "training_split")


def local_split_overrides(config: dict, folder: str) -> dict | None:
    """Dataset settings that read a task's splits from E2LM_DATA_DIR/<folder>/<split>.jsonl; None when unset."""
    root = local_data_dir()
    if root is None:
        return None
    files = {}
    for split in dict.fromkeys(config[key] for key in SPLIT_KEYS if config.get(key)):
        path = root / folder / f"{split}.jsonl"
        if not path.is_file():
            raise DataError(f"{path}: file not found ({DATA_DIR_ENV} is set, so task data is read from {root})")
        files[split] = str(path)
    return {"dataset_path": "json", "dataset_name": None, "dataset_kwargs": {"data_files": files}}
