"""The human-readable view of run folders: plots, ``report.md`` and a self-contained ``report.html``.

Importing it does not import matplotlib: the plotting functions do, when a report is written.
"""

from e2lm_bench.report.build import write_report, write_runs_report
from e2lm_bench.report.runs import ReportError
from e2lm_bench.report.training_plots import read_training_log

__all__ = ["ReportError", "read_training_log", "write_report", "write_runs_report"]
