"""Training runs: configuration, the runner, the results store and sinks."""

from labkit.training.config import RunConfig, parse_validation
from labkit.training.results import ComparisonResult
from labkit.training.runner import (
    DEFAULT_OPTIMIZERS,
    build_run_configs,
    build_training_model,
    compare,
    read_config,
    resume,
)
from labkit.training.sinks import RunInfo, Sink
from labkit.training.store import EPOCH_METRICS, RUN_STATUSES, ResultsStore

__all__ = [
    "ComparisonResult",
    "DEFAULT_OPTIMIZERS",
    "EPOCH_METRICS",
    "RUN_STATUSES",
    "ResultsStore",
    "RunConfig",
    "RunInfo",
    "Sink",
    "build_run_configs",
    "build_training_model",
    "compare",
    "parse_validation",
    "read_config",
    "resume",
]
