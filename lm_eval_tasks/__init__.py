"""lm-eval task definitions of e2lm-bench. Point lm-eval at this folder with ``--include_path``."""

from pathlib import Path

TASKS_DIR = Path(__file__).resolve().parent
