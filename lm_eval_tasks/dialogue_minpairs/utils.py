from e2lm_bench.task_hooks import minimal_pair_results as process_results  # noqa: F401
from e2lm_bench.taskdata.sources import as_test_split, dialogue_minpairs_rows


def load(variant: str, **_metadata):
    return as_test_split(dialogue_minpairs_rows(variant))


def doc_to_choice(doc: dict) -> list[str]:
    return [doc["chosen"], doc["rejected"]]
