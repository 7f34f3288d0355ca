"""The `labkit` command: compare optimizers and read results from a shell.

Commands:
    labkit compare     train the reference CNN with several optimizers
    labkit summary     print the min/mean/max table of a stored comparison
    labkit optimizers  list optimizers, or one optimizer's hyper-parameters
    labkit datasets    list datasets and where each is found offline
"""

import argparse
import logging
import os
import pathlib
import sys
import textwrap
import time

from labkit.errors import ConfigError, DatasetUnavailableError, LabkitError

logger = logging.getLogger("labkit.cli")

DATASET_NAMES = ("cifar10", "cifar100", "fashion_mnist", "mnist")


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
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
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
        help="dataset to use, with a notice, when --dataset cannot be loaded offline")
    add("--data-dir", default=None, metavar="DIR",
        help="folder searched first for dataset files (also LABKIT_DATA_DIR)")
    add("--offline", action="store_true", help="never try to download a dataset")
    add("--model", default="cifar10_cnn", choices=["cifar10_cnn", "mlp"], help="network")
    add("--model-option", action="append", default=[], metavar="KEY=VALUE",
        help="builder option, e.g. width=0.5 or activation=sigmoid; repeat for more")
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
             "(default: labkit-runs/<date-time>)")
    add("--store", default=None, metavar="URL",
        help="SQLAlchemy URL of the results store (default: SQLite file results.db in --out)")
    add("--name", default=None, help="label of the comparison (default: the optimizers)")
    add("--resume", default=None, metavar="DIR",
        help="continue the comparison in DIR from each run's last finished epoch; "
             "other options are taken from DIR/config.json")
    add("--no-progress", action="store_true", help="do not show progress bars")
    add("-v", "--verbose", action="store_true", help="log progress details to stderr")
    parser.set_defaults(handler=_run_compare)


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


def _add_listing_parsers(commands):
    parser = commands.add_parser(
        "optimizers", help="list optimizers, or show one optimizer's hyper-parameters"
    )
    parser.add_argument("name", nargs="?", default=None, help="an optimizer name")
    parser.set_defaults(handler=_run_optimizers)

    parser = commands.add_parser("datasets", help="list datasets and where each is found offline")
    parser.add_argument("--data-dir", default=None, metavar="DIR", help="folder searched first")
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
    _add_listing_parsers(commands)
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
        )

    def on_batch_end(self, run, epoch, batch, logs):
        self._bar.update(1)
        if batch % 50 == 0:
            self._bar.set_postfix_str(f"epoch {epoch}/{run.config.epochs} loss {logs.get('loss', float('nan')):.4f}", refresh=False)

    def on_epoch_end(self, run, row):
        done = run.steps_per_epoch * row["epoch"]
        self._bar.update(max(0, done - self._bar.n))
        accuracy = row.get("val_accuracy", row.get("accuracy"))
        self._bar.set_postfix_str(
            f"epoch {row['epoch']}/{run.config.epochs} loss {row['loss']:.4f} "
            f"acc {accuracy:.4f} {row['time_per_epoch_s']:.1f} s/epoch"
        )

    def on_run_end(self, run, status, message):
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if status != "finished":
            self._tqdm.write(f"{run.config.optimizer} seed {run.config.seed}: {status}. {message}")

    def on_comparison_end(self, comparison_id):
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _compare_settings(args):
    from labkit.training import parse_validation

    return {
        "hyperparameters": parse_settings(args.settings),
        "model": args.model,
        "model_options": parse_options(args.model_option, "--model-option"),
        "preset": args.preset,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "seeds": args.seeds,
        "augmentation": not args.no_augmentation,
        "validation": parse_validation(args.validation),
        "train_size": args.train_size,
        "evaluate_test": args.evaluate_test,
        "eval_batch_size": args.eval_batch_size,
    }


def _run_compare(args):
    settings = _compare_settings(args) if not args.resume else None
    from labkit.training import compare, resume

    sinks = [] if args.no_progress else [_ProgressSink()]
    download = not args.offline
    out = args.resume or args.out or os.path.join("labkit-runs", time.strftime("%Y%m%d-%H%M%S"))
    try:
        if args.resume:
            result = resume(args.resume, store=args.store, sinks=sinks,
                            data_dir=args.data_dir, download=download)
        else:
            result = _compare_with_fallback(compare, args, settings, sinks, out, download)
    except KeyboardInterrupt:
        print(
            f"\nStopped. Every finished epoch is kept in {out}. "
            f"Continue with: labkit compare --resume {out}",
            file=sys.stderr,
        )
        return 130
    _print_result(result)
    failed = [run for run in result.runs if run["status"] == "failed"]
    return 1 if failed else 0


def _compare_with_fallback(compare, args, settings, sinks, out, download):
    dataset = args.dataset
    try:
        return compare(args.optimizers, dataset=dataset, store=args.store, output_dir=out,
                       name=args.name, sinks=sinks, data_dir=args.data_dir,
                       download=download, **settings)
    except DatasetUnavailableError as error:
        if not args.fallback_dataset or args.fallback_dataset == dataset:
            raise
        logger.info("%s", error)
        print(
            f"NOTE: {dataset} is not on this machine and could not be downloaded, "
            f"so this comparison runs on {args.fallback_dataset} instead, as "
            f"--fallback-dataset asks. `labkit datasets` shows where labkit "
            f"looks for {dataset}.",
            file=sys.stderr,
        )
    return compare(args.optimizers, dataset=args.fallback_dataset, store=args.store,
                   output_dir=out, name=args.name, sinks=sinks, data_dir=args.data_dir,
                   download=download, **settings)


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
    store = ResultsStore(url)
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

    for name in DATASETS:
        place = locate(name, data_dir=args.data_dir)
        print(f"{name:<14} {place or 'not found offline (a download will be tried)'}")
    return 0


def _configure_logging(verbose):
    if not verbose:
        from labkit._startup import import_keras_quietly

        import_keras_quietly()
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


def main(argv=None):
    """Run the `labkit` command and return its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
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
