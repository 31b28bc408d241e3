"""Word age of acquisition as BabyLM 2025 scores it: model ages against children's, one Pearson r.

Follows the BabyLM 2025 evaluation pipeline (babylm/evaluation-pipeline-2025, ``main`` at bf55c11:
``AoA_word/run.py``, ``AoA_word/evaluation_functions.py`` and ``utils.AoAEvaluator``), which applies Chang & Bergen
2022 ("Word acquisition in neural language models") to the CDI words:

- Child age: a bounded four-parameter sigmoid a/(1+exp(-b(x-c)))+d of the share of children producing the word
  against age in months (``cdi_human.csv``), and the age where it crosses 0.5, inside the observed ages.
- Model age: the same sigmoid, unbounded, of minus the surprisal (nats) against log10(words seen + 1), pooling
  every (checkpoint, surprisal) point of the word; the crossing is halfway between log2(300,000) (bits) and the
  lowest surprisal (nats) -- the pipeline mixes the two units, kept here. The age is returned on the log10 scale.
- Score (``curve_fitness``): Pearson r between model and child ages over the words that have both; 0.0 with
  fewer than three such words.

The pipeline scores each word after the BOS token alone (its default ``use_bos_only=True``): the contexts of
``cdi_childes.json`` are not used, and the one surprisal is repeated once per context of the word. Callers give
the points already repeated so; ``read_surprisal_json`` reads the pipeline's own ``surprisal.json`` into them.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import OptimizeWarning, curve_fit
from scipy.stats import pearsonr

from e2lm_bench.evaluation.checkpoints import babylm_words

CHILD_THRESHOLD = 0.5
APPROXIMATE_VOCAB = 300_000  # the pipeline's "random chance" surprisal is log2 of this
MAX_EVALUATIONS = 1000
MIN_POINTS = 3
MIN_WORDS = 3
AGE_COLUMNS = tuple(str(age) for age in range(16, 31))
_BILLIONS = re.compile(r"chck_(\d+)B", re.IGNORECASE)


def sigmoid(x, a, b, c, d):
    """The pipeline's parametrisation: a / (1 + exp(-b (x - c))) + d."""
    return a / (1 + np.exp(-b * (x - c))) + d


def _fit(x: np.ndarray, y: np.ndarray, **kwargs) -> np.ndarray | None:
    """Fitted (a, b, c, d), or None when the fit fails (as in the pipeline, a failed fit is no age)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimizeWarning)
        warnings.simplefilter("ignore", RuntimeWarning)  # exp overflow far from the midpoint
        try:
            return curve_fit(sigmoid, x, y, maxfev=MAX_EVALUATIONS, **kwargs)[0]
        except (RuntimeError, ValueError, TypeError, np.linalg.LinAlgError):
            # TypeError: fewer points than parameters for the unbounded (Levenberg-Marquardt) fit
            return None


def _crossing(a: float, b: float, c: float, d: float, level: float) -> float | None:
    """Where the sigmoid reaches ``level``; None for a non-rising fit or a level it never reaches."""
    if b <= 0 or a <= 0 or not d < level < a + d:
        return None
    return float(c - np.log(a / (level - d) - 1) / b)


def child_aoa(ages, proportions) -> float | None:
    """Age in months at which the fitted share of children reaches 0.5; None with fewer than three known
    shares, a failed or non-rising fit, or a crossing outside the first and last known ages."""
    ages, proportions = np.asarray(ages, dtype=float), np.asarray(proportions, dtype=float)
    known = ~np.isnan(proportions)
    ages, proportions = ages[known], proportions[known]
    if len(proportions) < MIN_POINTS:
        return None
    params = _fit(ages, proportions, p0=[1.0, 0.1, float(np.mean(ages)), 0.0],
                  bounds=([0.0, 0.0, ages[0], -0.5], [2.0, 1.0, ages[-1], 0.5]))
    if params is None:
        return None
    aoa = _crossing(*params, level=CHILD_THRESHOLD)
    if aoa is None or aoa < ages[0] or aoa > ages[-1]:
        return None
    return aoa


def model_aoa(steps, surprisals) -> float | None:
    """log10(words + 1) at which the fitted minus-surprisal curve crosses halfway between log2(300,000) and the
    lowest surprisal; None with fewer than three points (NaN ones counted, as in the pipeline), no finite
    surprisal, a failed or non-rising fit, or a crossing outside the first and last steps.

    The pipeline checks the crossing against the first and last entries of the pooled list (after dropping NaN
    surprisals), not its minimum and maximum; that behaviour is kept, so give the points in checkpoint order."""
    steps, surprisals = np.asarray(steps, dtype=float), np.asarray(surprisals, dtype=float)
    if steps.shape != surprisals.shape:
        raise ValueError(f"{len(steps)} steps but {len(surprisals)} surprisals")
    if len(surprisals) < MIN_POINTS:
        return None
    finite = ~np.isnan(surprisals)
    if not finite.any():
        return None
    steps, surprisals = steps[finite], surprisals[finite]
    chance = np.log2(APPROXIMATE_VOCAB)
    threshold = chance - 0.5 * (chance - surprisals.min())
    x, y = np.log10(steps + 1), -surprisals
    params = _fit(x, y, p0=[y.max() - y.min(), 1.0, float(np.mean(x)), y.min()])
    if params is None:
        return None
    log_aoa = _crossing(*params, level=-threshold)
    if log_aoa is None:
        return None
    words = 10**log_aoa - 1
    if words < steps[0] or words > steps[-1]:
        return None
    return log_aoa


def read_cdi_human(path) -> tuple[list[str], list[int], pd.DataFrame]:
    """``cdi_human.csv``: the words (file order, each once), the age columns 16..30 present (months), and a
    table of shares indexed by word (the first row of a word that appears twice) with those ages as columns."""
    frame = pd.read_csv(path)
    if "word" not in frame.columns:
        raise ValueError(f"{path}: no 'word' column")
    columns = [column for column in AGE_COLUMNS if column in frame.columns]
    if not columns:
        raise ValueError(f"{path}: none of the age columns {AGE_COLUMNS[0]}..{AGE_COLUMNS[-1]}")
    table = frame.drop_duplicates("word", keep="first").set_index("word")[columns].astype(float)
    table.columns = [int(column) for column in columns]
    return list(table.index), [int(column) for column in columns], table


def word_aoa_score(points: Iterable[tuple[str, int, float]], cdi_human_path) -> dict:
    """Pearson r between model and child ages over the words with both (``curve_fitness``; 0.0 and a p-value of
    None with fewer than three), with the words and their ages in the order the words first appear in ``points``."""
    pooled: dict[str, tuple[list, list]] = {}
    for word, steps, surprisal in points:
        word_steps, word_surprisals = pooled.setdefault(word, ([], []))
        word_steps.append(steps)
        word_surprisals.append(np.nan if surprisal is None else float(surprisal))
    _, ages, table = read_cdi_human(cdi_human_path)
    words, model_ages, child_ages = [], [], []
    for word, (steps, surprisals) in pooled.items():
        if word not in table.index:
            continue
        child = child_aoa(ages, table.loc[word].to_numpy())
        model = None if child is None else model_aoa(steps, surprisals)
        if model is not None:
            words.append(word)
            model_ages.append(model)
            child_ages.append(child)
    result = {"curve_fitness": 0.0, "p_value": None, "n_words": len(words),
              "words": words, "model_aoa": model_ages, "child_aoa": child_ages}
    if len(words) >= MIN_WORDS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # constant ages: r is NaN, which is the answer
            test = pearsonr(model_ages, child_ages)
        result.update(curve_fitness=float(test.statistic), p_value=float(test.pvalue))
    return result


def words_from_checkpoint_name(name: str) -> int | None:
    """Words seen by a BabyLM checkpoint ``chck_<N>M`` / ``K`` (``evaluation.checkpoints``) or ``B``."""
    words = babylm_words(name)
    if words is None:
        match = _BILLIONS.fullmatch(re.split(r"[\\/]", name.rstrip("/\\"))[-1])
        words = int(match.group(1)) * 1_000_000_000 if match else None
    return words


def checkpoint_name(words: int) -> str:
    """The pipeline's revision name for a word count: ``chck_<N>M`` (or ``K``); other counts as plain digits."""
    words = int(words)
    for unit, size in (("M", 1_000_000), ("K", 1_000)):
        if words and words % size == 0:
            return f"chck_{words // size}{unit}"
    return str(words)


def pipeline_surprisal_json(points: Iterable[tuple[str, int, float]], model_name: str) -> dict:
    """The pipeline's ``surprisal.json`` (BOS-only scoring): one result per point, ``context_id`` counting the
    points of the same word and checkpoint in order."""
    results, seen = [], {}
    for word, steps, surprisal in points:
        context_id = seen.get((word, steps), 0)
        seen[(word, steps)] = context_id + 1
        results.append({"step": checkpoint_name(steps), "word_count": int(steps), "target_word": word,
                        "context_id": context_id, "context": "BOS_ONLY",
                        "surprisal": float("nan") if surprisal is None else float(surprisal)})
    n_steps = len({r["step"] for r in results})
    metadata = {"model_name": model_name, "use_bos_only": True, "total_steps": n_steps, "completed_steps": n_steps}
    return {"metadata": metadata, "results": results}


def read_surprisal_json(path) -> list[tuple[str, int, float]]:
    """``(word, words seen, surprisal)`` per result of a ``surprisal.json``, in file order. The words seen come
    from the ``step`` name (``chck_10M``), or ``word_count`` when the name has none; a result whose surprisal is
    not a number is left out, as the pipeline skips it."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    results = data.get("results") if isinstance(data, dict) else data
    if not isinstance(results, list):
        raise ValueError(f"{path}: no 'results' list")
    points = []
    for index, entry in enumerate(results):
        step = entry.get("step")
        words = int(step) if isinstance(step, (int, float)) else words_from_checkpoint_name(str(step))
        if words is None and entry.get("word_count") is not None:
            words = int(entry["word_count"])
        if words is None:
            raise ValueError(f"{path}: result {index} ({step!r}) names no word count")
        if not isinstance(entry.get("surprisal"), (int, float)):
            continue
        points.append((entry["target_word"], words, float(entry["surprisal"])))
    return points


def run_points(run_dir, repeats: dict[str, int] | None = None) -> dict[str, list[tuple[str, int, float]]]:
    """``(word, words seen, surprisal)`` per model from the ``aoa_word`` samples of a trajectory run, in
    checkpoint order. ``repeats`` (word -> its number of contexts) repeats each point as the pipeline does;
    without it each point comes once, which gives the same least-squares fit."""
    from e2lm_bench.evaluation.results import read_results, samples_path

    table = read_results(run_dir)
    parts = table[table["task"] == "aoa_word"][["model", "checkpoint", "words"]].drop_duplicates()
    points: dict[str, list] = {}
    for model, checkpoint, words in sorted(parts.itertuples(index=False), key=lambda p: (p[0], p[2])):
        if words is None or not np.isfinite(words):
            raise ValueError(f"{run_dir}: checkpoint {checkpoint} of {model} names no word count (chck_<N>M)")
        path = samples_path(run_dir, model, checkpoint, "aoa_word")
        if not path.is_file():
            raise ValueError(f"{path}: missing (the aoa_word samples of {model} {checkpoint})")
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if record["task"] == "aoa_word":
                word, surprisal = record["target"], -record["loglikelihoods"][0]
                points.setdefault(model, []).extend([(word, int(words), surprisal)] * (repeats or {}).get(word, 1))
    return points
