"""The summary table and the per-epoch history as text files.

CSV files keep full precision for further computation. The Markdown and
LaTeX tables are for reading, so they round: times to 0.1 s and every other
metric to 4 decimals.
"""

import json
import math

import numpy as np
import pandas as pd

from labkit import stats

MISSING = "-"


def _format_value(metric, value):
    if value is None or not math.isfinite(value):
        return MISSING
    return f"{value:.1f}" if metric == "time_per_epoch_s" else f"{value:.4f}"


def display_table(summary):
    """Return the summary as rounded strings, one row per optimizer and metric.

    The columns are optimizer, metric, and the minimum, mean and maximum
    over every epoch of every seed. When any optimizer ran several seeds,
    the mean and sample standard deviation across seeds of each run's final
    and best value follow. The counts of epochs and seeds come last.
    """
    several_seeds = bool(len(summary)) and int(summary["seeds"].max()) > 1
    rows = []
    for item in summary.to_dict("records"):
        metric = item["metric"]
        row = {
            "Optimizer": item["optimizer"],
            "Metric": stats.METRIC_LABELS.get(metric, metric),
            "Min": _format_value(metric, item["min"]),
            "Mean": _format_value(metric, item["mean"]),
            "Max": _format_value(metric, item["max"]),
        }
        if several_seeds:
            for key, label in (
                ("final_mean", "Final mean"), ("final_std", "Final std"),
                ("best_mean", "Best mean"), ("best_std", "Best std"),
            ):
                row[label] = _format_value(metric, item[key])
        row["Epochs"] = str(item["epochs"])
        row["Seeds"] = str(item["seeds"])
        rows.append(row)
    columns = ["Optimizer", "Metric", "Min", "Mean", "Max"]
    if several_seeds:
        columns += ["Final mean", "Final std", "Best mean", "Best std"]
    return pd.DataFrame(rows, columns=[*columns, "Epochs", "Seeds"])


def summary_csv(summary):
    """Return the summary of `labkit.stats.summarize` as CSV text."""
    return summary.to_csv(index=False)


def summary_markdown(summary):
    """Return the rounded summary as a GitHub-flavoured Markdown table."""
    table = display_table(summary)
    alignment = ["left", "left", *["right"] * (len(table.columns) - 2)]
    # disable_numparse keeps the rounding as written, trailing zeros included.
    markdown = table.to_markdown(index=False, colalign=alignment, disable_numparse=True)
    return markdown + "\n"


def summary_latex(summary, *, label="comparison"):
    """Return the rounded summary as a LaTeX `table` with booktabs rules.

    The document needs `\\usepackage{booktabs}`. Text cells are escaped, so
    optimizer names with `_` or `&` typeset as written.
    """
    table = display_table(summary)
    several_seeds = "Final mean" in table.columns
    caption = "Minimum, mean and maximum of each metric over all epochs"
    caption += " and seeds; final and best values as mean and standard deviation across seeds." \
        if several_seeds else "."
    styler = table.style.hide(axis="index").format(escape="latex")
    latex = styler.to_latex(
        column_format="ll" + "r" * (len(table.columns) - 2),
        hrules=True,
        position="htbp",
        position_float="centering",
        caption=caption,
        label=f"tab:{label}",
    )
    return "% Needs \\usepackage{booktabs} in the preamble.\n" + latex


def _finite_history(history):
    frame = history.copy()
    numeric = frame.select_dtypes(include="number").columns
    frame[numeric] = frame[numeric].replace([np.inf, -np.inf], np.nan)
    return frame


def history_csv(history):
    """Return every epoch of every run as CSV; a missing value is empty."""
    return _finite_history(history).to_csv(index=False)


def history_json(history):
    """Return every epoch of every run as a JSON list of objects, NaN as null."""
    records = []
    for record in history.to_dict("records"):
        records.append({key: _json_value(value) for key, value in record.items()})
    return json.dumps(records, indent=1, allow_nan=False) + "\n"


def _json_value(value):
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is pd.NaT or value is pd.NA:
        return None
    return value
