from e2lm_bench.lm_eval_tasks.babylm_2025.hooks import load_wug, no_context, wug_choices, wug_results, wug_spearman  # noqa: F401
