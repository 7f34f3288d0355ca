"""The dashboard's Bokeh figures and the columns of their data sources.

Four figures show a comparison as the 2017 study did, one colour per
optimizer: loss and accuracy per epoch (training solid, validation dashed),
the training loss within each epoch, and the time per epoch. Epoch figures
draw, per optimizer, the mean over seeds as a line and the range from the
minimum to the maximum as a band.

Every column of every data source is declared here, before any data
arrives, so that a stream always carries every column (Bokeh's
`ColumnDataSource.stream` requires that) and a metric that never arrives
stays NaN.
"""

import dataclasses
import logging

from bokeh.layouts import gridplot
from bokeh.models import ColumnDataSource, HoverTool, Legend, LegendItem
from bokeh.palettes import Colorblind
from bokeh.plotting import figure

logger = logging.getLogger(__name__)

EPOCH_METRICS = ("time_per_epoch_s", "loss", "accuracy", "val_loss", "val_accuracy")
STATISTICS = ("mean", "min", "max")
BATCH_COLUMNS = ("x", "epoch", "batch", "loss", "accuracy")
MARKER_COLUMNS = ("x", "y", "color", "optimizer", "seed")

# Okabe-Ito, as Bokeh's Colorblind[8], reordered so that yellow, which is
# hard to see on white, comes last.
PALETTE = tuple(Colorblind[8][i] for i in (0, 1, 3, 5, 6, 4, 7, 2))
# Beyond eight optimizers the colours repeat, so each further round of eight
# gets its own point shape.
POINT_SHAPES = ("circle", "square", "triangle")

BATCH_AXIS_LABEL = "training loss, running mean of the epoch so far"
FIGURE_WIDTH = 470
FIGURE_HEIGHT = 300
TOOLS = "pan,wheel_zoom,box_zoom,reset,save"


def epoch_columns():
    """Return the empty columns of an optimizer's per-epoch data source."""
    columns = {"epoch": [], "seeds": []}
    for metric in EPOCH_METRICS:
        for statistic in STATISTICS:
            columns[f"{metric}_{statistic}"] = []
    return columns


def batch_columns():
    """Return the empty columns of a run's per-batch data source."""
    return {name: [] for name in BATCH_COLUMNS}


def marker_columns():
    """Return the empty columns of a figure's diverged-run markers."""
    return {name: [] for name in MARKER_COLUMNS}


def optimizer_styles(optimizers):
    """Map each optimizer to its `(colour, point shape)`, in the given order."""
    optimizers = list(dict.fromkeys(optimizers))
    if len(optimizers) > len(PALETTE):
        logger.info(
            "%d optimizers share %d colours; optimizers after the %dth differ by point shape.",
            len(optimizers), len(PALETTE), len(PALETTE),
        )
    return {
        name: (PALETTE[i % len(PALETTE)], POINT_SHAPES[(i // len(PALETTE)) % len(POINT_SHAPES)])
        for i, name in enumerate(optimizers)
    }


@dataclasses.dataclass
class Figures:
    """The figures of a dashboard and the legend entries shown on demand.

    Attributes:
        layout: The Bokeh grid of every figure.
        figures: Mapping from `"loss"`, `"accuracy"`, `"batch"` and
            `"time"` to the figure.
        optional: Mapping from `(metric, optimizer)` to the renderers and
            legend item of a curve that is hidden until its metric has a
            finite value, such as validation curves.
        marker_items: Mapping from figure name to the legend item of its
            diverged-run markers, hidden until a run diverges.
    """

    layout: object
    figures: dict
    optional: dict
    marker_items: dict


def _figure(title, x_label, y_label):
    return figure(
        title=title,
        width=FIGURE_WIDTH,
        height=FIGURE_HEIGHT,
        x_axis_label=x_label,
        y_axis_label=y_label,
        tools=TOOLS,
    )


def _add_legend(fig, items):
    legend = Legend(
        items=items,
        click_policy="hide",
        label_text_font_size="8pt",
        glyph_width=18,
        spacing=0,
        padding=4,
    )
    fig.add_layout(legend, "right")


def _marker_renderer(fig, source):
    renderer = fig.scatter(
        "x", "y", source=source, marker="x", size=14, line_width=3, color="color",
    )
    item = LegendItem(label="diverged: last finite value", renderers=[renderer], visible=False)
    return renderer, item


def _epoch_figure(title, y_label, curves, epoch_sources, styles, marker_source):
    """Build an epoch figure; `curves` lists `(metric, label, dash, optional)`."""
    fig = _figure(title, "epoch", y_label)
    # Epochs are whole numbers, so the axis has no ticks between them.
    fig.xaxis.ticker.min_interval = 1
    fig.xaxis.ticker.num_minor_ticks = 0
    items, optional = [], {}
    for optimizer, source in epoch_sources.items():
        color, shape = styles[optimizer]
        for metric, label, dash, is_optional in curves:
            band = fig.varea(
                x="epoch", y1=f"{metric}_min", y2=f"{metric}_max", source=source,
                fill_color=color, fill_alpha=0.15 if dash == "solid" else 0.08,
            )
            line = fig.line(
                "epoch", f"{metric}_mean", source=source,
                line_color=color, line_width=2, line_dash=dash,
            )
            points = fig.scatter(
                "epoch", f"{metric}_mean", source=source, marker=shape, size=5, color=color,
            )
            fig.add_tools(HoverTool(
                renderers=[points],
                tooltips=[
                    ("", f"{optimizer}, {label}"),
                    ("epoch", "@epoch"),
                    ("mean over seeds", f"@{metric}_mean{{0.0000}}"),
                    ("min, max", f"@{metric}_min{{0.0000}}, @{metric}_max{{0.0000}}"),
                    ("seeds", "@seeds"),
                ],
            ))
            renderers = [band, line, points]
            item = LegendItem(label=f"{optimizer} {label}".strip(), renderers=renderers)
            items.append(item)
            if is_optional:
                for renderer in renderers:
                    renderer.visible = False
                item.visible = False
                optional[(metric, optimizer)] = (renderers, item)
    marker_item = None
    if marker_source is not None:
        _, marker_item = _marker_renderer(fig, marker_source)
        items.append(marker_item)
    _add_legend(fig, items)
    return fig, optional, marker_item


def _batch_figure(batch_sources, styles, marker_source):
    fig = _figure("Training loss within each epoch", "epoch (fraction done)", BATCH_AXIS_LABEL)
    renderers = {}
    for (optimizer, _seed), source in batch_sources.items():
        color, _ = styles[optimizer]
        line = fig.line("x", "loss", source=source, line_color=color, line_width=1.5, line_alpha=0.9)
        renderers.setdefault(optimizer, []).append(line)
    items = [
        LegendItem(label=f"{optimizer} (one line per seed)", renderers=lines)
        for optimizer, lines in renderers.items()
    ]
    _, marker_item = _marker_renderer(fig, marker_source)
    _add_legend(fig, [*items, marker_item])
    return fig, marker_item


def build_figures(epoch_sources, styles, *, batch_sources=None, marker_sources=None):
    """Build the dashboard's figures on the given data sources.

    Args:
        epoch_sources: Mapping from optimizer to its `ColumnDataSource` with
            the columns of `epoch_columns()`.
        styles: Mapping from optimizer to `(colour, point shape)`, as from
            `optimizer_styles`.
        batch_sources: Mapping from `(optimizer, seed)` to the run's
            `ColumnDataSource` with the columns of `batch_columns()`; `None`
            leaves out the per-batch figure.
        marker_sources: Mapping from `"loss"`, `"accuracy"` and `"batch"` to
            a `ColumnDataSource` of diverged-run markers; `None` draws none.

    Returns:
        A `Figures`.
    """
    marker_sources = marker_sources or {}
    loss, optional_loss, loss_marker = _epoch_figure(
        "Loss per epoch",
        "loss (cross-entropy)",
        [("loss", "training", "solid", False), ("val_loss", "validation", "dashed", True)],
        epoch_sources, styles, marker_sources.get("loss"),
    )
    accuracy, optional_accuracy, accuracy_marker = _epoch_figure(
        "Accuracy per epoch",
        "accuracy",
        [("accuracy", "training", "solid", False), ("val_accuracy", "validation", "dashed", True)],
        epoch_sources, styles, marker_sources.get("accuracy"),
    )
    time, _, _ = _epoch_figure(
        "Time per epoch",
        "training time per epoch (s)",
        [("time_per_epoch_s", "", "solid", False)],
        epoch_sources, styles, None,
    )
    figures = {"loss": loss, "accuracy": accuracy, "time": time}
    marker_items = {"loss": loss_marker, "accuracy": accuracy_marker}
    if batch_sources is not None:
        figures["batch"], marker_items["batch"] = _batch_figure(
            batch_sources, styles, marker_sources["batch"]
        )
        rows = [[loss, accuracy], [figures["batch"], time]]
    else:
        rows = [[loss, accuracy], [time, None]]
    layout = gridplot(rows, toolbar_location="right")
    return Figures(
        layout=layout,
        figures=figures,
        optional={**optional_loss, **optional_accuracy},
        marker_items={name: item for name, item in marker_items.items() if item is not None},
    )


def new_sources(runs, *, with_batches=True):
    """Create the empty data sources of a dashboard.

    Args:
        runs: `(optimizer, seed)` pairs in training order.
        with_batches: Whether to create per-batch and marker sources.

    Returns:
        `(epoch_sources, batch_sources, marker_sources)`; the last two are
        `None` without batches.
    """
    optimizers = list(dict.fromkeys(optimizer for optimizer, _ in runs))
    epoch_sources = {
        name: ColumnDataSource(data=epoch_columns(), name=f"labkit-epochs-{name}")
        for name in optimizers
    }
    if not with_batches:
        return epoch_sources, None, None
    batch_sources = {
        (optimizer, seed): ColumnDataSource(
            data=batch_columns(), name=f"labkit-batches-{optimizer}-{seed}"
        )
        for optimizer, seed in runs
    }
    marker_sources = {
        name: ColumnDataSource(data=marker_columns(), name=f"labkit-diverged-{name}")
        for name in ("loss", "accuracy", "batch")
    }
    return epoch_sources, batch_sources, marker_sources
