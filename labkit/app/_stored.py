"""Stored comparisons of the shared results store, listed and overlaid on plots.

Every training of the app writes to one results store, so a student who
reloads the page finds their comparisons again, finished or partial. The
comparison's name starts with the student's name, so the list can show
each student only their own runs.
"""

import math

from bokeh.models import LegendItem

from labkit.live import PALETTE
from labkit.reference import STUDY_RESULTS

OWNER_SEPARATOR = " | "
DEFAULT_LIMIT = 50
# Figures of the live dashboard and the metrics drawn on each, with the
# line dash of a stored run's curve.
OVERLAY_METRICS = {
    "loss": (("loss", "dotted"), ("val_loss", "dotdash")),
    "accuracy": (("accuracy", "dotted"), ("val_accuracy", "dotdash")),
    "time": (("time_per_epoch_s", "dotted"),),
}
OVERLAY_COLOR = "#555555"


def comparison_name(owner, optimizers):
    """Return the stored name of a comparison: owner, then optimizers."""
    label = " vs ".join(optimizers)
    owner = owner.strip()
    return f"{owner}{OWNER_SEPARATOR}{label}" if owner else label


def owner_of(name):
    """Return the owner part of a stored comparison name, or `""`."""
    owner, separator, _ = name.partition(OWNER_SEPARATOR)
    return owner if separator else ""


def list_comparisons(store, owner=None, limit=DEFAULT_LIMIT):
    """List stored comparisons, newest first, with their runs' statuses.

    Args:
        store: A `labkit.training.ResultsStore`.
        owner: Keep only comparisons of this owner; `None` or `""` keeps
            every comparison.
        limit: Most comparisons returned.

    Returns:
        A list of dicts with `id`, `name`, `owner`, `created_at`,
        `statuses` (status to count) and `epochs` (epochs stored in all).
    """
    items = []
    for comparison in reversed(store.comparisons()):
        if owner and owner_of(comparison["name"]) != owner.strip():
            continue
        statuses = {}
        epochs = 0
        for run in store.runs(comparison["id"]):
            statuses[run["status"]] = statuses.get(run["status"], 0) + 1
            epochs += len(store.epochs(run["id"]))
        items.append({
            **comparison,
            "owner": owner_of(comparison["name"]),
            "statuses": statuses,
            "epochs": epochs,
        })
        if len(items) >= limit:
            break
    return items


def describe_comparison(item):
    """Return one line for the list of stored comparisons."""
    when = item["created_at"].strftime("%Y-%m-%d %H:%M")
    statuses = ", ".join(f"{count} {status}" for status, count in item["statuses"].items())
    return f"{when} · {item['name']} · {statuses} · {item['epochs']} epochs"


def _mean_per_epoch(history, optimizer, metric):
    rows = history[history["optimizer"] == optimizer]
    if metric not in rows or rows.empty:
        return [], []
    means = rows.groupby("epoch")[metric].mean()
    points = [(int(epoch), float(value)) for epoch, value in means.items() if math.isfinite(value)]
    return [epoch for epoch, _ in points], [value for _, value in points]


def _add_legend_item(fig, label, renderers):
    if fig.legend:
        fig.legend[0].items.append(LegendItem(label=label, renderers=renderers))


def overlay_history(figures, history, label):
    """Draw a stored comparison's mean curves on the dashboard's figures.

    Args:
        figures: A dashboard's `Figures` (`Dashboard.figures`).
        history: A DataFrame as `ResultsStore.history` returns it.
        label: Prefix of the legend entries, such as the comparison's name.

    Returns:
        The number of curves drawn.
    """
    drawn = 0
    for name, curves in OVERLAY_METRICS.items():
        fig = figures.figures.get(name)
        if fig is None:
            continue
        for optimizer in dict.fromkeys(history["optimizer"]):
            for metric, dash in curves:
                epochs, values = _mean_per_epoch(history, optimizer, metric)
                if not epochs:
                    continue
                line = fig.line(
                    epochs, values, line_color=OVERLAY_COLOR, line_dash=dash, line_width=2,
                    line_alpha=0.8,
                )
                kind = "validation" if metric.startswith("val_") else "training"
                _add_legend_item(fig, f"{label}: {optimizer} {kind}", [line])
                drawn += 1
    return drawn


def overlay_study(figures, styles=None):
    """Draw the 2017 study's published means as horizontal lines.

    The study reported, per optimizer, the minimum, mean and maximum over
    200 epochs of the CIFAR-10 CNN. Each mean becomes one horizontal line on
    the loss and accuracy figures: solid for training, dashed for
    validation, and in the optimizer's colour when the dashboard has one.

    Args:
        figures: A dashboard's `Figures`.
        styles: Mapping from optimizer to `(colour, shape)`, as
            `Dashboard.styles`.

    Returns:
        The number of lines drawn.
    """
    styles = styles or {}
    drawn = 0
    for name in ("loss", "accuracy"):
        fig = figures.figures.get(name)
        if fig is None:
            continue
        for metric, dash in ((name, "solid"), (f"val_{name}", "dashed")):
            for position, (optimizer, (_, mean, _)) in enumerate(STUDY_RESULTS[metric].items()):
                color = styles.get(optimizer, (PALETTE[position % len(PALETTE)], None))[0]
                span = fig.hspan(y=[mean], line_color=color, line_dash=dash, line_width=1,
                                 line_alpha=0.6)
                kind = "validation" if dash == "dashed" else "training"
                _add_legend_item(fig, f"2017 study: {optimizer} {kind} mean", [span])
                drawn += 1
    return drawn


__all__ = [
    "comparison_name",
    "describe_comparison",
    "list_comparisons",
    "overlay_history",
    "overlay_study",
    "owner_of",
]
