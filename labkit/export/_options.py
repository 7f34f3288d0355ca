"""Export formats, export options and safe file names."""

import dataclasses
import re

from labkit.errors import ConfigError
from labkit.export._limits import FORMATS, MAX_PNG_PIXELS, SCALE_LIMITS
from labkit.plots import FigureStyle, check_number

FORMAT_ALIASES = {"md": "markdown", "tex": "latex", "htm": "html"}
# PNG and SVG are drawn by a headless browser; the others need none.
BROWSER_FORMATS = ("png", "svg")
NAME_MAX_LENGTH = 100
_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def check_name(name):
    """Return `name` if it is a safe base name for export files.

    A safe name starts with a letter or digit and contains only letters,
    digits, `.`, `_` and `-`, so it can never be a path, point outside the
    export folder or hide a file.

    Raises:
        ConfigError: for an empty name, a path, `..` or any other character.
    """
    valid = (
        isinstance(name, str)
        and len(name) <= NAME_MAX_LENGTH
        and _NAME_PATTERN.fullmatch(name) is not None
        and ".." not in name
    )
    if not valid:
        raise ConfigError(
            f"The export name must be a plain file name of 1 to {NAME_MAX_LENGTH} letters, "
            "digits, '.', '_' or '-', starting with a letter or digit, without '..' or "
            f"a path separator. Received: name={name!r}. Use a name such as 'adam-vs-sgd'."
        )
    return name


def safe_name(text, default="comparison"):
    """Turn free text, such as a comparison's label, into a safe base name."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", str(text or "")).strip("-._")
    name = re.sub(r"\.{2,}", ".", name)[:NAME_MAX_LENGTH].strip("-._")
    return name or default


def parse_formats(formats):
    """Return the requested formats as known names, in `FORMATS` order.

    Args:
        formats: An iterable of format names, a comma-separated string, or
            `None` for every format. Case and the aliases `md`, `tex` and
            `htm` are accepted.

    Raises:
        ConfigError: for an unknown format or an empty selection.
    """
    if formats is None:
        return tuple(FORMATS)
    if isinstance(formats, str):
        formats = formats.split(",")
    requested = []
    for item in formats:
        name = str(item).strip().lower().lstrip(".")
        name = FORMAT_ALIASES.get(name, name)
        if not name:
            continue
        if name not in FORMATS:
            raise ConfigError(
                f"Unknown export format {item!r}. Known formats: {', '.join(FORMATS)}."
            )
        requested.append(name)
    if not requested:
        raise ConfigError(
            f"Choose at least one export format from: {', '.join(FORMATS)}."
        )
    return tuple(name for name in FORMATS if name in requested)


@dataclasses.dataclass(frozen=True)
class ExportOptions:
    """Settings of one export.

    Attributes:
        formats: Format names from `FORMATS`. Defaults to every format.
        name: Base name of every file; see `check_name`. `None` derives a
            safe name from the comparison's label.
        style: A `labkit.plots.FigureStyle` with width, height and fonts.
        scale: Factor from CSS pixels to PNG pixels, 0.5 to 8; 2 doubles
            the resolution for print. Defaults to `1`.

    Raises:
        ConfigError: if a value is invalid.
    """

    formats: tuple = tuple(FORMATS)
    name: str | None = None
    style: FigureStyle = dataclasses.field(default_factory=FigureStyle)
    scale: float = 1

    def __post_init__(self):
        object.__setattr__(self, "formats", parse_formats(self.formats))
        if self.name is not None:
            check_name(self.name)
        if not isinstance(self.style, FigureStyle):
            raise ConfigError(
                f"`style` must be a labkit.plots.FigureStyle. Received: style={self.style!r}"
            )
        check_number("scale", self.scale, SCALE_LIMITS)
        if "png" in self.formats:
            for side in ("width", "height"):
                pixels = getattr(self.style, side) * self.scale
                if pixels > MAX_PNG_PIXELS:
                    raise ConfigError(
                        f"A PNG {side} of {getattr(self.style, side)} x scale {self.scale} = "
                        f"{pixels:.0f} pixels is more than the {MAX_PNG_PIXELS} that Chromium "
                        f"renders reliably. Lower the {side} or the scale, or export SVG, "
                        "which scales without limit."
                    )
