"""The BabyLM 2025 zero-shot data (``evaluation_data/``): where it lives and validated readers of each file.

Folder names, file names and record formats follow the BabyLM 2025 evaluation pipeline,
babylm/evaluation-pipeline-2025 (its ``eval_zero_shot*.sh`` scripts and ``sentence_zero_shot/read_files.py``).
The organizers distribute the data on OSF only, so these tasks always read ``E2LM_DATA_DIR``; there is no Hub
default.

Every reader returns rows in file order, because the pipeline matches predictions to data lines by
position, and keeps strings verbatim, because the pipeline scores them without any normalisation.
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path

from e2lm_bench.taskdata.readers import DataError, checked_fields, iter_json_objects
from e2lm_bench.taskdata.sources import DATA_DIR_ENV, local_data_dir

OSF_URL = "https://osf.io/ryjfm/"

# The 67 BLiMP paradigms, as the file stems of blimp_filtered/ and blimp_fast/ (original case, sorted).
BLIMP_UIDS = (
    "adjunct_island", "anaphor_gender_agreement", "anaphor_number_agreement", "animate_subject_passive", "animate_subject_trans",
    "causative", "complex_NP_island", "coordinate_structure_constraint_complex_left_branch",
    "coordinate_structure_constraint_object_extraction", "determiner_noun_agreement_1", "determiner_noun_agreement_2",
    "determiner_noun_agreement_irregular_1", "determiner_noun_agreement_irregular_2", "determiner_noun_agreement_with_adj_2",
    "determiner_noun_agreement_with_adj_irregular_1", "determiner_noun_agreement_with_adj_irregular_2",
    "determiner_noun_agreement_with_adjective_1", "distractor_agreement_relational_noun", "distractor_agreement_relative_clause",
    "drop_argument", "ellipsis_n_bar_1", "ellipsis_n_bar_2", "existential_there_object_raising",
    "existential_there_quantifiers_1", "existential_there_quantifiers_2", "existential_there_subject_raising",
    "expletive_it_object_raising", "inchoative", "intransitive", "irregular_past_participle_adjectives",
    "irregular_past_participle_verbs", "irregular_plural_subject_verb_agreement_1", "irregular_plural_subject_verb_agreement_2",
    "left_branch_island_echo_question", "left_branch_island_simple_question", "matrix_question_npi_licensor_present",
    "npi_present_1", "npi_present_2", "only_npi_licensor_present", "only_npi_scope", "passive_1", "passive_2",
    "principle_A_c_command", "principle_A_case_1", "principle_A_case_2", "principle_A_domain_1", "principle_A_domain_2",
    "principle_A_domain_3", "principle_A_reconstruction", "regular_plural_subject_verb_agreement_1",
    "regular_plural_subject_verb_agreement_2", "sentential_negation_npi_licensor_present", "sentential_negation_npi_scope",
    "sentential_subject_island", "superlative_quantifiers_1", "superlative_quantifiers_2", "tough_vs_raising_1",
    "tough_vs_raising_2", "transitive", "wh_island", "wh_questions_object_gap", "wh_questions_subject_gap",
    "wh_questions_subject_gap_long_distance", "wh_vs_that_no_gap", "wh_vs_that_no_gap_long_distance", "wh_vs_that_with_gap",
    "wh_vs_that_with_gap_long_distance",
)
SUPPLEMENT_UIDS = ("hypernym", "qa_congruence_easy", "qa_congruence_tricky", "subject_aux_inversion", "turn_taking")
EWOK_DOMAINS = (
    "agent-properties", "material-dynamics", "material-properties", "physical-dynamics", "physical-interactions",
    "physical-relations", "quantitative-properties", "social-interactions", "social-properties", "social-relations",
    "spatial-relations",
)
ENTITY_SPLITS = ("regular", "ambiref", "move_contents")
NUMOPS = (0, 1, 2, 3, 4, 5)
COMPS_STEMS = ("comps_base", "comps_wugs", "comps_wugs_dist-before", "comps_wugs_dist-in-between")
WUG_FOLDERS = {"adj": "wug_adj_nominalization", "past": "wug_past_tense"}
# What the pipeline's reading regressions (eye tracking and self-paced reading) read from the CSV.
READING_COLUMNS = (
    "item", "word", "context_length", "Subtlex_log10", "length", "RTfirstfix", "RTfirstpass", "RTgopast",
    "RTrightbound", "self_paced_reading_time", "prev_word", "prev_item", "prev_length",
)
READING_NUMERIC = tuple(c for c in READING_COLUMNS if c not in ("item", "word", "prev_word", "prev_item"))

EVAL_SETS = ("full", "fast")
# family -> (full-eval folder, fast-eval folder)
MINIMAL_PAIR_FOLDERS = {"blimp": ("blimp_filtered", "blimp_fast"),
                        "supplement": ("supplement_filtered", "supplement_fast")}
EWOK_FOLDERS = ("ewok_filtered", "ewok_fast")
ENTITY_FOLDERS = ("entity_tracking", "entity_tracking_fast")
EWOK_OPTIONAL = ("Context2", "ConceptA", "ConceptB", "ContextType", "ContextDiff", "TargetDiff")
_GET_IT = f"download evaluation_data.zip from {OSF_URL} and unzip evaluation_data.zip there"


# --- Folders ---------------------------------------------------------------------------------------


def babylm_root() -> Path:
    """The ``evaluation_data`` folder: E2LM_DATA_DIR/evaluation_data, or E2LM_DATA_DIR itself if it holds *_eval."""
    base = local_data_dir()
    if base is None:
        raise DataError(
            f"{DATA_DIR_ENV} is not set, and the BabyLM 2025 tasks have no Hub default: expected "
            f"DIR/evaluation_data/full_eval/...; {_GET_IT} and set {DATA_DIR_ENV}=DIR "
            "(or pass --data-dir sample for the bundled sample)")
    if (base / "evaluation_data").is_dir():
        return base / "evaluation_data"
    if (base / "full_eval").is_dir() or (base / "fast_eval").is_dir():
        return base
    raise DataError(
        f"{base / 'evaluation_data' / 'full_eval'}/... not found ({DATA_DIR_ENV}={base}): {_GET_IT} "
        "(or pass --data-dir sample for the bundled sample)")


def _eval_dir(eval_set: str) -> str:
    if eval_set not in EVAL_SETS:
        raise DataError(f"unknown BabyLM eval set {eval_set!r}; expected 'full' or 'fast'")
    return f"{eval_set}_eval"


def family_path(eval_set: str, folder: str, name: str) -> Path:
    """``babylm_root()/<eval_set>_eval/<folder>/<name>``, which must be a file."""
    path = babylm_root() / _eval_dir(eval_set) / folder / name
    if not path.is_file():
        raise DataError(f"{path}: file not found (the BabyLM 2025 evaluation data: {OSF_URL}, evaluation_data.zip)")
    return path


def _first_existing(eval_set: str, places: tuple[tuple[str, str], ...]) -> Path:
    """The first of the places a file is accepted in; the error names the first (our layout's) place."""
    root = babylm_root() / _eval_dir(eval_set)
    for folder, name in places:
        if (root / folder / name).is_file():
            return root / folder / name
    return family_path(eval_set, *places[0])


def _folder(eval_set: str, folders: tuple[str, str]) -> str:
    """The full-eval or the fast-eval folder of a family."""
    _eval_dir(eval_set)  # an unknown eval set is an error naming the two
    return folders[EVAL_SETS.index(eval_set)]


# --- Field checks ----------------------------------------------------------------------------------


def _optional_text(record: dict, field: str, where: str) -> str:
    """A metadata field kept as a string: absent or null is "", a number its text, anything else an error."""
    value = record.get(field)
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        raise DataError(f"{where}: field {field!r} must be a string, got {value!r}")
    return value if isinstance(value, str) else str(value)


def _int_field(record: dict, field: str, where: str) -> int:
    value = record.get(field)
    if field not in record:
        raise DataError(f"{where}: missing field {field!r}")
    if isinstance(value, bool) or not isinstance(value, int):
        raise DataError(f"{where}: field {field!r} must be an integer, got {value!r}")
    return value


def _rows(path: Path, convert) -> list[dict]:
    rows = [convert(record, where) for where, record in iter_json_objects(path)]
    if not rows:
        raise DataError(f"{path}: no rows")
    return rows


# --- Readers ---------------------------------------------------------------------------------------


def minimal_pair_rows(eval_set: str, family: str, uid: str) -> list[dict[str, str]]:
    """BLiMP or supplement pairs of one UID: good first, as the pipeline scores them (verbatim)."""
    if family not in MINIMAL_PAIR_FOLDERS:
        raise DataError(f"unknown minimal-pair family {family!r}; expected one of {sorted(MINIMAL_PAIR_FOLDERS)}")
    folder = _folder(eval_set, MINIMAL_PAIR_FOLDERS[family])
    path = family_path(eval_set, folder, f"{uid}.jsonl")

    def convert(record: dict, where: str) -> dict[str, str]:
        row = checked_fields(record, ("sentence_good", "sentence_bad"), where)
        row.update({f: _optional_text(record, f, where) for f in ("field", "linguistics_term")})
        return row

    return _rows(path, convert)


def ewok_rows(eval_set: str, domain: str) -> list[dict[str, str]]:
    """EWoK items of one domain; the pipeline scores Target1/Target2 after Context1 (Context2 is kept, unused)."""
    folder = _folder(eval_set, EWOK_FOLDERS)
    path = family_path(eval_set, folder, f"{domain}.jsonl")

    def convert(record: dict, where: str) -> dict[str, str]:
        row = checked_fields(record, ("Context1", "Target1", "Target2"), where)
        row.update({f: _optional_text(record, f, where) for f in EWOK_OPTIONAL})
        return row

    return _rows(path, convert)


def _entity_row(record: dict, where: str) -> dict:
    row = checked_fields(record, ("input_prefix",), where)
    options = record.get("options")
    if "options" not in record:
        raise DataError(f"{where}: missing field 'options'")
    if not isinstance(options, list) or len(options) < 2 or not all(isinstance(o, str) and o for o in options):
        raise DataError(f"{where}: field 'options' must be a list of 2 or more non-empty strings, got {options!r}")
    row["options"] = list(options)
    row["numops"] = _int_field(record, "numops", where)
    row["sample_id"] = _int_field(record, "sample_id", where) if "sample_id" in record else -1
    return row


@functools.lru_cache(maxsize=16)
def _entity_file(path: str, mtime_ns: int, size: int) -> tuple[dict, ...]:
    """One parse per file and version: a split is read once for each of its six numops subtasks."""
    return tuple(_rows(Path(path), _entity_row))


def entity_tracking_rows(eval_set: str, split: str, numops: int) -> list[dict]:
    """The rows of a split with ``numops`` operations, in file order; the fast set has only ``regular``."""
    if split not in ENTITY_SPLITS:
        raise DataError(f"unknown entity-tracking split {split!r}; expected one of {list(ENTITY_SPLITS)}")
    if eval_set == "fast" and split != "regular":
        raise DataError(f"the fast eval has only the 'regular' entity-tracking split, not {split!r}")
    folder = _folder(eval_set, ENTITY_FOLDERS)
    path = family_path(eval_set, folder, f"{split}.jsonl")
    stat = path.stat()
    rows = _entity_file(str(path), stat.st_mtime_ns, stat.st_size)
    return [{**row, "options": list(row["options"])} for row in rows if row["numops"] == numops]


def wug_rows(kind: str, eval_set: str = "full") -> list[dict]:
    """WUG items: the tab-separated candidates (candidate 0 first) and the human share ``ratio`` of candidate 0."""
    if kind not in WUG_FOLDERS:
        raise DataError(f"unknown WUG kind {kind!r}; expected one of {sorted(WUG_FOLDERS)}")
    folder = WUG_FOLDERS[kind]
    path = family_path(eval_set, folder, f"{folder}.jsonl")

    def convert(record: dict, where: str) -> dict:
        sentences = checked_fields(record, ("sentences",), where)["sentences"]
        if "\t" not in sentences:
            raise DataError(f"{where}: field 'sentences' must hold tab-separated candidates, got {sentences!r}")
        if "ratio" not in record:
            raise DataError(f"{where}: missing field 'ratio'")
        try:
            ratio = float(record["ratio"])
        except (TypeError, ValueError):
            raise DataError(f"{where}: field 'ratio' must be a number, got {record['ratio']!r}") from None
        if not math.isfinite(ratio):  # a NaN would make the task's Spearman correlation NaN
            raise DataError(f"{where}: field 'ratio' must be finite, got {record['ratio']!r}")
        return {"candidates": sentences.split("\t"), "ratio": ratio}

    return _rows(path, convert)


def comps_rows(stem: str) -> list[dict[str, str]]:
    """COMPS items of one file (full eval only): two prefixes sharing one property phrase."""
    if stem not in COMPS_STEMS:
        raise DataError(f"unknown COMPS file {stem!r}; expected one of {list(COMPS_STEMS)}")
    path = family_path("full", "comps", f"{stem}.jsonl")

    def convert(record: dict, where: str) -> dict[str, str]:
        row = checked_fields(record, ("prefix_acceptable", "prefix_unacceptable", "property_phrase"), where)
        row["negative_sample_type"] = _optional_text(record, "negative_sample_type", where)
        return row

    return _rows(path, convert)


def reading_rows(eval_set: str) -> list[dict]:
    """Rows of the reading CSV, read as the pipeline reads it (``item`` as str, NaN -> "None")."""
    import pandas as pd

    path = family_path(eval_set, "reading", "reading_data.csv")
    try:
        frame = pd.read_csv(path, dtype={"item": str})
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise DataError(f"{path}: not a readable CSV ({' '.join(str(err).split())})") from None
    missing = [c for c in READING_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)} (the reading regressions need them)")
    frame["item"] = frame["item"].fillna("None")
    rows = []
    for index, record in zip(frame.index, frame[list(READING_COLUMNS)].to_dict("records")):
        where = f"{path}:{int(index) + 2}"  # the header is line 1
        if not isinstance(record["word"], str):
            raise DataError(f"{where}: field 'word' must be a string, got {record['word']!r}")
        row = {"row": int(index), "item": record["item"], "word": record["word"],
               "prev_item": record["prev_item"] if isinstance(record["prev_item"], str) else None,
               "prev_word": record["prev_word"] if isinstance(record["prev_word"], str) else None}
        for column in READING_NUMERIC:
            try:
                row[column] = float(record[column])
            except (TypeError, ValueError):
                raise DataError(f"{where}: field {column!r} must be a number, got {record[column]!r}") from None
        rows.append(row)
    return rows


_CDI_CHILDES = (("aoa", "cdi_childes.json"), ("cdi_childes", "cdi_childes.json"))
_CDI_HUMAN = (("aoa", "cdi_human.csv"), ("cdi_childes", "cdi_human.csv"))


def cdi_contexts(eval_set: str = "full") -> dict[str, list[str]]:
    """Word -> its contexts from ``cdi_childes.json``, in file order, for words longer than one character."""
    path = _first_existing(eval_set, _CDI_CHILDES)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise DataError(f"{path}:{err.lineno}: not valid JSON ({err.msg})") from None
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not valid UTF-8 ({err.reason} at byte {err.start})") from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a JSON object of word -> list of contexts, got {type(data).__name__}")
    contexts = {}
    for word, entries in data.items():
        if not isinstance(entries, list):
            raise DataError(f"{path}: word {word!r}: expected a list of contexts, got {type(entries).__name__}")
        texts = []
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict) or not isinstance(entry.get("context"), str):
                raise DataError(f"{path}: word {word!r}: entry {i} must be an object with a string 'context'")
            texts.append(entry["context"])
        if len(word) > 1:  # the pipeline's rule: single letters are not scored
            contexts[word] = texts
    return contexts


def cdi_human_path(eval_set: str = "full") -> Path:
    """``cdi_human.csv``: the share of children producing each word at 16-30 months."""
    return _first_existing(eval_set, _CDI_HUMAN)
