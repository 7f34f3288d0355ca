"""Hyper-parameter controls generated from the optimizer registry's specs.

Each `HyperParameter` becomes one control: a number becomes a slider over
its `slider_range` (a `FloatLogSlider` on a log scale) beside a text box
that takes any typed value, a bool a checkbox, a choice a dropdown. The
text box is the value that counts, so a value outside the slider, or an
invalid one, reaches the registry's validator, whose message the page
shows. Every control starts at the preset's default and has the spec's
help line as tooltip.
"""

import html
import math

import ipywidgets

from labkit.app import _kernel  # noqa: F401, I001 (sets the environment before Keras loads)
from labkit.errors import InvalidHyperParameterError
from labkit.optimizers import describe_range, spec

LABEL_WIDTH = "150px"


def format_number(value):
    """Format a number for a text box: short, and exact enough to type back."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return str(value)
    return f"{value:.6g}"


def parse_number(text, kind):
    """Return typed text as an int or float, or the stripped text if it is neither.

    Text that is not a number is returned as it is, so that the registry's
    validator reports it with its usual message.
    """
    stripped = text.strip()
    try:
        number = float(stripped)
    except ValueError:
        return stripped
    if kind == "int" and number.is_integer():
        return int(number)
    return number


class HyperParameterControl:
    """The control of one hyper-parameter of one optimizer.

    Args:
        optimizer: Registered optimizer name.
        param: The `HyperParameter` from the optimizer's spec.
        default: The preset's default value.

    Attributes:
        widget: The row to display: label, slider or other input, text box.
        error: An HTML widget that shows the registry's message for an
            invalid typed value, and is empty otherwise.
    """

    def __init__(self, optimizer, param, default):
        self.optimizer = optimizer
        self.param = param
        self.default = default
        tooltip = f"{param.help}. Valid: {describe_range(param)}."
        label = ipywidgets.HTML(
            f'<span title="{html.escape(tooltip)}">{html.escape(param.name)}</span>',
            layout=ipywidgets.Layout(width=LABEL_WIDTH),
        )
        self.error = ipywidgets.HTML()
        self.error.add_class("labkit-param-error")
        self.text = None
        self._syncing = False

        if param.kind in ("float", "int"):
            self.input = self._slider(tooltip)
            self.text = ipywidgets.Text(
                value=format_number(default),
                continuous_update=False,
                tooltip=tooltip,
                layout=ipywidgets.Layout(width="90px"),
            )
            self.text.add_class(f"labkit-text-{optimizer}-{param.name}")
            self.input.observe(self._on_slider, names="value")
            self.text.observe(self._on_text, names="value")
            children = [label, self.input, self.text]
        elif param.kind == "bool":
            self.input = ipywidgets.Checkbox(value=default, indent=False, tooltip=tooltip)
            children = [label, self.input]
        else:
            self.input = ipywidgets.Dropdown(options=list(param.choices), value=default, tooltip=tooltip)
            children = [label, self.input]
        self.input.add_class(f"labkit-input-{optimizer}-{param.name}")
        self.widget = ipywidgets.VBox([ipywidgets.HBox(children), self.error])

    def _slider(self, tooltip):
        low, high = self.param.slider_range
        value = min(max(self.default, low), high)
        common = {"continuous_update": False, "readout": False, "tooltip": tooltip,
                  "layout": ipywidgets.Layout(width="150px")}
        if self.param.scale == "log":
            return ipywidgets.FloatLogSlider(
                value=value, base=10, min=math.log10(low), max=math.log10(high), step=0.1, **common
            )
        if self.param.kind == "int":
            return ipywidgets.IntSlider(value=value, min=low, max=high, **common)
        return ipywidgets.FloatSlider(value=value, min=low, max=high, step=(high - low) / 100, **common)

    def _on_slider(self, change):
        if self._syncing:
            return
        self._syncing = True
        try:
            self.text.value = format_number(change["new"])
        finally:
            self._syncing = False
        self.check()

    def _on_text(self, change):
        if self._syncing:
            return
        value = parse_number(change["new"], self.param.kind)
        low, high = self.param.slider_range
        if isinstance(value, (int, float)) and math.isfinite(value):
            # A value beyond the slider puts the slider at its nearer end;
            # the text box keeps the value that counts.
            self._syncing = True
            try:
                self.input.value = min(max(value, low), high)
            finally:
                self._syncing = False
        self.check()

    @property
    def value(self):
        """The value as typed or chosen, before validation."""
        if self.text is not None:
            return parse_number(self.text.value, self.param.kind)
        return self.input.value

    @value.setter
    def value(self, new):
        if self.text is not None:
            self.text.value = format_number(new)
        else:
            self.input.value = new

    def check(self):
        """Validate the value with the registry; show and return the message.

        Returns:
            The registry's message, or `None` if the value is valid.
        """
        try:
            spec(self.optimizer).validate({self.param.name: self.value})
        except InvalidHyperParameterError as error:
            self.error.value = f'<span style="color:#D55E00">{html.escape(str(error))}</span>'
            return str(error)
        self.error.value = ""
        return None

    def reset(self):
        """Set the value back to the preset's default."""
        self.value = self.default
        self.check()


class OptimizerPanel:
    """The controls of every hyper-parameter of one optimizer.

    Args:
        name: Registered optimizer name.
        preset: The preset whose defaults the controls start at and reset
            to, a name from `labkit.optimizers.PRESETS`.

    Attributes:
        widget: The panel to display: title, summary, controls and a Reset
            button.
        controls: Mapping from hyper-parameter name to its
            `HyperParameterControl`.
    """

    def __init__(self, name, preset="keras3"):
        self.spec = spec(name)
        self.name = self.spec.name
        self.preset = preset
        defaults = self.spec.defaults[preset]
        self.controls = {
            param_name: HyperParameterControl(self.name, param, defaults[param_name])
            for param_name, param in self.spec.hyperparameters.items()
        }
        self.reset_button = ipywidgets.Button(
            description="Reset", tooltip=f"Set every value back to the {preset} defaults",
            layout=ipywidgets.Layout(width="80px"),
        )
        self.reset_button.add_class(f"labkit-reset-{self.name}")
        self.reset_button.on_click(lambda _button: self.reset())
        title = ipywidgets.HTML(
            f"<b>{html.escape(self.name)}</b>: {html.escape(self.spec.summary)}"
        )
        self.widget = ipywidgets.VBox(
            [title, *(control.widget for control in self.controls.values()), self.reset_button],
            layout=ipywidgets.Layout(border="1px solid #ddd", padding="4px", margin="4px 0"),
        )
        self.widget.add_class(f"labkit-optimizer-{self.name}")

    def values(self):
        """Return every hyper-parameter's value as typed, by name."""
        return {name: control.value for name, control in self.controls.items()}

    def errors(self):
        """Return the registry's message for each invalid value, in order."""
        messages = (control.check() for control in self.controls.values())
        return [message for message in messages if message is not None]

    def set_preset(self, preset):
        """Switch to another preset's defaults and reset every value to them."""
        self.preset = preset
        defaults = self.spec.defaults[preset]
        for name, control in self.controls.items():
            control.default = defaults[name]
        self.reset_button.tooltip = f"Set every value back to the {preset} defaults"
        self.reset()

    def reset(self):
        """Set every value back to the preset's defaults."""
        for control in self.controls.values():
            control.reset()


__all__ = ["HyperParameterControl", "OptimizerPanel", "format_number", "parse_number"]
