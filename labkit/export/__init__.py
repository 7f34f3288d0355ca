"""Export a finished comparison for a paper or a report.

One export writes its files into a new folder. The study's figures become
PNG (with a scale factor for print), vector SVG and a standalone HTML page
that opens offline. The summary table becomes CSV, Markdown and LaTeX, and
every epoch CSV and JSON. A manifest records versions, device, seeds, run
configurations, dataset checksums and the SHA-256 of every file.

PNG and SVG are drawn by headless Chromium through Selenium
(`apt-get install chromium chromium-driver`). Without it those two formats
fail with a message saying what to install, and the others are written.

Example:

```python
from labkit.export import ExportPanel, export_comparison

exported = export_comparison("labkit-runs/main", "paper-figures", scale=2)
exported.files          # {"sgd-vs-adam-loss.png": PosixPath(...), ...}
ExportPanel("labkit-runs/main")   # the same as a notebook panel with an Export button
```

From a shell: `labkit export labkit-runs/main --out paper-figures --scale 2`.
"""

from labkit._lazy import lazy_attributes

# Public names and their modules, imported on first use so that importing a
# light submodule (as the command line does for --help) loads no browser,
# plotting or Keras code.
_LAZY = {
    "BrowserUnavailableError": "labkit.export._browser",
    "find_browser": "labkit.export._browser",
    "ExportError": "labkit.export._export",
    "ExportResult": "labkit.export._export",
    "export_comparison": "labkit.export._export",
    "FORMATS": "labkit.export._limits",
    "ExportOptions": "labkit.export._options",
    "check_name": "labkit.export._options",
    "parse_formats": "labkit.export._options",
    "safe_name": "labkit.export._options",
    "ExportPanel": "labkit.export._panel",
    "StoredComparison": "labkit.export._source",
    "load_comparison": "labkit.export._source",
}


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)

__all__ = [
    "BrowserUnavailableError",
    "ExportError",
    "ExportOptions",
    "ExportPanel",
    "ExportResult",
    "FORMATS",
    "StoredComparison",
    "check_name",
    "export_comparison",
    "find_browser",
    "load_comparison",
    "parse_formats",
    "safe_name",
]
