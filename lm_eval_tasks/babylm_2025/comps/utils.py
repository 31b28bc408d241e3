from e2lm_bench.lm_eval_tasks.babylm_2025.hooks import (  # noqa: F401
    choice_results,
    comps_contexts,
    comps_gold,
    comps_target,
    load_comps,
)
