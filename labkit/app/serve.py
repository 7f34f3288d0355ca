"""Serve the optimizer app to a class with Voila: `python -m labkit.app.serve`.

`main()` serves `notebooks/app.ipynb` on 127.0.0.1 by default, with:

- preheated kernels: Voila runs the notebook in `--pool-size` kernels
  before any page requests it, so a page opens without waiting for TensorFlow;
- a Voila template without the Font Awesome style sheets that Voila 0.5's
  `lab` template links from a CDN, so the page fetches nothing from the
  internet (BokehJS is loaded inline from the installed Bokeh);
- idle-kernel culling: Voila 0.5's shutdown request on page close is
  rejected for lack of an XSRF token, so jupyter_server ends kernels that
  have had no page connected and no activity for `--cull-idle-timeout`
  seconds instead (each kernel uses about 700 MiB with TensorFlow). A
  kernel taken from the pool gets a fresh idle clock, so it is not culled
  before its page connects (`PoolAwareKernelManager`);
- the instructor's limits (`AppSettings`) from `--config` and flags, passed
  to every kernel in `LABKIT_APP_SETTINGS`.
"""

import argparse
import dataclasses
import json
import logging
import os
import pathlib
import socket
import sys

from labkit.app._settings import SETTINGS_ENV, AppSettings
from labkit.errors import LabkitError

logger = logging.getLogger(__name__)

TEMPLATE_NAME = "labkit"
# Lines of Voila's `lab` template that link a style sheet from another host
# are dropped, so the page loads only from the server.
TEMPLATE_INDEX = """\
{%- extends 'lab/index.html.j2' -%}
{%- block notebook_css -%}
{%- for line in super().split('\\n') if not ('<link' in line and '://' in line) %}
{{ line }}
{%- endfor %}
{%- endblock notebook_css -%}
"""
CULLING_KERNEL_MANAGER = "labkit.app._culling.PoolAwareKernelManager"
KERNEL_ENVIRONMENT = {
    "TF_FORCE_GPU_ALLOW_GROWTH": "true",
    "XLA_PYTHON_CLIENT_PREALLOCATE": "false",
    "TF_CPP_MIN_LOG_LEVEL": "2",
}
NOTEBOOK_CELLS = (
    ("title", "markdown", "# Compare gradient-descent optimizers\n\n"
     "Choose optimizers and their hyper-parameters, train a small model and watch the "
     "curves grow. Your runs are stored, so you can reopen them after a reload."),
    ("parameters", "code", "# Parameters: None uses the settings of `labkit app`.\nsettings = None"),
    ("app", "code", "from labkit.app import build_app\n\nbuild_app(settings)"),
)


def app_notebook():
    """Return the app notebook, as `notebooks/app.ipynb` contains it, as a dict."""
    cells = []
    for cell_id, kind, source in NOTEBOOK_CELLS:
        cell = {"cell_type": kind, "id": cell_id, "metadata": {}, "source": source}
        if kind == "code":
            cell.update(execution_count=None, outputs=[])
        if cell_id == "parameters":
            cell["metadata"] = {"tags": ["parameters"]}
        cells.append(cell)
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def find_notebook(state_path):
    """Return the app notebook of the source tree, or write one to `state_path`."""
    source_tree = pathlib.Path(__file__).resolve().parents[2] / "notebooks" / "app.ipynb"
    if source_tree.is_file():
        return source_tree
    path = state_path / "app.ipynb"
    path.write_text(json.dumps(app_notebook(), indent=1) + "\n")
    return path


def write_template(state_path):
    """Write the offline Voila template and return its Jupyter data folder."""
    data_dir = state_path / "jupyter"
    template_dir = data_dir / "voila" / "templates" / TEMPLATE_NAME
    template_dir.mkdir(parents=True, exist_ok=True)
    (template_dir / "conf.json").write_text(json.dumps({"base_template": "lab"}) + "\n")
    (template_dir / "index.html.j2").write_text(TEMPLATE_INDEX)
    return data_dir


def free_port(ip):
    """Return a TCP port that is free on `ip` now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((ip, 0))
        return probe.getsockname()[1]


def build_parser():
    parser = argparse.ArgumentParser(
        prog="labkit app",
        description="Serve the optimizer app with Voila, for a class on one server.",
    )
    parser.add_argument("--ip", default="127.0.0.1",
                        help="address to listen on; use 0.0.0.0 for every interface (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8866,
                        help="TCP port; 0 picks a free one (default: %(default)s)")
    parser.add_argument("--config", help="TOML file with the settings below; flags override it")
    parser.add_argument("--max-concurrent-trainings", type=int,
                        help="trainings that run at once; the rest wait in a queue (default: 2)")
    parser.add_argument("--max-epochs", type=int, help="maximum epochs per training request (default: 20)")
    parser.add_argument("--max-seeds", type=int, help="maximum seeds per training request (default: 3)")
    parser.add_argument("--max-train-size", type=int,
                        help="maximum training images per training request (default: 10000)")
    parser.add_argument("--state-dir",
                        help="folder of the queue, results store and runs, shared by every kernel "
                        "(default: ./labkit-app)")
    parser.add_argument("--store", help="SQLAlchemy URL of the shared results store "
                        "(default: results.db in the state folder)")
    parser.add_argument("--data-dir", help="folder to look in first for dataset files")
    parser.add_argument("--download", action="store_true", default=None,
                        help="let trainings download datasets that are not on disk")
    parser.add_argument("--pool-size", type=int, default=2,
                        help="kernels kept preheated, ready for the next pages; 0 turns preheating off "
                        "(default: %(default)s)")
    parser.add_argument("--cull-idle-timeout", type=int, default=600,
                        help="seconds after which a kernel with no page connected and no activity is "
                        "ended (default: %(default)s)")
    parser.add_argument("--cull-interval", type=int, default=60,
                        help="seconds between two checks for idle kernels (default: %(default)s)")
    parser.add_argument("--notebook", help="notebook to serve (default: notebooks/app.ipynb)")
    return parser


def read_settings(args):
    """Return the `AppSettings` of a config file and the flags that override it."""
    settings = AppSettings.from_file(args.config) if args.config else AppSettings()
    changes = {}
    for field in dataclasses.fields(AppSettings):
        value = getattr(args, field.name, None)
        if value is not None:
            changes[field.name] = value
    return settings.replace(**changes)


def voila_arguments(args, notebook):
    """Return the Voila command-line arguments for the parsed flags."""
    arguments = [
        str(notebook),
        "--no-browser",
        f"--Voila.ip={args.ip}",
        f"--port={args.port}",
        "--Voila.port_retries=0",
        f"--template={TEMPLATE_NAME}",
        f"--MappingKernelManager.cull_idle_timeout={args.cull_idle_timeout}",
        f"--MappingKernelManager.cull_interval={args.cull_interval}",
        "--MappingKernelManager.cull_connected=False",
        "--MappingKernelManager.cull_busy=False",
        f"--VoilaConfiguration.multi_kernel_manager_class={CULLING_KERNEL_MANAGER}",
    ]
    if args.pool_size > 0:
        arguments += ["--preheat_kernel=True", f"--pool_size={args.pool_size}"]
    return arguments


def main(argv=None):
    """Serve the app until interrupted; return the exit code.

    Prints the page's URL once the server listens.
    """
    args = build_parser().parse_args(argv)
    try:
        # Flags first, so that a rejected start creates no state folder.
        for name, value in (("--pool-size", args.pool_size), ("--cull-idle-timeout", args.cull_idle_timeout),
                            ("--cull-interval", args.cull_interval)):
            if value < 0:
                raise LabkitError(f"{name} must be an integer >= 0. Received: {name} {value}")
        if not 0 <= args.port <= 65535:
            raise LabkitError(
                f"--port must be a TCP port from 0 to 65535 (0 picks a free one). Received: --port {args.port}"
            )
        try:
            socket.getaddrinfo(args.ip, None)
        except (socket.gaierror, UnicodeError) as error:
            raise LabkitError(
                f"--ip {args.ip!r} is not an address of this machine ({error}). Give one such as "
                "127.0.0.1, or 0.0.0.0 for every interface."
            ) from None
        settings = read_settings(args)
        state_path = settings.state_path
        try:
            state_path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise LabkitError(
                f"Cannot use {state_path} as the state folder ({error}). --state-dir must name "
                "a folder that labkit can create and write."
            ) from None
        notebook = pathlib.Path(args.notebook) if args.notebook else find_notebook(state_path)
        if not notebook.is_file():
            raise LabkitError(f"The notebook {notebook} does not exist. Give an existing one with --notebook.")
        if args.port == 0:
            args.port = free_port(args.ip)
        data_dir = write_template(state_path)
    except (LabkitError, OSError) as error:
        print(f"labkit app: {error}", file=sys.stderr)
        return 2

    os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(data_dir), os.environ.get("JUPYTER_PATH")]))
    os.environ[SETTINGS_ENV] = settings.to_json()
    for name, value in KERNEL_ENVIRONMENT.items():
        os.environ.setdefault(name, value)

    from tornado.ioloop import IOLoop
    from voila.app import Voila

    voila = Voila()
    voila.initialize(voila_arguments(args, notebook))
    url = f"http://{args.ip}:{args.port}/"

    def announce():
        print(f"labkit app: serving {notebook.name} at {url} (Ctrl+C to stop)", flush=True)
        print(f"labkit app: queue, results and runs in {state_path}", flush=True)

    IOLoop.current().add_callback(announce)
    voila.start()
    return 0


if __name__ == "__main__":
    sys.exit(main())
