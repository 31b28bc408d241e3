"""The human-readable view of run folders: plots, ``report.md`` and a self-contained ``report.html``."""
