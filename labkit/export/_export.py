"""Export a finished comparison as figures, tables, data and a manifest."""

import base64
import dataclasses
import html
import io
import json
import logging
import pathlib
import zipfile

from labkit import stats
from labkit.errors import LabkitError
from labkit.export import _tables
from labkit.export._browser import BrowserUnavailableError, find_browser, open_browser
from labkit.export._manifest import build_manifest
from labkit.export._options import BROWSER_FORMATS, ExportOptions, safe_name
from labkit.export._source import load_comparison
from labkit.plots import FIGURE_NAMES, FigureStyle, study_figures

logger = logging.getLogger(__name__)

MANIFEST_SUFFIX = "-manifest.json"
# Seconds Bokeh waits for a figure to finish drawing in the browser.
RENDER_TIMEOUT_S = 30
_MAX_FOLDER_TRIES = 1000


class ExportError(LabkitError):
    """An export cannot start or cannot write a file."""


@dataclasses.dataclass
class ExportResult:
    """The files an export wrote and the formats that failed.

    Attributes:
        folder: The export folder.
        files: Mapping from file name to path, in the order written, the
            manifest last.
        errors: Mapping from each format that failed to its message; the
            files of the other formats are complete.
        notice: A message for the user when the export went to another
            folder than requested, else `None`.
    """

    folder: pathlib.Path
    files: dict
    errors: dict
    notice: str | None = None

    @property
    def ok(self):
        """Whether every requested format was written."""
        return not self.errors

    @property
    def manifest(self):
        """The manifest as a dict."""
        name = next(name for name in self.files if name.endswith(MANIFEST_SUFFIX))
        return json.loads(self.files[name].read_text())

    def zip_bytes(self):
        """Return every exported file in one zip, inside a folder named as the export."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, path in self.files.items():
                archive.write(path, f"{self.folder.name}/{name}")
        return buffer.getvalue()

    def write_zip(self, path=None):
        """Write `zip_bytes()` to a new file and return its path.

        Args:
            path: Where to write. Defaults to the export folder's path plus `.zip`.

        Raises:
            ExportError: if the file exists already.
        """
        path = pathlib.Path(path) if path is not None else self.folder.with_name(self.folder.name + ".zip")
        try:
            with open(path, "xb") as handle:
                handle.write(self.zip_bytes())
        except FileExistsError:
            raise ExportError(
                f"{path} exists already and is left as it is. Remove it or choose another zip path."
            ) from None
        return path

    def data_url(self):
        """Return the zip as a `data:` URL, for a browser download link."""
        return "data:application/zip;base64," + base64.b64encode(self.zip_bytes()).decode("ascii")


# -- folder and files ---------------------------------------------------------


def _create_folder(requested):
    """Create a new, empty export folder; an occupied one is never reused."""
    requested = pathlib.Path(requested)
    candidates = [requested] + [
        requested.with_name(f"{requested.name}-{number}") for number in range(2, _MAX_FOLDER_TRIES)
    ]
    for candidate in candidates:
        if candidate.is_dir() and not any(candidate.iterdir()):
            folder = candidate
            break
        try:
            candidate.mkdir(parents=True)
        except FileExistsError:
            continue
        except OSError as error:
            raise ExportError(
                f"Cannot create the export folder {candidate}: {error}. Choose another "
                "folder with --out (or `out=`) where you may write."
            ) from error
        folder = candidate
        break
    else:
        raise ExportError(
            f"{requested} and {_MAX_FOLDER_TRIES - 2} numbered folders beside it exist "
            "already. Choose another export folder."
        )
    notice = None
    if folder != requested:
        notice = (
            f"{requested} exists already and is left as it is, so this export went to {folder}."
        )
    return folder, notice


class _Writer:
    """Writes new files into one folder, never outside it, never over a file."""

    def __init__(self, folder):
        self.folder = folder
        self.root = folder.resolve()
        self.files = {}

    def write(self, name, content):
        path = self.folder / name
        if path.resolve().parent != self.root:
            raise ExportError(f"The file name {name!r} would leave the export folder {self.folder}.")
        data = content.encode("utf-8") if isinstance(content, str) else content
        try:
            with open(path, "xb") as handle:
                handle.write(data)
        except FileExistsError:
            raise ExportError(f"{path} exists already and is left as it is.") from None
        except OSError:
            path.unlink(missing_ok=True)
            raise
        self.files[name] = path
        logger.info("Wrote %s (%d bytes).", path, len(data))
        return path


# -- formats ------------------------------------------------------------------


def _write_tables(writer, fmt, name, history, summary):
    if fmt == "csv":
        writer.write(f"{name}-summary.csv", _tables.summary_csv(summary))
        writer.write(f"{name}-history.csv", _tables.history_csv(history))
    elif fmt == "markdown":
        writer.write(f"{name}-summary.md", _tables.summary_markdown(summary))
    elif fmt == "latex":
        writer.write(f"{name}-summary.tex", _tables.summary_latex(summary, label=name))
    elif fmt == "json":
        writer.write(f"{name}-history.json", _tables.history_json(history))


def _html_page(comparison, style, summary):
    from bokeh.embed import file_html
    from bokeh.layouts import column
    from bokeh.models import Div
    from bokeh.resources import INLINE

    figures = study_figures(comparison.result.history, style=style)
    heading = Div(
        text=f"<h1>{html.escape(comparison.name)}</h1>"
        f"<p>Comparison {html.escape(comparison.result.comparison_id)}, exported by labkit.</p>",
        styles={"font-family": style.font},
    )
    table = _tables.display_table(summary).to_html(index=False, border=0)
    summary_div = Div(
        text=f"<h2>Summary</h2>{table}",
        styles={"font-family": style.font, "font-size": f"{style.font_size}pt"},
    )
    layout = column(heading, *(figures[key] for key in FIGURE_NAMES), summary_div)
    # INLINE embeds BokehJS itself, so the page opens without a network.
    return file_html(layout, resources=INLINE, title=f"labkit: {comparison.name}")


def _png_bytes(figure, driver, scale):
    from bokeh.io.export import get_screenshot_as_png

    image = get_screenshot_as_png(figure, driver=driver, timeout=RENDER_TIMEOUT_S, scale_factor=scale)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", dpi=(96 * scale, 96 * scale))
    return buffer.getvalue()


def _svg_text(figure, driver):
    from bokeh.io.export import get_svgs

    svgs = get_svgs(figure, driver=driver, timeout=RENDER_TIMEOUT_S)
    if len(svgs) != 1:
        raise ExportError(f"Bokeh returned {len(svgs)} SVG images for one figure; expected 1.")
    return svgs[0]


def _write_drawings(writer, formats, name, history, options, browser, errors):
    """Draw PNG and SVG files in one browser session."""
    from selenium.common.exceptions import WebDriverException

    with open_browser(*browser, scale=options.scale) as driver:
        for fmt in formats:
            try:
                for key, fig in study_figures(history, style=options.style).items():
                    if fmt == "png":
                        writer.write(f"{name}-{key}.png", _png_bytes(fig, driver, options.scale))
                    else:
                        writer.write(f"{name}-{key}.svg", _svg_text(fig, driver))
            except (LabkitError, OSError, ValueError, WebDriverException) as error:
                # Selenium's message ends with chromedriver's native stack. Its
                # first line names the failure, and the rest goes to the debug log.
                text = getattr(error, "msg", None) or str(error)
                text = text.strip().splitlines()[0] if text.strip() else type(error).__name__
                logger.debug("The %s export failed.", fmt, exc_info=True)
                errors[fmt] = f"The {fmt.upper()} export failed: {type(error).__name__}: {text}"


# -- entry point --------------------------------------------------------------


def _default_folder(comparison, name):
    output_dir = comparison.result.output_dir
    if output_dir is not None:
        return pathlib.Path(output_dir) / "exports" / name
    return pathlib.Path("labkit-exports") / name


def export_comparison(
    source,
    out=None,
    *,
    formats=None,
    name=None,
    width=640,
    height=400,
    font_size=11,
    font="Helvetica",
    scale=1,
    browser=None,
    driver=None,
    store=None,
    comparison_id=None,
):
    """Export a comparison's figures, tables, data and a manifest into a new folder.

    Every option is checked before anything is written. Each format is then
    written on its own, so a format that fails (PNG and SVG without a
    browser, for example) leaves the others complete, and `ExportResult.errors`
    maps each failed format to its message. The manifest is written last and lists every file
    with its SHA-256.

    Args:
        source: A `ComparisonResult` or the output folder of `labkit compare`.
        out: The export folder. If it exists and is not empty, the export
            goes to the first free `OUT-2`, `OUT-3`, ... beside it and
            `ExportResult.notice` says so. Defaults to
            `<comparison folder>/exports/<name>`.
        formats: Names from `labkit.export.FORMATS`, or a comma-separated
            string. Defaults to every format.
        name: Base name of every file; see `check_name`. Defaults to a safe
            form of the comparison's label.
        width, height, font_size, font: The figure style; see
            `labkit.plots.FigureStyle`.
        scale: PNG pixels per CSS pixel, 0.5 to 8. Defaults to `1`.
        browser, driver: Paths of Chromium and chromedriver for PNG and SVG;
            see `find_browser`.
        store, comparison_id: Where to find a folder's comparison; see
            `load_comparison`.

    Returns:
        An `ExportResult`.

    Raises:
        ConfigError: for an invalid option, or a folder that is missing or
            contains no labkit comparison.
        ExportError: if the export folder cannot be created.
    """
    style = FigureStyle(width=width, height=height, font_size=font_size, font=font)
    options = ExportOptions(formats=formats, name=name, style=style, scale=scale)
    comparison = load_comparison(source, store=store, comparison_id=comparison_id)
    history = comparison.result.history
    name = options.name or safe_name(comparison.name)
    if history.empty:
        raise ExportError(
            f"Comparison {comparison.result.comparison_id} has no finished epoch, so there "
            "is nothing to export. Export it after at least one epoch has finished."
        )
    summary = stats.summarize(history)

    folder, notice = _create_folder(out if out is not None else _default_folder(comparison, name))
    writer = _Writer(folder)
    errors = {}
    for fmt in options.formats:
        if fmt in BROWSER_FORMATS:
            continue
        try:
            if fmt == "html":
                writer.write(f"{name}.html", _html_page(comparison, style, summary))
            else:
                _write_tables(writer, fmt, name, history, summary)
        except (LabkitError, OSError, ValueError) as error:
            logger.debug("The %s export failed.", fmt, exc_info=True)
            errors[fmt] = f"The {fmt} export failed: {error}"

    drawings = [fmt for fmt in options.formats if fmt in BROWSER_FORMATS]
    paths = None
    if drawings:
        try:
            paths = find_browser(browser, driver)
            _write_drawings(writer, drawings, name, history, options, paths, errors)
        except BrowserUnavailableError as error:
            for fmt in drawings:
                errors.setdefault(fmt, str(error))

    manifest = build_manifest(comparison, options, writer.files, errors, paths)
    writer.write(f"{name}{MANIFEST_SUFFIX}", json.dumps(manifest, indent=2, default=str) + "\n")
    if errors:
        logger.warning("Export to %s incomplete: %s failed.", folder, ", ".join(errors))
    return ExportResult(folder=folder, files=dict(writer.files), errors=errors, notice=notice)


