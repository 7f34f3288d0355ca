"""An Export panel for notebooks and Voila apps."""

import html
import logging
import pathlib

import ipywidgets as widgets

from labkit.errors import LabkitError
from labkit.export._export import export_comparison
from labkit.export._options import FORMATS, SCALE_LIMITS
from labkit.plots import STYLE_LIMITS, FigureStyle

logger = logging.getLogger(__name__)

# NOTE: the zip travels to the browser as a base64 `data:` URL inside the
# page, which is about 4/3 of the zip's size. An export with PNG at a large
# scale can make that URL tens of megabytes.


class ExportPanel(widgets.VBox):
    """Controls that export a comparison and offer the files as one zip.

    The panel shows a check box per format, the figure size, font size and
    PNG scale, the file name and the export folder, and an Export button.
    Pressing Export writes the files on the server and then shows a link
    that downloads all of them as one zip in the browser.

    Args:
        source: A `ComparisonResult` or the output folder of `labkit compare`.
        out: The export folder on the server. Defaults to the one
            `export_comparison` chooses.
        allow_folder: Whether the panel shows the export folder for the
            user to change. Pass `False` where the user is not trusted with
            the server's file system, as in the class app: exports then go
            to `out` or the default folder. Defaults to `True`.
        **export_options: Further keyword arguments of `export_comparison`,
            such as `browser` or `store`.

    Example:

    ```python
    from labkit.export import ExportPanel

    ExportPanel("labkit-runs/main")
    ```
    """

    def __init__(self, source, out=None, *, allow_folder=True, **export_options):
        self.source = source
        self.allow_folder = allow_folder
        self.fixed_out = out
        self.export_options = export_options
        self.result = None
        defaults = FigureStyle()
        self.formats = {
            name: widgets.Checkbox(value=True, description=name, indent=False,
                                   layout=widgets.Layout(width="7em"), tooltip=text)
            for name, text in FORMATS.items()
        }
        self.width = widgets.BoundedIntText(
            value=defaults.width, min=STYLE_LIMITS["width"][0], max=STYLE_LIMITS["width"][1],
            step=10, description="width (px)",
        )
        self.height = widgets.BoundedIntText(
            value=defaults.height, min=STYLE_LIMITS["height"][0], max=STYLE_LIMITS["height"][1],
            step=10, description="height (px)",
        )
        self.font_size = widgets.BoundedFloatText(
            value=defaults.font_size, min=STYLE_LIMITS["font_size"][0],
            max=STYLE_LIMITS["font_size"][1], step=1, description="font (pt)",
        )
        self.scale = widgets.BoundedFloatText(
            value=1, min=SCALE_LIMITS[0], max=SCALE_LIMITS[1], step=0.5, description="PNG scale",
        )
        self.name = widgets.Text(value="", placeholder="from the comparison", description="file name")
        self.out = widgets.Text(value=str(out) if out else "", placeholder="default folder",
                                description="folder")
        # No icon: the Voila app serves no icon font, so it would show as a blank box.
        self.button = widgets.Button(description="Export", button_style="primary")
        self.button.add_class("labkit-export")
        self.status = widgets.HTML()
        self.download = widgets.HTML()
        self.download.add_class("labkit-download")
        self.button.on_click(self._on_export)
        super().__init__([
            widgets.HBox(list(self.formats.values())),
            widgets.HBox([self.width, self.height]),
            widgets.HBox([self.font_size, self.scale]),
            widgets.HBox([self.name, self.out] if allow_folder else [self.name]),
            widgets.HBox([self.button, self.download]),
            self.status,
        ])

    def export(self):
        """Export with the panel's settings and return the `ExportResult`.

        Raises:
            LabkitError: for an invalid setting or a missing comparison.
        """
        formats = [name for name, box in self.formats.items() if box.value]
        return export_comparison(
            self.source,
            (self.out.value.strip() or None) if self.allow_folder else self.fixed_out,
            formats=formats,
            name=self.name.value.strip() or None,
            width=self.width.value,
            height=self.height.value,
            font_size=self.font_size.value,
            scale=self.scale.value,
            **self.export_options,
        )

    def _on_export(self, _button=None):
        self.button.disabled = True
        self.download.value = ""
        self.status.value = "Exporting..."
        try:
            self.result = self.export()
        except LabkitError as error:
            self.status.value = f'<span style="color:#b00020">{html.escape(str(error))}</span>'
            return
        except Exception as error:
            logger.exception("The export failed.")
            self.status.value = (
                f'<span style="color:#b00020">The export failed: {html.escape(repr(error))}</span>'
            )
            return
        finally:
            self.button.disabled = False
        self._show_result(self.result)

    def _show_result(self, result):
        archive = f"{result.folder.name}.zip"
        self.download.value = (
            f'<a download="{html.escape(archive)}" href="{result.data_url()}">'
            f"Download {html.escape(archive)} ({len(result.files)} files)</a>"
        )
        if self.allow_folder:
            lines = [f"Wrote {len(result.files)} files to {html.escape(str(pathlib.Path(result.folder)))}."]
        else:
            lines = [f"Wrote {len(result.files)} files on the server."]
        if result.notice:
            lines.append(html.escape(result.notice))
        for message in result.errors.values():
            lines.append(f'<span style="color:#b00020">{html.escape(message)}</span>')
        self.status.value = "<br>".join(lines)
