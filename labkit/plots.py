"""Static, paper-style figures of a finished comparison.

The figures are those of the 2017 study: time per epoch, loss per epoch and
accuracy per epoch, one colour per optimizer (the dashboard's Okabe-Ito
palette), training solid and validation dashed. Per optimizer and epoch the
line is the mean over seeds and the band spans the minimum to the maximum.

Unlike the live dashboard, these figures have no toolbar, fixed axis ranges
computed from finite values only, and settable sizes and fonts. Every figure
uses Bokeh's SVG output backend, so an SVG export is vector throughout,
legend included.

Example:

```python
from labkit.plots import study_figures

figures = study_figures(result.history, width=640, height=400, font_size=11)
bokeh.io.show(figures["loss"])
```
"""

import dataclasses
import logging
import math
import numbers

import numpy as np
import pandas as pd
from bokeh.models import ColumnDataSource, Legend, LegendItem, Range1d, Title
from bokeh.plotting import figure

from labkit.errors import ConfigError
from labkit.export._limits import STYLE_LIMITS
from labkit.live._figures import optimizer_styles

logger = logging.getLogger(__name__)

STATISTICS = ("mean", "min", "max")

# Each figure: its title, y-axis label and `(metric, curve label, dash)`.
FIGURE_SPECS = {
    "time": (
        "Time per epoch",
        "training time per epoch (s)",
        (("time_per_epoch_s", "", "solid"),),
    ),
    "loss": (
        "Loss per epoch",
        "loss (cross-entropy, nats)",
        (("loss", "training", "solid"), ("val_loss", "validation", "dashed")),
    ),
    "accuracy": (
        "Accuracy per epoch",
        "accuracy (fraction correct)",
        (("accuracy", "training", "solid"), ("val_accuracy", "validation", "dashed")),
    ),
}
FIGURE_NAMES = tuple(FIGURE_SPECS)



@dataclasses.dataclass(frozen=True)
class FigureStyle:
    """Size and fonts of the static figures.

    Attributes:
        width: Width of each figure in CSS pixels, 200 to 4000. Defaults
            to `640`.
        height: Height of each figure in CSS pixels, 150 to 4000. Defaults
            to `400`.
        font_size: Size in points of axis labels, tick labels and legend,
            6 to 40; titles are 2 points larger. Defaults to `11`.
        font: CSS font family of every text. Defaults to `"Helvetica"`.

    Raises:
        ConfigError: if a value is outside its range or of the wrong type.
    """

    width: int = 640
    height: int = 400
    font_size: float = 11
    font: str = "Helvetica"

    def __post_init__(self):
        for name in ("width", "height"):
            check_number(name, getattr(self, name), STYLE_LIMITS[name], integer=True)
        check_number("font_size", self.font_size, STYLE_LIMITS["font_size"])
        if not isinstance(self.font, str) or not self.font.strip():
            raise ConfigError(
                "`font` must be a non-empty CSS font family such as 'Helvetica' "
                f"or 'Times New Roman'. Received: font={self.font!r}"
            )
        if any(character in self.font for character in "<>;{}\"\n"):
            raise ConfigError(
                "`font` must be a plain font family name without < > ; { } or "
                f"quotes. Received: font={self.font!r}"
            )


def check_number(name, value, limits, *, integer=False):
    """Raise `ConfigError` unless `value` is a finite number within `limits`."""
    low, high = limits
    kind = "an integer" if integer else "a number"
    valid_type = isinstance(value, numbers.Integral if integer else numbers.Real)
    if isinstance(value, bool) or not valid_type or not math.isfinite(value):
        raise ConfigError(f"`{name}` must be {kind} from {low} to {high}. Received: {name}={value!r}")
    if not low <= value <= high:
        raise ConfigError(f"`{name}` must be {kind} from {low} to {high}. Received: {name}={value!r}")


# -- data ------------------------------------------------------------------


def epoch_statistics(history, metric):
    """Return, per optimizer, the mean, minimum and maximum of a metric per epoch.

    Non-finite values count as missing, so an epoch where no seed has a
    finite value is NaN in every column.

    Args:
        history: A DataFrame with `optimizer`, `seed`, `epoch` and metric
            columns, such as `ComparisonResult.history`.
        metric: A metric column, such as `"val_loss"`.

    Returns:
        A dict from optimizer, in order of first appearance, to a DataFrame
        with the columns `epoch`, `mean`, `min`, `max` and `seeds`.
    """
    result = {}
    for optimizer in dict.fromkeys(history["optimizer"]):
        rows = history[history["optimizer"] == optimizer]
        if metric in rows:
            values = pd.to_numeric(rows[metric], errors="coerce").astype(float)
        else:
            values = pd.Series(np.nan, index=rows.index)
        values = values.where(np.isfinite(values))
        grouped = rows.assign(value=values).groupby("epoch", sort=True)
        table = grouped["value"].agg(STATISTICS).reset_index()
        table["seeds"] = grouped["seed"].nunique().to_numpy()
        result[optimizer] = table
    return result


def _padded_range(values, *, floor=None, reserve=0.0, reserve_at="top"):
    """Return a `Range1d` around the finite values, with 5% padding on each side.

    `reserve` is the fraction of the axis, below 1, kept free of data for
    the legend, at the `reserve_at` end ("top" or "bottom"). A `floor`
    wins over a bottom reserve, so the legend may then touch the data.
    """
    finite = [value for value in values if math.isfinite(value)]
    if not finite:
        return Range1d(0, 1)
    low, high = min(finite), max(finite)
    pad = (high - low) * 0.05 if high > low else max(abs(high) * 0.05, 0.05)
    low, high = low - pad, high + pad
    if floor is not None:
        low = max(low, floor)
    extra = (high - low) * reserve / (1 - reserve)
    if reserve_at == "bottom":
        low = low - extra if floor is None else max(low - extra, floor)
    else:
        high += extra
    return Range1d(low, high)


def _legend_corner(x_values, y_values):
    """Return "top" or "bottom": the end of the y axis that the data leaves free.

    The legend sits at the right, so only the later half of the epochs
    counts. Curves that end high, such as accuracy, leave the bottom free.
    """
    points = [(x, y) for x, y in zip(x_values, y_values) if math.isfinite(x) and math.isfinite(y)]
    if not points:
        return "top"
    xs = [x for x, _ in points]
    ys = [y for _, y in points]
    middle = (min(xs) + max(xs)) / 2
    late = [y for x, y in points if x >= middle]
    low, high = min(ys), max(ys)
    if high <= low:
        return "top"
    return "bottom" if sum(late) / len(late) > (low + high) / 2 else "top"


def _legend_fraction(items, style):
    """Estimate the fraction of the frame's height that the legend covers."""
    row_px = style.font_size * 4 / 3 * 1.5 + 2
    legend_px = items * row_px + 16
    # Title, subtitle and the x axis take about this many pixels (an estimate).
    frame_px = max(style.height - 6 * style.font_size * 4 / 3, 1)
    return min(legend_px / frame_px, 0.6)


# -- figures ---------------------------------------------------------------


def _styled_figure(title, y_label, style, seeds):
    fig = figure(
        width=style.width,
        height=style.height,
        x_axis_label="epoch",
        y_axis_label=y_label,
        tools="",
        toolbar_location=None,
        output_backend="svg",
        background_fill_color="white",
        border_fill_color="white",
    )
    fig.title.text = title
    fig.title.text_font = style.font
    fig.title.text_font_size = f"{style.font_size + 2}pt"

    if seeds > 1:
        fig.add_layout(
            Title(
                text=f"line: mean over {seeds} seeds; band: minimum to maximum",
                text_font=style.font,
                text_font_size=f"{style.font_size - 1}pt",
                text_font_style="normal",
                text_color="#444444",
            ),
            "above",
        )

    for axis in (*fig.xaxis, *fig.yaxis):
        axis.axis_label_text_font = style.font
        axis.axis_label_text_font_size = f"{style.font_size}pt"
        axis.axis_label_text_font_style = "normal"
        axis.major_label_text_font = style.font
        axis.major_label_text_font_size = f"{style.font_size - 1}pt"
    # Epochs are whole numbers, so the epoch axis has no ticks between them.
    fig.xaxis.ticker.desired_num_ticks = 6
    fig.xaxis.ticker.min_interval = 1
    fig.xaxis.ticker.num_minor_ticks = 0
    fig.grid.grid_line_color = "#e5e5e5"
    fig.outline_line_color = "#444444"
    return fig


def _draw_curve(fig, table, color, dash):
    columns = {
        "epoch": [int(epoch) for epoch in table["epoch"]],
        **{name: [float(value) for value in table[name]] for name in STATISTICS},
    }
    source = ColumnDataSource(columns)
    band = fig.varea(
        x="epoch", y1="min", y2="max", source=source,
        fill_color=color, fill_alpha=0.18 if dash == "solid" else 0.10,
    )
    line = fig.line("epoch", "mean", source=source, line_color=color, line_width=2, line_dash=dash)
    points = fig.scatter("epoch", "mean", source=source, size=5, color=color)
    return [band, line, points]


def _study_figure(history, name, style, styles, seeds):
    title, y_label, curves = FIGURE_SPECS[name]
    fig = _styled_figure(title, y_label, style, seeds)
    items, y_values, x_values = [], [], []
    for metric, label, dash in curves:
        for optimizer, table in epoch_statistics(history, metric).items():
            if not table["mean"].notna().any():
                continue  # no finite value, such as validation of a run without it
            color, marker = styles[optimizer]
            renderers = _draw_curve(fig, table, color, dash)
            renderers[-1].glyph.marker = marker
            items.append(LegendItem(label=f"{optimizer} {label}".strip(), renderers=renderers))
            y_values.extend(table["min"].tolist() + table["max"].tolist())
            x_values.extend(table["epoch"].tolist() * 2)

    floor = 0 if name in ("time", "accuracy") else None
    corner = _legend_corner([float(x) for x in x_values], y_values)
    fig.y_range = _padded_range(
        y_values, floor=floor, reserve=_legend_fraction(len(items), style), reserve_at=corner,
    )
    fig.x_range = _padded_range([float(x) for x in x_values])

    # NOTE: the legend sits inside the frame because Bokeh 3.9.2 collapses the
    # frame to zero width when a figure with the SVG backend has a legend in a
    # side panel ("right", "below"). The y range leaves room for it at the end
    # that the late epochs leave free; with a floor, the two can still touch.
    legend = Legend(
        items=items,
        location=f"{corner}_right",
        label_text_font=style.font,
        label_text_font_size=f"{style.font_size - 1}pt",
        glyph_width=26,
        spacing=2,
        padding=6,
        border_line_color="#cccccc",
        background_fill_alpha=0.85,
    )
    fig.add_layout(legend)
    return fig


def study_figures(history, *, style=None, **style_options):
    """Build the study's static figures of a comparison's history.

    Args:
        history: A DataFrame with `optimizer`, `seed`, `epoch` and metric
            columns, such as `ComparisonResult.history`.
        style: A `FigureStyle`. Defaults to `FigureStyle(**style_options)`.
        **style_options: `width`, `height`, `font_size` and `font`, when no
            `style` is given.

    Returns:
        A dict from `"time"`, `"loss"` and `"accuracy"` to a Bokeh figure
        with the SVG output backend and no toolbar. Validation curves appear
        only for optimizers that have a finite validation value.

    Raises:
        ConfigError: if a style value is invalid or the history is empty.
    """
    if style is None:
        style = FigureStyle(**style_options)
    elif style_options:
        raise ConfigError(
            "Give either `style` or separate style options, not both. "
            f"Received: style={style!r} and {', '.join(sorted(style_options))}"
        )
    if history is None or len(history) == 0:
        raise ConfigError(
            "The comparison has no finished epoch, so there is nothing to plot. "
            "Export it after at least one epoch has finished."
        )
    styles = optimizer_styles(history["optimizer"])
    seeds = int(history["seed"].nunique())
    return {name: _study_figure(history, name, style, styles, seeds) for name in FIGURE_NAMES}
