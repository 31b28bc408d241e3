from e2lm_bench.lm_eval_tasks.babylm_2025.hooks import choice_results, ewok_choices, ewok_context, load_ewok  # noqa: F401
