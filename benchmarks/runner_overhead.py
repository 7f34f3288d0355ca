"""Time labkit's runner against plain `model.fit` on the same work.

Both sides train the same model (labkit's builder, same seed), on the same
data, with the same batch size and the same validation pass after every
epoch, alternating in one process so that machine noise hits both. The
plain side calls `model.fit(..., validation_data=..., verbose=0)` once; the
labkit side calls `labkit.training.compare` with no sinks, so its epoch also
includes writing the results store and a checkpoint.

An epoch's wall time is the time between the ends of two consecutive
epochs, so the first epoch (tracing and compilation) is left out. The script
prints the median epoch time of each side and their ratio, with
augmentation off and on.

Usage:
    python benchmarks/runner_overhead.py [--train-size N] [--epochs E] [--repeats R]
        [--augmentation off|on|both]
"""

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

from labkit.data import load_dataset  # noqa: E402
from labkit.training import RunConfig, Sink, build_training_model, compare  # noqa: E402


class _EpochClock(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.ends = []

    def on_epoch_end(self, epoch, logs=None):
        self.ends.append(time.perf_counter())


class _SinkClock(Sink):
    def __init__(self):
        self.ends = []

    def on_epoch_end(self, run, row):
        self.ends.append(time.perf_counter())


def _epoch_times(ends):
    return [later - earlier for earlier, later in zip(ends, ends[1:])]


def time_plain(dataset, config):
    model = build_training_model(config, dataset.input_shape, dataset.num_classes)
    clock = _EpochClock()
    model.fit(
        dataset.x_train, dataset.y_train, batch_size=config.batch_size, epochs=config.epochs,
        validation_data=(dataset.x_val, dataset.y_val), validation_batch_size=config.eval_batch_size,
        shuffle=True, verbose=0, callbacks=[clock],
    )
    return _epoch_times(clock.ends)


def time_labkit(dataset, config):
    clock = _SinkClock()
    with tempfile.TemporaryDirectory() as folder:
        compare(
            [config.optimizer], dataset=dataset, output_dir=folder, sinks=[clock],
            model=config.model, epochs=config.epochs, batch_size=config.batch_size,
            augmentation=config.augmentation, validation=config.validation,
            train_size=config.train_size, eval_batch_size=config.eval_batch_size,
        )
    return _epoch_times(clock.ends)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train-size", type=int, default=12000, help="training images (default 12000)")
    parser.add_argument("--epochs", type=int, default=4, help="epochs per side and setting (default 4)")
    parser.add_argument("--repeats", type=int, default=2, help="alternations per setting (default 2)")
    parser.add_argument("--batch-size", type=int, default=32, help="images per step (default 32)")
    parser.add_argument("--augmentation", choices=("off", "on", "both"), default="both",
                        help="settings to time (default both)")
    args = parser.parse_args()

    dataset = load_dataset("fashion_mnist", train_size=args.train_size, validation=0.1, seed=0, download=False)
    print(f"Fashion-MNIST, {len(dataset.x_train)} training and {len(dataset.x_val)} validation images, "
          f"cifar10_cnn, batch {args.batch_size}, {args.epochs} epochs, {args.repeats} repeats, "
          f"Keras {keras.__version__} on {keras.backend.backend()}")
    print(f"{'augmentation':<13} {'plain s/epoch':>14} {'labkit s/epoch':>15} {'ratio':>7}")
    settings = {"off": (False,), "on": (True,), "both": (False, True)}[args.augmentation]
    for augmentation in settings:
        config = RunConfig(
            optimizer="adam", dataset="fashion_mnist", epochs=args.epochs, batch_size=args.batch_size,
            augmentation=augmentation, validation=0.1, train_size=args.train_size,
        )
        plain, labkit_times = [], []
        for repeat in range(args.repeats):
            # Alternate which side goes first, so that a drift of the
            # machine's speed does not favour one side.
            sides = [(plain, time_plain), (labkit_times, time_labkit)]
            for times, measure in sides if repeat % 2 == 0 else sides[::-1]:
                times += measure(dataset, config)
        plain_median = statistics.median(plain)
        labkit_median = statistics.median(labkit_times)
        print(f"{'on' if augmentation else 'off':<13} {plain_median:>14.2f} {labkit_median:>15.2f} "
              f"{labkit_median / plain_median:>7.3f}")
        print(f"  plain s/epoch:  {', '.join(f'{t:.2f}' for t in plain)}")
        print(f"  labkit s/epoch: {', '.join(f'{t:.2f}' for t in labkit_times)}")


if __name__ == "__main__":
    main()
