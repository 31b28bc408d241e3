from e2lm_bench.task_hooks import minimal_pair_results as process_results  # noqa: F401
from e2lm_bench.task_hooks import no_context  # noqa: F401
from e2lm_bench.taskdata.sources import as_test_split, lexical_decision_rows


def load(**_metadata):
    return as_test_split(lexical_decision_rows())


def doc_to_choice(doc: dict) -> list[str]:
    return [doc["lexeme"], doc["wug"]]
