"""The study's figures, drawn from a finished comparison's history."""

import math

from labkit.live._aggregate import EpochAggregator
from labkit.live._figures import build_figures, epoch_columns, new_sources, optimizer_styles


def history_figures(history):
    """Build the loss, accuracy and time-per-epoch figures of a history.

    The figures are those of the live dashboard without the per-batch one:
    per optimizer, the mean over seeds as a line and the range from the
    minimum to the maximum as a band. Validation curves appear only for
    optimizers that have validation values.

    Args:
        history: A DataFrame with `optimizer`, `seed`, `epoch` and metric
            columns, such as `ComparisonResult.history`.

    Returns:
        A Bokeh layout, to pass to `bokeh.io.show`.
    """
    records = history.to_dict("records")
    runs = list(dict.fromkeys((record["optimizer"], record["seed"]) for record in records))
    epoch_sources, _, _ = new_sources(runs, with_batches=False)
    aggregator = EpochAggregator()
    for record in records:
        aggregator.add(record["optimizer"], record["seed"], record)
    for optimizer, source in epoch_sources.items():
        columns = epoch_columns()
        for epoch in aggregator.epochs(optimizer):
            for name, value in aggregator.summary_row(optimizer, epoch).items():
                columns[name].append(value)
        source.data = columns
    figures = build_figures(epoch_sources, optimizer_styles(optimizer for optimizer, _ in runs))
    for (metric, optimizer), (renderers, item) in figures.optional.items():
        values = epoch_sources[optimizer].data[f"{metric}_mean"]
        if any(not math.isnan(value) for value in values):
            for renderer in renderers:
                renderer.visible = True
            item.visible = True
    return figures.layout
