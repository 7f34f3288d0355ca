"""SQLAlchemy URLs of the results store."""

import os
import pathlib

import sqlalchemy as sa

from labkit.errors import StoreError


def sqlite_url(path):
    """Return the SQLAlchemy URL of an SQLite file at `path`.

    The path is made absolute and escaped, so that characters such as `?`,
    `#` or `%` stay part of the file name.
    """
    url = sa.engine.URL.create("sqlite", database=str(pathlib.Path(path).resolve()))
    return url.render_as_string(hide_password=False)


def sqlite_file(url):
    """Return the file path of an SQLite URL.

    Returns None for other databases, in-memory databases and `file:` URIs.
    """
    database = url.database
    if url.get_backend_name() != "sqlite" or database in (None, "", ":memory:"):
        return None
    if database.startswith("file:") or url.query.get("uri") == "true":
        return None
    return database


def normalize_url(url):
    """Parse a store URL and make the path of an SQLite file absolute.

    A relative SQLite path (`sqlite:///runs.db`) would otherwise name another
    file once the working directory changes.

    Raises:
        StoreError: if `url` is not a valid SQLAlchemy URL.
    """
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError as error:
        raise StoreError(
            f"Invalid results store URL: {error}. Use an SQLAlchemy URL such as "
            "sqlite:////path/to/results.db or postgresql+psycopg://user@host/db."
        ) from error
    path = sqlite_file(parsed)
    if path is not None and not os.path.isabs(path):
        # NOTE: SQLite does not expand `~`, so neither does this.
        parsed = parsed.set(database=os.path.abspath(path))
    return parsed
