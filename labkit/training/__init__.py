"""Training runs: configuration, the runner, the results store and sinks."""

from labkit.training.config import MAX_SEED, RunConfig, build_run_configs, parse_validation
from labkit.training.folder import (
    default_output_dir,
    differing_settings,
    read_config,
    stored_settings,
)
from labkit.training.results import ComparisonResult
from labkit.training.runner import (
    DEFAULT_OPTIMIZERS,
    build_training_model,
    compare,
    resume,
)
from labkit.training.sinks import RunInfo, Sink
from labkit.training.store import (
    EPOCH_METRICS,
    RUN_STATUSES,
    ResultsStore,
    new_comparison_id,
)

__all__ = [
    "ComparisonResult",
    "DEFAULT_OPTIMIZERS",
    "EPOCH_METRICS",
    "MAX_SEED",
    "RUN_STATUSES",
    "ResultsStore",
    "RunConfig",
    "RunInfo",
    "Sink",
    "build_run_configs",
    "build_training_model",
    "compare",
    "default_output_dir",
    "differing_settings",
    "new_comparison_id",
    "parse_validation",
    "read_config",
    "resume",
    "stored_settings",
]
