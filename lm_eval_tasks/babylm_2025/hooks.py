"""Document hooks of the BabyLM 2025 zero-shot tasks; each family folder's ``utils.py`` re-exports its own.

Every loader marks its documents with the pipeline's scoring rule (``task_hooks.SCORING_RULE``), so
``hf-prefix`` and the trajectory runner tokenise them as the official pipeline does; the request strings
are laid out so that ``context + continuation`` is the pipeline's candidate and the continuation its
scored completion.
"""

from __future__ import annotations

from e2lm_bench import task_hooks
from e2lm_bench.lm_eval_tasks.babylm_2025 import metrics
from e2lm_bench.task_hooks import BABYLM_BOS_WORD, BABYLM_OFFSETS, BABYLM_READING, with_rule
from e2lm_bench.taskdata import babylm
from e2lm_bench.taskdata.sources import as_test_split

READING_VARIABLES = metrics.READING_VARIABLES  # the row's columns the reading regressions use

# -- loaders (custom_dataset: called with the YAML's dataset_kwargs) ------------------------------------


def load_pairs(eval_set: str, family: str, uid: str, **_metadata):
    return as_test_split(with_rule(babylm.minimal_pair_rows(eval_set, family, uid), BABYLM_OFFSETS))


def load_ewok(eval_set: str, domain: str, **_metadata):
    return as_test_split(with_rule(babylm.ewok_rows(eval_set, domain), BABYLM_OFFSETS))


def load_entity_tracking(eval_set: str, split: str, numops: int, **_metadata):
    return as_test_split(with_rule(babylm.entity_tracking_rows(eval_set, split, int(numops)), BABYLM_OFFSETS))


def load_comps(stem: str, **_metadata):
    return as_test_split(with_rule(babylm.comps_rows(stem), BABYLM_OFFSETS))


def load_wug(eval_set: str, kind: str, **_metadata):
    return as_test_split(with_rule(babylm.wug_rows(kind, eval_set=eval_set), BABYLM_OFFSETS))


def load_reading(eval_set: str, **_metadata):
    """Two documents per CSV row: the word after its context, and the previous word after its own (when the
    row has one), so that the corpus-level regressions get both surprisals of every row."""
    docs = []
    for row in babylm.reading_rows(eval_set):
        variables = {k: row[k] for k in READING_VARIABLES}
        docs.append({"row": row["row"], "kind": "word", "context": row["item"], "word": row["word"],
                     "variables": variables})
        if row["prev_item"] is not None:
            docs.append({"row": row["row"], "kind": "prev", "context": row["prev_item"],
                         "word": row["prev_word"], "variables": variables})
    return as_test_split(with_rule(docs, BABYLM_READING))


def load_aoa_words(eval_set: str = "full", **_metadata):
    """One document per CDI word; the pipeline scores the word after BOS alone and repeats that score once per
    context of the word, so ``contexts`` is kept as a count."""
    words = babylm.cdi_contexts(eval_set)
    return as_test_split(with_rule([{"word": w, "contexts": len(c)} for w, c in words.items()], BABYLM_BOS_WORD))


# -- requests ------------------------------------------------------------------------------------------

no_context = task_hooks.no_context
good_bad_choices = task_hooks.good_bad_choices


def ewok_context(doc: dict) -> str:
    return doc["Context1"]


def ewok_choices(doc: dict) -> list[str]:
    return [" " + doc["Target1"], " " + doc["Target2"]]


def entity_context(doc: dict) -> str:
    return doc["input_prefix"]


def entity_choices(doc: dict) -> list[str]:
    return list(doc["options"])


def comps_gold(doc: dict) -> int:
    """``multiple_input``: the text hook gives the gold context's index; the contexts are the choices."""
    return 0


def comps_contexts(doc: dict) -> list[str]:
    return [doc["prefix_acceptable"] + " ", doc["prefix_unacceptable"] + " "]


def comps_target(doc: dict) -> str:
    return doc["property_phrase"]


def wug_choices(doc: dict) -> list[str]:
    return list(doc["candidates"])


def reading_context(doc: dict) -> str:
    return doc["context"]


def reading_word(doc: dict) -> str:
    return doc["word"]


def aoa_word(doc: dict) -> str:
    return doc["word"]


# -- results -------------------------------------------------------------------------------------------

choice_results = task_hooks.pipeline_choice_results


def wug_results(doc: dict, results: list[tuple[float, bool]]) -> dict:
    return {"spearman": metrics.wug_item([ll for ll, _ in results], doc["ratio"])}


def reading_results(doc: dict, results: list[tuple[float, bool]]) -> dict:
    item = (doc["row"], doc["kind"], -results[0][0], doc["variables"])
    return {"eye_tracking": item, "self_paced_reading": item}


def aoa_results(doc: dict, results: list[tuple[float, bool]]) -> dict:
    return {"surprisal": -results[0][0]}


wug_spearman = metrics.wug_spearman
eye_tracking_score = metrics.eye_tracking_score
self_paced_reading_score = metrics.self_paced_reading_score
