"""Plots of the training logs that fine-tuning writes (``rewards.csv`` of ``e2lm-bench rl``, ``rounds.csv`` of
``interact``): they show the training itself, beside the scores of its checkpoints."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from e2lm_bench.report.plots import new_figure, save

REWARD_LOG_EXTRAS = ("step", "reward", "kl", "completion_length")  # rewards.csv columns that are not a named reward


def read_training_log(path: str | Path) -> pd.DataFrame:
    """A training log (``rewards.csv`` of ``e2lm-bench rl``, ``rounds.csv`` of ``interact``), in the order of its
    first column (step or round)."""
    log = pd.read_csv(path)
    return log.sort_values(log.columns[0], ignore_index=True)


def plot_rewards(log: pd.DataFrame, run: str, path: Path) -> str:
    """Reward per RL step, thin, and its trailing moving average, bold; returns the caption.

    A named reward equal to the total (one reward, weight 1) is drawn once, as the total.
    """
    window = max(1, len(log) // 10)
    named = [c for c in log.columns if c not in REWARD_LOG_EXTRAS]
    alone = [c for c in named if not log[c].equals(log["reward"])]
    same = f" (= {', '.join(c for c in named if c not in alone)})" if len(alone) < len(named) else ""
    figure = new_figure(8, 4.5)
    ax = figure.add_subplot()
    for column, color in zip(["reward", *alone], ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3")):
        label = f"{run}: {column}{same if column == 'reward' else ''}"
        ax.plot(log["step"], log[column], linewidth=0.8, alpha=0.35, color=color, label=f"{label}, per step")
        ax.plot(log["step"], log[column].rolling(window, min_periods=1).mean(), linewidth=2, color=color,
                label=f"{label}, {window}-step moving average")
    ax.set_xlabel("RL step (optimizer updates)")
    ax.set_ylabel("reward (mean over the step's completions)")
    ax.set_title(f"{run} — reward per RL step")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False, title="run")
    save(figure, path)
    return (f"{run}: reward per RL step (thin) and its trailing {window}-step moving average (bold), "
            f"{len(log)} steps; each step's value is the mean over its sampled completions.")


def plot_rounds(log: pd.DataFrame, run: str, path: Path) -> str:
    """The two losses and the SimPO margin per interaction round, side by side; returns the caption."""
    figure = new_figure(10, 4)
    losses, margin = figure.subplots(1, 2)
    for column, color in (("sft_loss", "#4C72B0"), ("simpo_loss", "#DD8452")):
        losses.plot(log["round"], log[column], marker="o", color=color, label=f"{run}: {column}")
    margin.plot(log["round"], log["margin"], marker="o", color="#55A868", label=f"{run}: margin")
    losses.set_ylabel("loss, nats (LM: per token; SimPO: per pair)")
    margin.set_ylabel("β · (mean token log-prob: winning − losing)")
    for ax, title in ((losses, "losses"), (margin, "SimPO margin")):
        ax.set_xlabel("interaction round")
        ax.set_xticks(log["round"])
        ax.set_title(f"{run} — {title}")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, frameon=False)
    save(figure, path)
    return (f"{run}: per round, the mean over its steps of the LM loss on the corrected texts, the SimPO loss and "
            f"the margin between the corrected and the student's own continuations; {len(log)} rounds.")
