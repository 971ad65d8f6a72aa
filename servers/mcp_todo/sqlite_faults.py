"""Which SQLite errors are the storage's fault, and what the caller is told about them."""

import errno
import sqlite3

from mcp_todo.errors import StoreFull, StoreUnavailable

# Raised for a statement or a use of the driver that is wrong in itself: bugs, not outages.
_NOT_STORAGE = (
    sqlite3.IntegrityError,
    sqlite3.ProgrammingError,
    sqlite3.InterfaceError,
    sqlite3.DataError,
)


def storage_fault(exc: sqlite3.Error | OSError) -> StoreUnavailable | StoreFull | None:
    """StoreFull for a full disk (507), StoreUnavailable for any other storage failure (503):
    a file that cannot be opened or written, a lock held too long, an I/O error.
    None for errors that are not the storage's.
    """
    if isinstance(exc, _NOT_STORAGE):
        return None
    if isinstance(exc, OSError):
        return StoreFull(exc) if exc.errno == errno.ENOSPC else StoreUnavailable(exc)
    # The primary result code is the low byte of an extended one (SQLITE_IOERR_WRITE, ...).
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None and code & 0xFF == sqlite3.SQLITE_FULL:
        return StoreFull(exc)
    return StoreUnavailable(exc)
