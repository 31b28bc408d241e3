"""Measures of a benchmark over checkpoint series, read from the results table: the E2LM competition's
scores (SQ, RC, CS), signal-to-noise, decision accuracy, item-bootstrap intervals, ages of acquisition."""
