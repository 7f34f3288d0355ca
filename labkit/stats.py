"""Summary statistics of a comparison's history.

The 2017 study summarised each optimizer by the minimum, mean and maximum of
every metric over its epochs. labkit computes that table and, when several
seeds ran, the mean and spread across seeds of each run's final and best
values.
"""

import math

import numpy as np
import pandas as pd

METRICS = (
    "time_per_epoch_s",
    "loss",
    "accuracy",
    "val_loss",
    "val_accuracy",
    "test_loss",
    "test_accuracy",
)

METRIC_LABELS = {
    "time_per_epoch_s": "time per epoch (s)",
    "loss": "training loss",
    "accuracy": "training accuracy",
    "val_loss": "validation loss",
    "val_accuracy": "validation accuracy",
    "test_loss": "test loss",
    "test_accuracy": "test accuracy",
}

SUMMARY_COLUMNS = (
    "optimizer", "metric", "min", "mean", "max", "epochs", "seeds",
    "final_mean", "final_std", "best_mean", "best_std",
)


def higher_is_better(metric):
    """Return whether a larger value of `metric` is better."""
    return metric.endswith("accuracy")


def summarize(history, metrics=METRICS):
    """Summarise a history per optimizer and metric.

    Args:
        history: A DataFrame with at least `optimizer`, `seed`, `epoch` and
            metric columns, as `ResultsStore.history` returns.
        metrics: The metric columns to summarise; metrics with no finite
            value are left out.

    Returns:
        A DataFrame with the columns of `SUMMARY_COLUMNS`: `min`, `mean` and
        `max` over all epochs of all seeds; `epochs` and `seeds` counted;
        `final_*` and `best_*` the mean and sample standard deviation across
        seeds of each run's last and best value (NaN for one seed). Best is
        the maximum for accuracies and the minimum otherwise. Optimizers keep
        their order of first appearance.
    """
    records = []
    if history.empty:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    for optimizer in dict.fromkeys(history["optimizer"]):
        rows = history[history["optimizer"] == optimizer].sort_values(["seed", "epoch"])
        for metric in metrics:
            if metric not in rows or not np.isfinite(rows[metric].to_numpy(float)).any():
                continue
            values = rows[metric].astype(float)
            finite = values[np.isfinite(values)]
            per_seed = rows.assign(value=values).dropna(subset=["value"]).groupby("seed")["value"]
            finals = per_seed.last()
            bests = per_seed.max() if higher_is_better(metric) else per_seed.min()
            records.append(
                {
                    "optimizer": optimizer,
                    "metric": metric,
                    "min": finite.min(),
                    "mean": finite.mean(),
                    "max": finite.max(),
                    "epochs": int(rows["epoch"].nunique()),
                    "seeds": int(rows["seed"].nunique()),
                    "final_mean": finals.mean(),
                    "final_std": finals.std(ddof=1) if len(finals) > 1 else math.nan,
                    "best_mean": bests.mean(),
                    "best_std": bests.std(ddof=1) if len(bests) > 1 else math.nan,
                }
            )
    return pd.DataFrame.from_records(records, columns=SUMMARY_COLUMNS)


def _format_value(metric, value):
    if not math.isfinite(value):
        return "-"
    return f"{value:.1f}" if metric == "time_per_epoch_s" else f"{value:.4f}"


def study_table(summary):
    """Lay a summary out as the 2017 study did: metrics down, optimizers across.

    Each cell reads `min / mean / max`. With several seeds a second block
    gives `final mean ± std` per optimizer.

    Returns:
        A DataFrame of strings, indexed by metric label.
    """
    optimizers = list(dict.fromkeys(summary["optimizer"]))
    metrics = [m for m in METRICS if m in set(summary["metric"])]
    table = {}
    for optimizer in optimizers:
        column = {}
        for metric in metrics:
            match = summary[(summary["optimizer"] == optimizer) & (summary["metric"] == metric)]
            if match.empty:
                column[METRIC_LABELS[metric]] = "-"
                continue
            item = match.iloc[0]
            column[METRIC_LABELS[metric]] = " / ".join(
                _format_value(metric, item[key]) for key in ("min", "mean", "max")
            )
            if item["seeds"] > 1:
                column[f"{METRIC_LABELS[metric]}, final across seeds"] = (
                    f"{_format_value(metric, item['final_mean'])} ± "
                    f"{_format_value(metric, item['final_std'])}"
                )
        table[f"{optimizer} min / mean / max"] = column
    frame = pd.DataFrame(table)
    frame.index.name = "metric"
    return frame
