"""The instructor's settings of a class app: limits, folders and the store.

One `AppSettings` is read by `labkit app` from flags and an optional TOML
file, and handed to every kernel through the environment variable
`LABKIT_APP_SETTINGS`, so that all pages of one server share the same
limits, training queue and results store.

Example of a settings file (every key is optional):

```toml
max_concurrent_trainings = 4   # the rest wait in a queue
max_epochs = 10                # per training request
max_seeds = 3
max_train_size = 10000         # training images
state_dir = "/srv/labkit-class"
```
"""

import dataclasses
import json
import numbers
import os
import pathlib
import tomllib

from labkit.errors import ConfigError

SETTINGS_ENV = "LABKIT_APP_SETTINGS"
STORE_FILE = "results.db"


def _check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}. Received: {name}={value!r}")


@dataclasses.dataclass(frozen=True)
class AppSettings:
    """Limits and shared folders of the optimizer app of one server.

    Args:
        max_concurrent_trainings: Trainings that may run at once across
            every page of the server; later requests wait in a queue.
            Defaults to 2.
        max_epochs: Most epochs one training request may ask for.
            Defaults to 20.
        max_seeds: Most seeds one training request may ask for.
            Defaults to 3.
        max_train_size: Most training images one request may ask for.
            Defaults to 10000.
        state_dir: Folder of the training queue, the results store and the
            runs' output folders, shared by every kernel. Defaults to
            `labkit-app` in the working folder.
        store: SQLAlchemy URL of the shared results store. Defaults to
            `results.db` (SQLite) in `state_dir`.
        data_dir: Folder to look in first for dataset files. Defaults to
            `LABKIT_DATA_DIR`.
        download: Whether a training may download a dataset that is not on
            disk. Defaults to False, for a class on a server without
            internet.
    """

    max_concurrent_trainings: int = 2
    max_epochs: int = 20
    max_seeds: int = 3
    max_train_size: int = 10000
    state_dir: str = "labkit-app"
    store: str | None = None
    data_dir: str | None = None
    download: bool = False

    def __post_init__(self):
        _check_int("max_concurrent_trainings", self.max_concurrent_trainings, 1)
        _check_int("max_epochs", self.max_epochs, 1)
        _check_int("max_seeds", self.max_seeds, 1)
        _check_int("max_train_size", self.max_train_size, 10)
        if not isinstance(self.state_dir, str) or not self.state_dir:
            raise ConfigError(
                f"state_dir must be a folder path. Received: state_dir={self.state_dir!r}"
            )
        if not isinstance(self.download, bool):
            raise ConfigError(f"download must be true or false. Received: download={self.download!r}")
        if self.data_dir is not None and (not isinstance(self.data_dir, str) or not self.data_dir):
            raise ConfigError(
                f"data_dir must be a folder path. Received: data_dir={self.data_dir!r}"
            )
        if self.store is not None:
            self._check_store()

    def _check_store(self):
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        if not isinstance(self.store, str) or not self.store:
            raise ConfigError(
                "store must be an SQLAlchemy URL such as 'sqlite:////srv/labkit/results.db'. "
                f"Received: store={self.store!r}"
            )
        try:
            make_url(self.store)
        except ArgumentError as error:
            raise ConfigError(
                f"store is not a valid SQLAlchemy URL ({error}). Give one such as "
                "'sqlite:////srv/labkit/results.db'."
            ) from None

    @property
    def state_path(self):
        """`state_dir` as an absolute `pathlib.Path`."""
        return pathlib.Path(self.state_dir).expanduser().resolve()

    @property
    def store_url(self):
        """The results store's URL, `store` or the SQLite file in `state_dir`."""
        if self.store:
            return self.store
        return f"sqlite:///{self.state_path / STORE_FILE}"

    @property
    def queue_dir(self):
        """Folder of the cross-process training queue."""
        return self.state_path / "queue"

    @property
    def runs_dir(self):
        """Folder of the runs' output folders (config, history, checkpoints)."""
        return self.state_path / "runs"

    def replace(self, **changes):
        """Return a copy with `changes` applied and validated."""
        return dataclasses.replace(self, **changes)

    def to_json(self):
        """Return the settings as JSON, with `state_dir` made absolute."""
        values = dataclasses.asdict(self)
        values["state_dir"] = str(self.state_path)
        return json.dumps(values, sort_keys=True)

    @classmethod
    def from_mapping(cls, values, source="settings"):
        """Build settings from a mapping, such as a parsed TOML file.

        Raises:
            ConfigError: for an unknown key or an invalid value; the message
                names `source` and the known keys.
        """
        known = [field.name for field in dataclasses.fields(cls)]
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ConfigError(
                f"Unknown key(s) in {source}: {', '.join(unknown)}. Known keys: {', '.join(known)}."
            )
        return cls(**values)

    @classmethod
    def from_file(cls, path):
        """Read settings from a TOML file.

        Raises:
            ConfigError: if the file cannot be read or parsed, or contains an
                unknown key or an invalid value.
        """
        path = pathlib.Path(path)
        try:
            values = tomllib.loads(path.read_text())
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigError(
                f"Cannot read the settings file {path}: {error}. Give a UTF-8 TOML file."
            ) from error
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"The settings file {path} is not valid TOML: {error}.") from error
        return cls.from_mapping(values, source=str(path))

    @classmethod
    def from_environment(cls):
        """Read the settings that `labkit app` put into `LABKIT_APP_SETTINGS`.

        Outside `labkit app` the variable is unset and the defaults apply.
        """
        text = os.environ.get(SETTINGS_ENV)
        if not text:
            return cls()
        try:
            values = json.loads(text)
        except ValueError as error:
            raise ConfigError(f"{SETTINGS_ENV} is not valid JSON: {error}.") from error
        return cls.from_mapping(values, source=SETTINGS_ENV)


__all__ = ["AppSettings", "SETTINGS_ENV"]
