from e2lm_bench.lm_eval_tasks.babylm_2025.hooks import (  # noqa: F401
    eye_tracking_score,
    load_reading,
    reading_context,
    reading_results,
    reading_word,
    self_paced_reading_score,
)
