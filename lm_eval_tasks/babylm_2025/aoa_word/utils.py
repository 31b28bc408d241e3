from e2lm_bench.lm_eval_tasks.babylm_2025.hooks import aoa_results, aoa_word, load_aoa_words, no_context  # noqa: F401
