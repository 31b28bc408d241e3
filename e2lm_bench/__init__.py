"""Evaluation of small language models across training: BabyLM tasks for lm-eval, E2LM scores, baselines."""

__version__ = "0.2.0"
