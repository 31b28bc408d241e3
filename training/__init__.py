"""Models to evaluate: tokenizers, model presets and baselines (pretraining and RL come later)."""
