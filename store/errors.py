"""docqa's exception hierarchy.

It lives in `store/` because that is the bottom of the dependency graph
(pipeline -> ingest -> store): every layer can raise and catch these. Each message names the
value, the rule and the fix; the CLI prints it as it is.
"""


class DocqaError(Exception):
    """Base of every error docqa raises on purpose."""


class StoreError(DocqaError):
    """The database cannot be opened, read or written."""


class DatabaseMissingError(StoreError):
    """A command that reads the index was pointed at a database that does not exist."""


class SchemaVersionError(StoreError):
    """The database was written by a docqa with another schema version."""
