"""Mean, minimum and maximum of each epoch's metrics across seeds.

Plain Python, so that the numbers go to Bokeh as Python floats, and NaN
wherever no seed has a finite value yet.
"""

import math

from labkit.live._figures import EPOCH_METRICS


def finite_or_nan(value):
    """Return `value` as a float, or NaN if it is missing, NaN or infinite."""
    if value is None:
        return math.nan
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number if math.isfinite(number) else math.nan


class EpochAggregator:
    """The epoch rows of every seed, summarised per optimizer and epoch."""

    def __init__(self):
        self._rows = {}  # (optimizer, epoch) -> {seed: row}

    def add(self, optimizer, seed, row):
        """Record a seed's stored epoch row; a repeated epoch replaces it."""
        self._rows.setdefault((optimizer, int(row["epoch"])), {})[seed] = row

    def epochs(self, optimizer):
        """Return the epochs that have a row for `optimizer`, ascending."""
        return sorted(epoch for name, epoch in self._rows if name == optimizer)

    def summary_row(self, optimizer, epoch):
        """Return the columns of `epoch_columns()` for one epoch.

        Each metric's mean, minimum and maximum cover the seeds with a
        finite value; `seeds` counts the seeds with a row.
        """
        rows = self._rows.get((optimizer, epoch), {})
        summary = {"epoch": epoch, "seeds": len(rows)}
        for metric in EPOCH_METRICS:
            values = [finite_or_nan(row.get(metric)) for row in rows.values()]
            values = [value for value in values if not math.isnan(value)]
            if values:
                summary[f"{metric}_mean"] = math.fsum(values) / len(values)
                summary[f"{metric}_min"] = min(values)
                summary[f"{metric}_max"] = max(values)
            else:
                for statistic in ("mean", "min", "max"):
                    summary[f"{metric}_{statistic}"] = math.nan
        return summary

    def clear(self):
        """Forget every row."""
        self._rows.clear()
