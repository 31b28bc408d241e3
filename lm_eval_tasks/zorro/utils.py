from e2lm_bench.task_hooks import good_bad_choices as doc_to_choice  # noqa: F401
from e2lm_bench.task_hooks import minimal_pair_results as process_results  # noqa: F401
from e2lm_bench.task_hooks import no_context  # noqa: F401
from e2lm_bench.taskdata.sources import as_test_split, zorro_rows


def load(paradigm: str, **_metadata):
    return as_test_split(zorro_rows(paradigm))
