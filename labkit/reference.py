"""Published results of the 2017 study that labkit reproduces.

The study is "Comparison of Gradient Descent Optimization Methods for Neural
Networks", a 2017 university seminar study. It trained the Keras CIFAR-10
CNN example once per optimizer (SGD, Adam and Adagrad with the Keras 2.0
defaults), batch 32, 200 epochs, with augmentation and one seed, and
reported the minimum, mean and maximum of each metric over the 200 epochs.

The study called the metrics of its training batches "test loss" and "test
accuracy", and its validation set was CIFAR-10's test set. Its "test" rows
are therefore labkit's `loss` and `accuracy`, and its validation rows are
labkit's `val_loss` and `val_accuracy` with `validation="test"`.
"""

import pandas as pd

STUDY_TITLE = "Comparison of Gradient Descent Optimization Methods for Neural Networks"

STUDY_SETTINGS = {
    "dataset": "cifar10",
    "model": "cifar10_cnn",
    "preset": "keras2017",
    "optimizers": ("sgd", "adam", "adagrad"),
    "batch_size": 32,
    "epochs": 200,
    "augmentation": True,
    "validation": "test",
    "seeds": (0,),
}

# (min, mean, max) over the 200 epochs, as published; metric names are
# labkit's, optimizer names labkit's registry names.
STUDY_RESULTS = {
    "time_per_epoch_s": {
        "sgd": (188.0, 209.2, 588.0),
        "adam": (203.0, 220.6, 322.0),
        "adagrad": (205.0, 206.1, 223.0),
    },
    "loss": {
        "sgd": (0.3822, 0.6041, 2.1094),
        "adam": (0.6224, 0.6836, 1.5892),
        "adagrad": (0.5027, 0.6187, 1.6527),
    },
    "accuracy": {
        "sgd": (0.2151, 0.7865, 0.8654),
        "adam": (0.4132, 0.7655, 0.7899),
        "adagrad": (0.3942, 0.7827, 0.8242),
    },
    "val_loss": {
        "sgd": (0.3828, 0.5363, 1.8103),
        "adam": (0.4953, 0.5708, 1.1835),
        "adagrad": (0.4577, 0.5391, 1.3018),
    },
    "val_accuracy": {
        "sgd": (0.3496, 0.8150, 0.8715),
        "adam": (0.5782, 0.8075, 0.8353),
        "adagrad": (0.5298, 0.8131, 0.8449),
    },
}


def study_summary():
    """Return the study's published values as a DataFrame.

    Returns:
        One row per optimizer and metric, with the columns `optimizer`,
        `metric`, `min`, `mean` and `max`, in the order of
        `STUDY_RESULTS`.
    """
    records = [
        {"optimizer": optimizer, "metric": metric, "min": low, "mean": mean, "max": high}
        for metric, per_optimizer in STUDY_RESULTS.items()
        for optimizer, (low, mean, high) in per_optimizer.items()
    ]
    return pd.DataFrame.from_records(records, columns=["optimizer", "metric", "min", "mean", "max"])


def compare_with_study(summary):
    """Put labkit's min/mean/max beside the study's published values.

    Args:
        summary: A DataFrame from `labkit.stats.summarize` (or
            `ComparisonResult.summary()`).

    Returns:
        A DataFrame indexed by `metric` and `optimizer` with the columns
        `labkit min`, `labkit mean`, `labkit max`, `study min`, `study mean`
        and `study max`. It has a row for every pair that either side has;
        a value that one side lacks is NaN.
    """
    keys = ["metric", "optimizer"]
    ours = summary[["optimizer", "metric", "min", "mean", "max"]].rename(
        columns={name: f"labkit {name}" for name in ("min", "mean", "max")}
    )
    theirs = study_summary().rename(
        columns={name: f"study {name}" for name in ("min", "mean", "max")}
    )
    table = ours.merge(theirs, on=["optimizer", "metric"], how="outer")
    metric_order = {metric: i for i, metric in enumerate(STUDY_RESULTS)}
    optimizer_order = {name: i for i, name in enumerate(dict.fromkeys(
        [*summary["optimizer"], *STUDY_SETTINGS["optimizers"]]
    ))}
    table = table.sort_values(
        keys,
        key=lambda column: column.map(metric_order if column.name == "metric" else optimizer_order)
        .fillna(len(metric_order)),
        kind="stable",
    )
    return table.set_index(keys)
