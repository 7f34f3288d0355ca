"""Known checksums that tell MNIST's IDX files from Fashion-MNIST's.

Both datasets publish four IDX files with the same names
(`train-images-idx3-ubyte.gz` and so on) and the same shapes, so neither the
names nor the headers can tell them apart. Their checksums can. A file whose
checksum is in `KNOWN_FILES` belongs to that dataset; a file not in the table
(a copy recompressed by another tool, a test file) is not identified and is
read as the dataset requested.
"""

import dataclasses
import gzip
import hashlib
import zlib

from labkit.errors import DatasetFormatError

# What a digest was computed over.
GZIP_FILE = "the .gz file"
UNCOMPRESSED = "the uncompressed content"

_ALGORITHM_NAMES = {"md5": "MD5", "sha256": "SHA-256"}


@dataclasses.dataclass(frozen=True)
class KnownFile:
    """One published or measured checksum of an IDX file.

    Attributes:
        dataset: `"mnist"` or `"fashion_mnist"`.
        file_name: The file's published name.
        algorithm: `"md5"` or `"sha256"`, as `hashlib` names them.
        hashed: `GZIP_FILE` or `UNCOMPRESSED`.
        digest: The hexadecimal digest.
    """

    dataset: str
    file_name: str
    algorithm: str
    hashed: str
    digest: str


def _table(dataset, algorithm, hashed, digests):
    return tuple(
        KnownFile(dataset, file_name, algorithm, hashed, digest)
        for file_name, digest in digests.items()
    )


KNOWN_FILES = (
    # MNIST as published at http://yann.lecun.com/exdb/mnist/: MD5 of the
    # .gz files, as torchvision lists them (torchvision/datasets/mnist.py,
    # `MNIST.resources`).
    *_table("mnist", "md5", GZIP_FILE, {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    }),
    # Fashion-MNIST as published: MD5 of the .gz files from the README of
    # https://github.com/zalandoresearch/fashion-mnist.
    *_table("fashion_mnist", "md5", GZIP_FILE, {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    }),
    # Fashion-MNIST as the Debian package dataset-fashion-mnist
    # 0.0~git20200523.55506a9-1 installs it in /usr/share/datasets: the
    # package recompressed the files, so their MD5s differ from the published
    # ones. SHA-256 of the .gz files (sha256sum) and of their content
    # (zcat | sha256sum), measured on those files.
    *_table("fashion_mnist", "sha256", GZIP_FILE, {
        "train-images-idx3-ubyte.gz":
            "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
        "train-labels-idx1-ubyte.gz":
            "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
        "t10k-images-idx3-ubyte.gz":
            "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
        "t10k-labels-idx1-ubyte.gz":
            "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
    }),
    *_table("fashion_mnist", "sha256", UNCOMPRESSED, {
        "train-images-idx3-ubyte":
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte":
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte":
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte":
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    }),
)


def identify(data, uncompressed=None):
    """Return the `KnownFile` whose checksum matches a file, or `None`.

    Args:
        data: The bytes of the file as stored, compressed or not.
        uncompressed: The uncompressed content of a .gz file, if known.
    """
    stored_sha256 = hashlib.sha256(data).hexdigest()
    content_sha256 = stored_sha256
    if uncompressed is not None:
        content_sha256 = hashlib.sha256(uncompressed).hexdigest()
    candidates = (
        ("md5", GZIP_FILE,
         hashlib.md5(data, usedforsecurity=False).hexdigest()),
        ("sha256", GZIP_FILE, stored_sha256),
        ("sha256", UNCOMPRESSED, content_sha256),
    )
    for algorithm, hashed, digest in candidates:
        for known in KNOWN_FILES:
            matches = (known.algorithm, known.hashed, known.digest)
            if matches == (algorithm, hashed, digest):
                return known
    return None


def identify_file(path):
    """Identify a small IDX file on disk; `None` if unknown or unreadable.

    Only for the label files (30 kB compressed), which `locate()` can hash
    on every call. A damaged file is left to the reader to report.
    """
    try:
        with open(path, "rb") as stream:
            data = stream.read()
    except OSError:
        return None
    uncompressed = None
    if data[:2] == b"\x1f\x8b":
        try:
            uncompressed = gzip.decompress(data)
        except (OSError, EOFError, zlib.error):
            uncompressed = None
    return identify(data, uncompressed)


def describe(known):
    """Return how a known file was identified, for messages."""
    algorithm = _ALGORITHM_NAMES[known.algorithm]
    return (
        f"the {algorithm} of {known.hashed} is {known.digest}, that of "
        f"{known.dataset}'s {known.file_name}"
    )


def check_idx_file(path, data, uncompressed, name):
    """Raise `DatasetFormatError` if an IDX file belongs to another dataset.

    Args:
        path: The file, for the message.
        data: Its bytes as stored.
        uncompressed: Its uncompressed content, or `None`.
        name: The dataset requested, `"mnist"` or `"fashion_mnist"`.
    """
    known = identify(data, uncompressed)
    if known is None or known.dataset == name:
        return
    raise DatasetFormatError(
        f"{path} is a file of {known.dataset}, not {name}: "
        f"{describe(known)}. Load it as {known.dataset}, or replace it "
        f"with the {name} file of the same name."
    )
