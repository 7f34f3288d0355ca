"""Export format names and the valid ranges of export settings.

This module imports nothing heavy, so that `labkit --help` can show the
formats and ranges without loading Bokeh, pandas or Keras.
"""

# Each format and the files it writes; `NAME` is the export's name.
FORMATS = {
    "png": "one PNG image per figure: NAME-time.png, NAME-loss.png, NAME-accuracy.png",
    "svg": "one SVG vector image per figure: NAME-time.svg, NAME-loss.svg, NAME-accuracy.svg",
    "html": "NAME.html: every figure and the summary in one page that opens offline",
    "csv": "NAME-summary.csv and NAME-history.csv, at full precision",
    "markdown": "NAME-summary.md: the summary as a Markdown table",
    "latex": "NAME-summary.tex: the summary as a LaTeX table with booktabs rules",
    "json": "NAME-history.json: every epoch of every run, NaN as null",
}
SCALE_LIMITS = (0.5, 8)
# Width and height of a PNG in pixels (CSS pixels times scale), at most.
# Chromium 156 headless timed out rendering a 32,000-pixel square on a
# 2-core machine; 8,000 pixels a side rendered.
MAX_PNG_PIXELS = 8000

# Valid ranges of the figure style settings, closed at both ends: `(low, high)`.
STYLE_LIMITS = {
    "width": (200, 4000),
    "height": (150, 4000),
    "font_size": (6, 40),
}
