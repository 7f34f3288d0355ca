"""The `labkit` command: compare optimizers and read results from a shell.

Commands:
    labkit compare     train the reference CNN with several optimizers
    labkit summary     print the min/mean/max table of a stored comparison
    labkit export      write figures, tables, data and a manifest of a comparison
    labkit optimizers  list optimizers, or one optimizer's hyper-parameters
    labkit datasets    list datasets and where each is found offline
    labkit app         serve the optimizer app to a class with Voila
"""

import argparse
import contextlib
import logging
import os
import pathlib
import re
import sys
import tempfile
import textwrap

from labkit.errors import (
    ConfigError,
    DatasetFormatError,
    DatasetUnavailableError,
    LabkitError,
)

logger = logging.getLogger("labkit.cli")

DATASET_NAMES = ("cifar10", "cifar100", "fashion_mnist", "mnist")
_OFFLINE_ENV_HELP = (
    "LABKIT_OFFLINE=1 (or true, yes, on, in any case) in the environment turns "
    "downloads off too"
)


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def _name_list(text):
    names = [item.strip().lower() for item in text.split(",") if item.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected a comma-separated list such as sgd,adam")
    return names


def _seed_list(text):
    try:
        seeds = [int(item) for item in text.split(",") if item.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated whole numbers >= 0 such as 0,1,2, got {text!r}"
        ) from None
    if not seeds or min(seeds) < 0:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated whole numbers >= 0 such as 0,1,2, got {text!r}"
        )
    return seeds


def parse_value(text):
    """Parse a value typed after `=`: a bool, None, int, float or string."""
    lowered = text.strip().lower()
    if lowered in ("true", "yes", "on"):
        return True
    if lowered in ("false", "no", "off"):
        return False
    if lowered in ("none", "null"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text.strip()


def parse_settings(items):
    """Parse `--set optimizer.param=value` items into nested dicts.

    Raises:
        ConfigError: if an item does not have the form `NAME.PARAM=VALUE`.
    """
    settings = {}
    for item in items:
        key, sep, value = item.partition("=")
        optimizer, dot, param = key.strip().partition(".")
        if not sep or not dot or not optimizer or not param:
            raise ConfigError(
                f"--set must have the form OPTIMIZER.PARAMETER=VALUE, such as "
                f"adam.learning_rate=3e-4. Received: --set {item}"
            )
        settings.setdefault(optimizer.lower(), {})[param] = parse_value(value)
    return settings


def parse_options(items, flag):
    """Parse `KEY=VALUE` items into a dict.

    Raises:
        ConfigError: if an item has no `=`.
    """
    options = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{flag} must have the form KEY=VALUE. Received: {flag} {item}")
        options[key.strip()] = parse_value(value)
    return options


class _HelpFormatter(argparse.HelpFormatter):
    """Help that states each option's default once, as a user would type it.

    A help text that already contains "default" is left as it is. `None`,
    `False` and empty lists, the defaults of optional values and flags, are
    not shown. Lists are shown comma-separated, as the options take them.
    """

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        if "default" in text or default is None or default is False:
            return text
        if default is argparse.SUPPRESS or not action.option_strings:
            return text
        if isinstance(default, (list, tuple)):
            if not default:
                return text
            default = ",".join(str(item) for item in default)
        shown = str(default).replace("%", "%%")
        return f"{text} (default: {shown})"


def _add_compare_parser(commands):
    parser = commands.add_parser(
        "compare",
        help="train one model per optimizer and seed, and summarise",
        description=(
            "Train the model once per optimizer and seed on the same data, store "
            "every epoch as it ends, and print the min/mean/max table. Defaults "
            "follow the 2017 study (CIFAR-10, batch 32, 200 epochs, shift and "
            "flip augmentation, test set as validation) except --preset."
        ),
        formatter_class=_HelpFormatter,
    )
    add = parser.add_argument
    add("--optimizers", type=_name_list, default=["sgd", "adam", "adagrad"], metavar="LIST",
        help="comma-separated optimizer names; `labkit optimizers` lists them")
    add("--preset", default="keras3", choices=["keras3", "keras2017"],
        help="hyper-parameter defaults: the installed Keras 3, or Keras 2.0 as the 2017 study ran")
    add("--set", action="append", default=[], metavar="OPT.PARAM=VALUE", dest="settings",
        help="override one hyper-parameter of one optimizer, e.g. adam.learning_rate=3e-4; "
             "repeat for more; `labkit optimizers NAME` shows each range")
    add("--dataset", default="cifar10", choices=DATASET_NAMES, help="image dataset")
    add("--fallback-dataset", choices=DATASET_NAMES, default=None,
        help="dataset to use, with a notice, when --dataset is neither on this machine "
             "nor downloadable; not used when its files are damaged (default: none, "
             "so a missing dataset stops the command)")
    add("--data-dir", default=None, metavar="DIR",
        help="folder searched first for dataset files (default: the folder in "
             "LABKIT_DATA_DIR, if set)")
    add("--offline", action="store_true",
        help=f"never try to download a dataset; {_OFFLINE_ENV_HELP}")
    add("--model", default="cifar10_cnn", choices=["cifar10_cnn", "mlp"], help="network")
    add("--model-option", action="append", default=[], metavar="KEY=VALUE",
        help="option of the --model builder, e.g. activation=sigmoid; width=0.5 "
             "(cifar10_cnn only) or hidden_units=16 (mlp only); repeat for more")
    add("--epochs", type=_positive_int, default=200, help="epochs per run, >= 1")
    add("--batch-size", type=_positive_int, default=32, help="images per training step, >= 1")
    add("--seeds", type=_seed_list, default=[0], metavar="LIST",
        help="comma-separated seeds >= 0; every optimizer runs once per seed")
    add("--no-augmentation", action="store_true",
        help="train on the images as they are (default: random shift up to 10%% and flip)")
    add("--validation", default="test", metavar="SPLIT",
        help="'test' (test set as validation, as in 2017), 'none', a fraction in (0, 1) "
             "or a count of training images to hold out")
    add("--train-size", type=_positive_int, default=None, metavar="N",
        help="train on N images drawn evenly per class (default: the whole set)")
    add("--test", action="store_true", dest="evaluate_test",
        help="also evaluate the test set after every epoch (test_loss, test_accuracy)")
    add("--eval-batch-size", type=_positive_int, default=256,
        help="images per evaluation step; changes speed only")
    add("--out", default=None, metavar="DIR",
        help="output folder for config.json, history.csv, summary.csv and checkpoints "
             "(default: labkit-runs/<date>-<time>-<comparison id>)")
    add("--store", default=None, metavar="URL",
        help="SQLAlchemy URL of the results store (default: SQLite file results.db in --out)")
    add("--name", default=None, help="label of the comparison (default: the optimizers)")
    add("--resume", default=None, metavar="DIR",
        help="continue the comparison in DIR from each run's last finished epoch, "
             "with the settings stored in DIR/config.json; only --store, --data-dir, "
             "--offline, --no-progress and -v apply")
    add("--no-progress", action="store_true", help="do not show progress bars")
    add("-v", "--verbose", action="store_true",
        help="log progress details, and TensorFlow's start-up messages, to stderr")
    defaults = {dest: parser.get_default(dest) for dest, _ in _IGNORED_WITH_RESUME}
    parser.set_defaults(handler=_run_compare, compare_defaults=defaults)


def _add_summary_parser(commands):
    parser = commands.add_parser(
        "summary",
        help="print the min/mean/max table of a stored comparison",
        description="Print the summary table of a comparison from its output folder or store.",
    )
    parser.add_argument("folder", nargs="?", default=None,
                        help="output folder of `labkit compare` (it contains config.json)")
    parser.add_argument("--store", default=None, metavar="URL",
                        help="SQLAlchemy URL of the results store")
    parser.add_argument("--comparison", default=None, metavar="ID",
                        help="comparison id (default: the newest in the store)")
    parser.add_argument("--list", action="store_true", help="list the comparisons in the store")
    parser.set_defaults(handler=_run_summary)


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def _add_export_parser(commands):
    from labkit.export._limits import FORMATS, SCALE_LIMITS, STYLE_LIMITS

    parser = commands.add_parser(
        "export",
        help="write figures, tables, data and a manifest of a comparison",
        description=(
            "Export a comparison into a new folder: the study's figures as PNG, SVG and "
            "standalone HTML, the summary as CSV, Markdown and LaTeX, every epoch as CSV "
            "and JSON, and a manifest with versions, settings and file checksums. PNG and "
            "SVG need Chromium and chromedriver (apt-get install chromium chromium-driver)."
        ),
        formatter_class=_HelpFormatter,
    )
    add = parser.add_argument
    add("folder", help="output folder of `labkit compare` (it contains config.json)")
    add("--out", default=None, metavar="FOLDER",
        help="export folder; if it exists and is not empty, FOLDER-2, FOLDER-3, ... is used "
             "(default: FOLDER/exports/NAME inside the comparison folder)")
    add("--formats", default=",".join(FORMATS), metavar="LIST",
        help=f"comma-separated formats from: {', '.join(FORMATS)}")
    add("--name", default=None,
        help="base name of every file: letters, digits, '.', '_' and '-' "
             "(default: from the comparison's label)")
    add("--width", type=_positive_int, default=640,
        help=f"figure width in CSS pixels, {STYLE_LIMITS['width'][0]} to {STYLE_LIMITS['width'][1]}")
    add("--height", type=_positive_int, default=400,
        help=f"figure height in CSS pixels, {STYLE_LIMITS['height'][0]} to {STYLE_LIMITS['height'][1]}")
    add("--font-size", type=_positive_float, default=11,
        help=f"font size of labels and legend in points, {STYLE_LIMITS['font_size'][0]} to "
             f"{STYLE_LIMITS['font_size'][1]}")
    add("--font", default="Helvetica", help="CSS font family of every text")
    add("--scale", type=_positive_float, default=1,
        help=f"PNG pixels per CSS pixel, {SCALE_LIMITS[0]} to {SCALE_LIMITS[1]}; 2 or more for print")
    add("--zip", action="store_true", help="also write every exported file into FOLDER.zip")
    add("--store", default=None, metavar="URL",
        help="SQLAlchemy URL of the results store (default: the one in config.json)")
    add("--comparison", default=None, metavar="ID",
        help="comparison id (default: the one in config.json)")
    parser.set_defaults(handler=_run_export)


def _add_listing_parsers(commands):
    parser = commands.add_parser(
        "optimizers", help="list optimizers, or show one optimizer's hyper-parameters"
    )
    parser.add_argument("name", nargs="?", default=None, help="an optimizer name")
    parser.set_defaults(handler=_run_optimizers)

    parser = commands.add_parser(
        "datasets",
        help="list datasets and where each is found offline",
        description=(
            "List each dataset with the file or folder that labkit reads it from "
            "without a network. Places searched, in order: the data folder "
            "(--data-dir, else LABKIT_DATA_DIR), the Keras cache ($KERAS_HOME/datasets "
            "or ~/.keras/datasets) and, for fashion_mnist, Debian's "
            "/usr/share/datasets/fashion-mnist. `labkit compare` downloads a "
            "dataset found nowhere, unless --offline is given or LABKIT_OFFLINE is 1, "
            "true, yes or on."
        ),
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--data-dir", default=None, metavar="DIR",
                        help="folder searched first (default: the folder in LABKIT_DATA_DIR, "
                             "if set)")
    parser.add_argument("--offline", action="store_true",
                        help=f"list as `labkit compare --offline` would search; "
                             f"{_OFFLINE_ENV_HELP}")
    parser.set_defaults(handler=_run_datasets)


def build_parser():
    """Return the argument parser of the `labkit` command."""
    parser = argparse.ArgumentParser(
        prog="labkit",
        description="Compare gradient-descent optimizers by training real Keras models.",
    )
    parser.add_argument("--version", action="version", version=f"labkit {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_compare_parser(commands)
    _add_summary_parser(commands)
    _add_export_parser(commands)
    _add_listing_parsers(commands)
    # `labkit app` has its own parser in labkit.app.serve, and `main` passes
    # its arguments there before this parser runs. This entry only lists it.
    commands.add_parser(
        "app", help="serve the optimizer app to a class with Voila (labkit app --help)", add_help=False
    )
    return parser


def _version():
    import labkit

    return labkit.__version__


# -- compare ---------------------------------------------------------------


class _ProgressSink:
    """Progress bars on stderr: one per run, counting training steps."""

    wants_batches = True

    def __init__(self):
        from tqdm.auto import tqdm

        self._tqdm = tqdm
        self._bar = None
        self._epoch_rows = {}

    def on_comparison_begin(self, comparison_id, runs):
        pass

    def on_run_begin(self, run):
        config = run.config
        total = run.steps_per_epoch * config.epochs
        self._bar = self._tqdm(
            total=total,
            initial=run.steps_per_epoch * run.start_epoch,
            desc=f"[{run.position + 1}/{run.total_runs}] {config.optimizer} seed {config.seed}",
            unit="step",
            dynamic_ncols=True,
            mininterval=0.5,
            # The average rate since the start: the validation pass after
            # each epoch would otherwise swing the estimate of time left.
            smoothing=0,
        )

    def on_batch_end(self, run, epoch, batch, logs):
        self._bar.update(1)
        if batch % 50 == 0:
            self._bar.set_postfix_str(f"epoch {epoch}/{run.config.epochs} loss {logs.get('loss', float('nan')):.4f}", refresh=False)

    def on_epoch_end(self, run, row):
        done = run.steps_per_epoch * row["epoch"]
        self._bar.update(max(0, done - self._bar.n))
        parts = [f"epoch {row['epoch']}/{run.config.epochs}"]
        for key, label in (("loss", "loss"), ("accuracy", "acc"), ("val_accuracy", "val_acc")):
            value = row.get(key)
            if value is not None:
                parts.append(f"{label} {value:.4f}")
        parts.append(f"{row['time_per_epoch_s']:.1f} s/epoch")
        self._bar.set_postfix_str(" ".join(parts))

    def on_run_end(self, run, status, message):
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if status != "finished":
            self._tqdm.write(
                f"{run.config.optimizer} seed {run.config.seed}: {status}. {message}",
                file=sys.stderr,
            )

    def on_comparison_end(self, comparison_id):
        if self._bar is not None:
            self._bar.close()
            self._bar = None


# Options of `compare` that `--resume` does not use, as (dest, flag): the
# comparison goes on with the settings stored in its config.json.
_IGNORED_WITH_RESUME = (
    ("optimizers", "--optimizers"),
    ("preset", "--preset"),
    ("settings", "--set"),
    ("dataset", "--dataset"),
    ("fallback_dataset", "--fallback-dataset"),
    ("model", "--model"),
    ("model_option", "--model-option"),
    ("epochs", "--epochs"),
    ("batch_size", "--batch-size"),
    ("seeds", "--seeds"),
    ("no_augmentation", "--no-augmentation"),
    ("validation", "--validation"),
    ("train_size", "--train-size"),
    ("evaluate_test", "--test"),
    ("eval_batch_size", "--eval-batch-size"),
    ("out", "--out"),
    ("name", "--name"),
)


def _parse_validation_option(text):
    """Parse `--validation`, with an error in the command line's spelling."""
    from labkit.training import parse_validation

    try:
        return parse_validation(text)
    except ConfigError:
        raise ConfigError(
            "--validation must be 'test' (the test set serves as validation, as in "
            "the 2017 study), 'none' (no validation set), a fraction in (0, 1) of "
            "the training set, or a whole number >= 1 of training images to hold "
            f"out. Received: --validation {text}"
        ) from None


def _compare_settings(args):
    return {
        "hyperparameters": parse_settings(args.settings),
        "model": args.model,
        "model_options": parse_options(args.model_option, "--model-option"),
        "preset": args.preset,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "seeds": args.seeds,
        "augmentation": not args.no_augmentation,
        "validation": _parse_validation_option(args.validation),
        "train_size": args.train_size,
        "evaluate_test": args.evaluate_test,
        "eval_batch_size": args.eval_batch_size,
    }


def _offline_reason(args):
    """Return what turned downloads off, or `None` if they are allowed."""
    from labkit.data import OFFLINE_ENV, offline_from_environment

    if args.offline:
        return "--offline"
    if offline_from_environment():
        return f"{OFFLINE_ENV}={os.environ[OFFLINE_ENV]}"
    return None


def _folders_to_create(folder):
    """Return `folder` and its missing parents, deepest first."""
    missing = []
    path = pathlib.Path(folder).absolute()
    while not path.exists() and path != path.parent:
        missing.append(path)
        path = path.parent
    return missing


def _remove_empty_folders(folders):
    """Remove the folders that labkit created and left empty, deepest first."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            # Not empty, or already gone: keep whatever is there.
            return


def _warn_ignored_with_resume(args):
    ignored = [
        flag for dest, flag in _IGNORED_WITH_RESUME
        if getattr(args, dest) != args.compare_defaults[dest]
    ]
    if ignored:
        print(
            f"WARNING: --resume continues {args.resume} with the settings stored in "
            f"{pathlib.Path(args.resume) / 'config.json'}, so these options are "
            f"ignored: {', '.join(ignored)}. Start a new comparison without --resume "
            "to train with other settings.",
            file=sys.stderr,
        )


class _EventSink:
    """A sink that ignores every event. A subclass handles the ones it needs.

    `labkit.training.sinks.Sink` is the same, but importing it imports Keras
    before `main` can hide TensorFlow's start-up output.
    """

    wants_batches = False

    def on_comparison_begin(self, comparison_id, runs):
        pass

    def on_run_begin(self, run):
        pass

    def on_batch_end(self, run, epoch, batch, logs):
        pass

    def on_epoch_end(self, run, row):
        pass

    def on_run_end(self, run, status, message):
        pass

    def on_comparison_end(self, comparison_id):
        pass


def _run_compare(args):
    offline_reason = _offline_reason(args)
    settings = _compare_settings(args) if not args.resume else None
    from labkit.training import compare, default_output_dir, new_comparison_id, resume

    sinks = [] if args.no_progress else [_ProgressSink()]
    download = offline_reason is None
    # The id is chosen here so that the default folder can carry it.
    comparison_id = None if args.resume else new_comparison_id()
    out = args.resume or args.out or str(default_output_dir(comparison_id))
    created = [] if args.resume else _folders_to_create(out)
    try:
        # Keras prints "Downloading data from ..." and its progress bar to
        # stdout; stdout is kept for the result, so they go to stderr.
        with contextlib.redirect_stdout(sys.stderr):
            if args.resume:
                _warn_ignored_with_resume(args)
                result = resume(args.resume, store=args.store, sinks=sinks,
                                data_dir=args.data_dir, download=download)
            else:
                result = _compare_with_fallback(compare, args, settings, sinks, out,
                                                offline_reason, comparison_id)
    except KeyboardInterrupt:
        print(
            f"\nStopped. Every finished epoch is kept in {out}. "
            f"Continue with: labkit compare --resume {out}",
            file=sys.stderr,
        )
        return 130
    except LabkitError:
        # An invalid store URL fails after the runner created --out.
        _remove_empty_folders(created)
        raise
    _print_result(result)
    failed = [run for run in result.runs if run["status"] == "failed"]
    return 1 if failed else 0


class _FallbackNotice(_EventSink):
    """A sink that prints the fallback notice once the fallback data loaded."""

    def __init__(self, text):
        self.text = text

    def on_comparison_begin(self, comparison_id, runs):
        print(self.text, file=sys.stderr)


def _compare_with_fallback(compare, args, settings, sinks, out, offline_reason, comparison_id):
    dataset, fallback = args.dataset, args.fallback_dataset
    download = offline_reason is None
    try:
        return compare(args.optimizers, dataset=dataset, store=args.store, output_dir=out,
                       name=args.name, sinks=sinks, data_dir=args.data_dir,
                       download=download, comparison_id=comparison_id, **settings)
    except DatasetFormatError as error:
        if not fallback or fallback == dataset:
            raise
        raise DatasetFormatError(
            f"{error}\n--fallback-dataset {fallback} applies only when {dataset} is "
            f"absent, not when a file of it is damaged. Remove or replace the damaged "
            f"file, then run the command again."
        ) from error
    except DatasetUnavailableError as error:
        if not fallback or fallback == dataset:
            raise
        missing = error
    logger.info("%s", missing)
    if offline_reason is None:
        why = "is not on this machine and could not be downloaded"
    else:
        why = f"is not on this machine and downloads are off ({offline_reason})"
    notice = _FallbackNotice(
        f"NOTE: {dataset} {why}, so this comparison runs on {fallback} instead, "
        f"as --fallback-dataset asks. `labkit datasets` shows where labkit looks "
        f"for {dataset}."
    )
    try:
        return compare(args.optimizers, dataset=fallback, store=args.store,
                       output_dir=out, name=args.name, sinks=[notice, *sinks],
                       data_dir=args.data_dir, download=download,
                       comparison_id=comparison_id, **settings)
    except DatasetUnavailableError as error:
        raise DatasetUnavailableError(
            f"Neither {dataset} nor the fallback dataset {fallback} is available.\n\n"
            f"{missing}\n\n{error}"
        ) from error


def _print_result(result):
    from labkit.stats import study_table

    summary = result.summary()
    print(f"Comparison {result.comparison_id}")
    for run in result.runs:
        line = f"  {run['optimizer']:<12} seed {run['seed']:<4} {run['status']}"
        print(line + (f": {run['message']}" if run["message"] else ""))
    print()
    if summary.empty:
        print("No epoch finished, so there is nothing to summarise.")
    else:
        print(study_table(summary).to_string())
    if result.output_dir is not None:
        print()
        print(f"Files in {result.output_dir}: config.json, history.csv, summary.csv")
        print(f"Results store: {result.store_url}")


# -- summary, optimizers, datasets -----------------------------------------


def _run_summary(args):
    from labkit.training import ResultsStore, read_config
    from labkit.training.results import ComparisonResult
    from labkit.training.store import sqlite_url

    comparison_id = args.comparison
    folder = pathlib.Path(args.folder) if args.folder else None
    url = args.store
    if folder is not None:
        saved = read_config(folder)
        comparison_id = comparison_id or saved["comparison_id"]
        url = url or saved["store"]
    if url is None:
        raise ConfigError(
            "Name a comparison: give its output folder (labkit summary labkit-runs/...) "
            "or a results store with --store URL."
        )
    if "://" not in url:
        url = sqlite_url(url)
    named_by = None if args.store or folder is None else folder / "config.json"
    _check_store_file_exists(url, named_by)
    # create=False: summary only reads, so it creates no file and no tables.
    store = ResultsStore(url, create=False)
    if args.list:
        for item in store.comparisons():
            print(f"{item['id']}  {item['created_at']:%Y-%m-%d %H:%M}  {item['name']}")
        return 0
    comparison_id = comparison_id or store.latest_comparison_id()
    if comparison_id is None:
        raise ConfigError(f"The store {store.safe_url} contains no comparison yet.")
    store.comparison(comparison_id)
    _print_result(ComparisonResult.from_store(store, comparison_id, None))
    return 0


def _check_store_file_exists(url, named_by):
    """Raise `ConfigError` if an SQLite store file is missing.

    Opening a missing SQLite file creates it, and `summary` only reads.
    """
    import sqlalchemy as sa

    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        return  # ResultsStore reports an invalid URL.
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or database in (None, "", ":memory:"):
        return
    if database.startswith("file:") or pathlib.Path(database).is_file():
        return
    source = f", named in {named_by}," if named_by else ""
    raise ConfigError(
        f"The results store file {database}{source} does not exist, and "
        "`labkit summary` only reads, so it creates none. Check the path, or give "
        "the store of an earlier `labkit compare` with --store."
    )


def _run_export(args):
    from labkit.export import export_comparison

    result = export_comparison(
        args.folder,
        args.out,
        formats=args.formats,
        name=args.name,
        width=args.width,
        height=args.height,
        font_size=args.font_size,
        font=args.font,
        scale=args.scale,
        store=args.store,
        comparison_id=args.comparison,
    )
    if result.notice:
        print(f"NOTE: {result.notice}", file=sys.stderr)
    print(f"Exported {len(result.files)} files to {result.folder}:")
    for name in result.files:
        print(f"  {name}")
    if args.zip:
        print(f"Zip of every file: {result.write_zip()}")
    for message in result.errors.values():
        print(f"labkit export: error: {message}", file=sys.stderr)
    return 1 if result.errors else 0


def _run_optimizers(args):
    from labkit import optimizers

    if args.name is None:
        for name in optimizers.names():
            print(f"{name:<18} {optimizers.spec(name).summary}")
        print("\n`labkit optimizers NAME` shows one optimizer's hyper-parameters.")
        return 0
    spec = optimizers.spec(args.name)
    print(f"{spec.name}: {spec.summary}\n")
    print(textwrap.indent(spec.update_rule.strip(), "  "))
    print()
    for param in spec.hyperparameters.values():
        defaults = ", ".join(
            f"{preset} {spec.defaults.get(preset, {}).get(param.name)!r}" for preset in optimizers.PRESETS
        )
        print(f"  {param.name}: {optimizers.describe_range(param)}; {defaults}")
        print(f"      {param.help}")
    print(f"\nKnown weakness: {spec.weakness}")
    return 0


def _run_datasets(args):
    from labkit.data import DATASETS, locate

    offline_reason = _offline_reason(args)
    if offline_reason is None:
        missing = "not found offline (`labkit compare` will try a download)"
    else:
        missing = f"not found, and downloads are off ({offline_reason})"
    for name in DATASETS:
        place = locate(name, data_dir=args.data_dir)
        print(f"{name:<14} {place or missing}")
    return 0


# A glog line prefix such as "I0000 00:00:1796401091.571894    3928 ".
_NATIVE_LOG_PREFIX = re.compile(r"^[IWEF]\d{4} [\d:.]+\s+\d+ ")


def _import_keras_showing_native_lines_once():
    """Import Keras and start its backend, showing TensorFlow's lines once.

    TensorFlow 2.21 writes its native start-up lines twice on import, once
    for each of two libraries that keep their own logging state. They are
    caught on file descriptor 2 and written back without repeats; the
    timestamp and process id of a line do not count in the comparison.
    """
    if "keras" in sys.modules:
        return
    with tempfile.TemporaryFile() as captured:
        sys.stderr.flush()
        saved = os.dup(2)
        try:
            os.dup2(captured.fileno(), 2)
            import keras

            keras.ops.convert_to_tensor([0.0])
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        captured.seek(0)
        text = captured.read().decode("utf-8", errors="replace")

    seen = set()
    for line in text.splitlines():
        key = _NATIVE_LOG_PREFIX.sub("", line)
        if key not in seen:
            seen.add(key)
            print(line, file=sys.stderr)


def _configure_logging(verbose):
    if verbose:
        _import_keras_showing_native_lines_once()
    else:
        from labkit._startup import import_keras_quietly

        import_keras_quietly()
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


def main(argv=None):
    """Run the `labkit` command and return its exit status."""
    arguments = sys.argv[1:] if argv is None else list(argv)
    if arguments[:1] == ["app"]:
        from labkit.app.serve import main as serve_app

        return serve_app(arguments[1:])
    parser = build_parser()
    args = parser.parse_args(arguments)
    _configure_logging(getattr(args, "verbose", False))
    try:
        return args.handler(args)
    except LabkitError as error:
        message = textwrap.fill(str(error), width=100) if "\n" not in str(error) else str(error)
        print(f"labkit {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nInterrupted.", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of stdout went away (as with `| head`): stop quietly.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
