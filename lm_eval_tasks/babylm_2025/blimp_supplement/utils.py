from e2lm_bench.lm_eval_tasks.babylm_2025.hooks import choice_results, good_bad_choices, load_pairs, no_context  # noqa: F401
