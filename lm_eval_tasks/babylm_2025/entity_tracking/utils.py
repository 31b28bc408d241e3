from e2lm_bench.lm_eval_tasks.babylm_2025.hooks import (  # noqa: F401
    choice_results,
    entity_choices,
    entity_context,
    load_entity_tracking,
)
