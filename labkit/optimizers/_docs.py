"""Generate `docs/optimizers.md` from the optimizer registry.

Run `python -m labkit.optimizers._docs docs/optimizers.md` from the
repository root after changing a spec. A test checks that the committed
file equals `render_markdown()`.
"""

import sys

from labkit.optimizers import _registry
from labkit.optimizers._spec import describe_range

_HEADER = """\
# Optimizers

Generated from the specs in `labkit/optimizers/` by
`python -m labkit.optimizers._docs docs/optimizers.md`. Edit the specs,
then regenerate this page.

Every section gives the update rule that the Keras class applies at step
`t`, what each symbol means and which argument sets it, the defaults of both
presets, how Keras 2.0 differed, and the known weakness.

## Presets

- `keras3`: the defaults of the installed Keras 3 classes. A test checks
  them against the constructor signatures, so a Keras upgrade that changes
  a default fails the tests.
- `keras2017`: the Keras 2.0 defaults of mid-2017, for the optimizers Keras
  2.0 had: {keras2017_names}.
  The others fall back to their Keras 3 defaults, with a `UserWarning`.
  Except for Adagrad, labkit still runs the Keras 3 formulas under this
  preset, and each section states where Keras 2.0 computed something else.

## What labkit exposes

- Each optimizer's own constructor arguments. The arguments every Keras 3
  optimizer shares (`clipnorm`, `clipvalue`, `global_clipnorm`, `use_ema`,
  `ema_momentum`, `ema_overwrite_frequency`, `loss_scale_factor`,
  `gradient_accumulation_steps`, `name`) are not exposed.
- `weight_decay` only where the method defines it: `adamw`, `lion`, `lamb`,
  `muon` and `schedulefreeadamw`. Keras 3 accepts it on every optimizer and
  applies it the same decoupled way, as θ ← θ - η·λ·θ before each step.
  Where the Keras default is `None` (off), labkit shows `0.0` and passes
  `None` to Keras for it.
- A constant `learning_rate` only: labkit accepts no learning-rate
  schedule, so that every run records plain numbers.
- `keras.optimizers.LossScaleOptimizer` and `MultiOptimizer` have no
  entries, because they wrap other optimizers instead of defining an update
  rule.

## Contents

{contents}
"""


def _cell(text):
    """Escape text for one Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _class_names(entry):
    if entry.name == "adagrad":
        return (
            "`keras.optimizers.Adagrad` (inside_sqrt), "
            "`labkit.optimizers.Adagrad2017` (outside_sqrt)"
        )
    return f"`keras.optimizers.{entry.optimizer_class.__name__}`"


def _render_entry(entry):
    lines = [
        f"## {entry.name}",
        "",
        entry.summary,
        "",
        f"Keras class: {_class_names(entry)}.",
        "",
        "```text",
        entry.update_rule,
        "```",
        "",
        "| Symbol | Meaning |",
        "|---|---|",
    ]
    for symbol, meaning in entry.symbols.items():
        lines.append(f"| {_cell(symbol)} | {_cell(meaning)} |")

    lines += [
        "",
        "| Hyper-parameter | Valid values | Scale | keras3 | keras2017 "
        "| Meaning |",
        "|---|---|---|---|---|---|",
    ]
    for param in entry.hyperparameters.values():
        valid = describe_range(param)
        if param.unit:
            valid += f" {param.unit}"
        scale = param.scale if param.kind in ("float", "int") else ""
        keras3 = entry.defaults["keras3"][param.name]
        keras2017 = entry.defaults["keras2017"][param.name]
        lines.append(
            f"| `{param.name}` | {_cell(valid)} | {scale} | `{keras3!r}` "
            f"| `{keras2017!r}` | {_cell(param.help)} |"
        )

    lines.append("")
    if entry.in_keras2017:
        lines.append(f"**Keras 2.0:** {entry.keras2017_note}")
    else:
        lines.append(
            "**Keras 2.0:** did not have this optimizer, so the "
            "`keras2017` preset uses the Keras 3 defaults and warns."
        )
    lines += [
        "",
        f"**Warning:** {entry.weakness}",
        "",
        f"Reference: {entry.reference}",
        "",
    ]
    return "\n".join(lines)


def render_markdown():
    """Return the Markdown text of `docs/optimizers.md`."""
    entries = [_registry.spec(name) for name in _registry.names()]
    contents = "\n".join(
        f"- [{entry.name}](#{entry.name}): {entry.summary}"
        for entry in entries
    )
    header = _HEADER.format(
        keras2017_names=", ".join(_registry.KERAS2017_NAMES),
        contents=contents,
    )
    sections = [_render_entry(entry) for entry in entries]
    return header + "\n" + "\n".join(sections)


def main(argv=None):
    """Write `render_markdown()` to the path given as the first argument."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        sys.exit("usage: python -m labkit.optimizers._docs PATH")
    with open(argv[0], "w", encoding="utf-8") as file:
        file.write(render_markdown())


if __name__ == "__main__":
    main()
