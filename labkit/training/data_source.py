"""The dataset of each run of a comparison, loaded once per seed."""

from labkit.data import load_dataset
from labkit.training import folder


class DataSource:
    """The dataset of each run, loaded once per seed.

    The training subset and the validation split are drawn with the run's
    seed, so every optimizer of a seed trains on the same images and each
    seed on its own draw. When neither depends on the seed (no `train_size`
    and validation `None` or `"test"`), one load serves every seed.
    """

    def __init__(self, data_dir, download, loaded=None, expected_files=None, comparison_id=None):
        self.data_dir = data_dir
        self.download = download
        self.fixed = loaded
        # The dataset files recorded in config.json; a resume checks every
        # load against them.
        self.expected_files = expected_files
        self.comparison_id = comparison_id
        self._key = None
        self._dataset = None

    def for_config(self, config):
        """Return the dataset of a run, loading it if the last one differs.

        Raises:
            ConfigError: if `expected_files` were given and the files read
                differ from them.
        """
        if self.fixed is not None:
            return self.fixed
        depends_on_seed = config.train_size is not None or config.validation not in (None, "test")
        key = (config.dataset, config.train_size, config.validation,
               config.seed if depends_on_seed else None)
        if key != self._key:
            self._dataset = None  # release the previous arrays before loading
            self._dataset = load_dataset(
                config.dataset,
                data_dir=self.data_dir,
                train_size=config.train_size,
                validation=config.validation,
                seed=config.seed,
                download=self.download,
            )
            self._key = key
            if self.expected_files is not None:
                folder.check_data_files(
                    self.expected_files, self._dataset.metadata["files"], self.comparison_id
                )
        return self._dataset

    def train_images(self, config):
        """Number of training images of a run, without loading its data."""
        dataset = self.fixed or self._dataset
        if dataset is None:
            dataset = self.for_config(config)
        return len(dataset.x_train)
