"""Builders of task data in the E2LM_DATA_DIR layout."""
