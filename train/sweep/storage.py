"""The sweep's storage URL as users see it: the password hidden, and a failure to open it named.

``fmnist-sweep --storage postgresql://USER:PASSWORD@HOST:PORT/DATABASE`` is how several machines
share one study; what it prints or writes into reports never shows the password, and the four
ways opening it fails in practice (no driver, no server, wrong password, no database) each get
one line that names the fix instead of SQLAlchemy's chained error.
"""

from __future__ import annotations

import re

from fmnist_edge.runtime.errors import FmnistError, first_line

_PASSWORD = re.compile(r"^([a-z0-9+.-]+://[^:/@]*):[^@]*@", re.IGNORECASE)


def label(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for messages, logs and reports)."""
    return _PASSWORD.sub(r"\1:***@", url)


def open_error(url: str, exc: BaseException) -> FmnistError:
    """One line for an exception raised while opening the storage at ``url``."""
    from urllib.parse import urlsplit

    text, parts = str(exc), urlsplit(url)
    user, host, database = parts.username or "USER", parts.hostname or "localhost", parts.path.lstrip("/")
    where = f"{host}:{parts.port or 5432}"
    if isinstance(exc, ImportError) or "No module named 'psycopg" in text:
        fix = "the PostgreSQL driver is not installed: pip install 'fmnist-edge[postgres]'"
    elif "password authentication failed" in text or "no password supplied" in text:
        fix = (f"wrong user or password for {user} at {where}: put the role's password in the URL "
               f"(on the server: ALTER ROLE {user} PASSWORD '…')")
    elif re.search(r'database "[^"]*" does not exist', text):
        fix = (f"database {database!r} does not exist on {where}: create it "
               f"(createdb -O {user} {database}, or CREATE DATABASE {database} OWNER {user})")
    elif re.search(r"Connection refused|timeout expired|could not translate host name|"
                   r"No route to host|Network is unreachable", text):
        fix = (f"no PostgreSQL server answers at {where}: start it, or check the host and port "
               "(and listen_addresses / pg_hba.conf on the server)")
    elif "Can't load plugin" in text:
        fix = "unknown URL scheme: use postgresql://USER:PASSWORD@HOST:PORT/DATABASE or sqlite:///FILE"
    else:
        fix = first_line(exc, 200)
    return FmnistError(f"cannot open --storage {label(url)}: {fix}")
