"""A durable outbox: messages written to SQLite before they are sent, kept until delivered.

"An event accepted is an event delivered": :meth:`Outbox.add` returns only once
the message is committed to disk (WAL mode, ``synchronous=FULL``), so a receiver
that is down, a process that is killed or a machine that restarts loses nothing;
the next run with the same file sends what is left, first. Delivery is at least
once (a message may be sent again if the process dies between the receiver's
answer and :meth:`Outbox.delivered`), so receivers de-duplicate by event id.

Order is kept per source, not globally: :meth:`Outbox.claim_due` hands out only
the oldest undelivered message of each source of a destination, so a message of
source A is never sent before an earlier one of A is delivered (or dropped),
while a source whose head waits for a retry does not hold up the others.

One file may hold several destinations (each webhook URL is one, stored masked:
no password goes to disk). A claimed message carries a short lease so that two
senders on one file (two sinks, or two processes) never send the same message at
once.

Bounds, per destination: ``max_messages`` (the oldest are dropped to make room)
and ``max_age_s`` (older messages are dropped). Every drop is counted by reason in
the ``drops`` table, so the counts survive restarts, and logged; nothing is lost
silently. Reasons: ``full``, ``expired``, ``rejected`` (the receiver refused it
for good, e.g. a 400) and ``attempts`` (``max_attempts`` used up).

Times stored in the file (``created_at``, ``retry_at``, leases) are wall-clock
seconds (``time.time()``): they must mean the same thing to the next process,
which ``time.monotonic()`` does not.

Example::

    with Outbox("outbox.sqlite", max_messages=1000) as outbox:
        outbox.add("https://host/hook", "cam1", "3ca3082e", b'{"label": "cat"}')
        for message in outbox.claim_due("https://host/hook"):
            ...  # send message.body
            outbox.delivered(message.id)
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from streamcls.errors import SinkError

logger = logging.getLogger(__name__)

DROP_REASONS = ("full", "expired", "rejected", "attempts")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    destination TEXT NOT NULL,
    source_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    body BLOB NOT NULL,
    created_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    retry_at REAL NOT NULL DEFAULT 0,
    lease_until REAL NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS messages_by_source ON messages (destination, source_id, id);
CREATE TABLE IF NOT EXISTS drops (
    destination TEXT NOT NULL,
    reason TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (destination, reason)
);
"""


@dataclass(frozen=True)
class Message:
    """One message waiting in the outbox. ``attempts``: sends tried before this one."""

    id: int
    destination: str
    source_id: str
    event_id: str
    body: bytes
    created_at: float
    attempts: int


class Outbox:
    """Messages on disk until delivered; see the module's docstring.

    Safe for one writer thread and one sender thread (and more): one connection,
    every use of it under a lock; each call is one short transaction.

    Args:
        path: the SQLite file (created, with its folder, when missing).
        max_messages: per destination; the oldest are dropped beyond it.
        max_age_s: per message; older ones are dropped.
        clock: wall-clock seconds (tests pass their own).

    Raises:
        SinkError: the file cannot be created or is not an outbox.
    """

    def __init__(
        self,
        path: str | Path,
        max_messages: int = 100_000,
        max_age_s: float = 7 * 86_400.0,
        clock: Callable[[], float] = time.time,
    ):
        self.path = Path(path)
        self.max_messages = max_messages
        self.max_age_s = max_age_s
        self.clock = clock
        self.dropped_now: dict[str, int] = {}  # this process's drops by reason (the table has all of them)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE), nothing is left open.
            self._connection: sqlite3.Connection | None = sqlite3.connect(
                self.path, timeout=10.0, isolation_level=None, check_same_thread=False
            )
            self._connection.execute("PRAGMA journal_mode=WAL")
            self._connection.execute("PRAGMA synchronous=FULL")  # committed means on disk, power loss included
            self._connection.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as error:
            raise SinkError(
                f"outbox {str(self.path)!r} cannot be opened ({error}); give a writable file "
                f"(output.sinks[].options.outbox)"
            ) from None

    # -- writing ------------------------------------------------------------------------

    def add(self, destination: str, source_id: str, event_id: str, body: bytes) -> int:
        """Store one message, committed before returning; drop what the bounds no longer allow.

        Returns:
            The message's id (increasing: the order of adding).

        Raises:
            SinkError: the file cannot be written (disk full, removed).
        """
        now = self.clock()
        with self._transaction() as connection:
            cursor = connection.execute(
                "INSERT INTO messages (destination, source_id, event_id, body, created_at) VALUES (?, ?, ?, ?, ?)",
                (destination, source_id, event_id, sqlite3.Binary(body), now),
            )
            message_id = int(cursor.lastrowid or 0)
            self._expire(connection, destination, now)
            (count,) = connection.execute(
                "SELECT COUNT(*) FROM messages WHERE destination = ?", (destination,)
            ).fetchone()
            excess = count - self.max_messages
            if excess > 0:
                connection.execute(
                    "DELETE FROM messages WHERE id IN "
                    "(SELECT id FROM messages WHERE destination = ? ORDER BY id LIMIT ?)",
                    (destination, excess),
                )
                self._count_drop(connection, destination, "full", excess)
        return message_id

    def claim_due(self, destination: str, lease_s: float = 30.0) -> list[Message]:
        """The oldest message of each source of ``destination`` that is due now, claimed for ``lease_s``.

        A source whose oldest message waits for its retry time, or is claimed by
        another sender, gives nothing (its later messages wait behind it).
        """
        now = self.clock()
        with self._transaction() as connection:
            self._expire(connection, destination, now)
            rows = connection.execute(
                "SELECT m.id, m.destination, m.source_id, m.event_id, m.body, m.created_at, m.attempts "
                "FROM messages AS m JOIN (SELECT MIN(id) AS id FROM messages WHERE destination = ? "
                "GROUP BY source_id) AS heads ON m.id = heads.id "
                "WHERE m.retry_at <= ? AND m.lease_until <= ? ORDER BY m.id",
                (destination, now, now),
            ).fetchall()
            connection.executemany(
                "UPDATE messages SET lease_until = ? WHERE id = ?", [(now + lease_s, row[0]) for row in rows]
            )
        return [Message(row[0], row[1], row[2], row[3], bytes(row[4]), row[5], row[6]) for row in rows]

    def next_due(self, destination: str) -> list[Message]:
        """The oldest undelivered message of each source of ``destination`` (due or not), oldest first."""
        with self._lock:
            rows = (
                self._open()
                .execute(
                    "SELECT m.id, m.destination, m.source_id, m.event_id, m.body, m.created_at, m.attempts "
                    "FROM messages AS m JOIN (SELECT MIN(id) AS id FROM messages WHERE destination = ? "
                    "GROUP BY source_id) AS heads ON m.id = heads.id ORDER BY m.id",
                    (destination,),
                )
                .fetchall()
            )
        return [Message(row[0], row[1], row[2], row[3], bytes(row[4]), row[5], row[6]) for row in rows]

    def delivered(self, message_id: int) -> None:
        """The receiver took it: remove it (a message already dropped is no error)."""
        with self._transaction() as connection:
            connection.execute("DELETE FROM messages WHERE id = ?", (message_id,))

    def failed(self, message_id: int, retry_at: float, error: str) -> None:
        """A send failed and may be retried: keep the message, due again at ``retry_at`` (wall clock)."""
        with self._transaction() as connection:
            connection.execute(
                "UPDATE messages SET attempts = attempts + 1, retry_at = ?, lease_until = 0, last_error = ? "
                "WHERE id = ?",
                (retry_at, error, message_id),
            )

    def release(self, message_id: int) -> None:
        """Give a claimed message back unsent (the sender is stopping): due again at once."""
        with self._transaction() as connection:
            connection.execute("UPDATE messages SET lease_until = 0 WHERE id = ?", (message_id,))

    def drop(self, message_id: int, reason: str) -> None:
        """Give up on a message for good (``rejected``, ``attempts``): remove it and count it."""
        with self._transaction() as connection:
            row = connection.execute("SELECT destination FROM messages WHERE id = ?", (message_id,)).fetchone()
            if row is not None:
                connection.execute("DELETE FROM messages WHERE id = ?", (message_id,))
                self._count_drop(connection, row[0], reason, 1)

    def retry_now(self, destination: str) -> None:
        """Make every message of ``destination`` due at once (a new run tries what an old one left)."""
        with self._transaction() as connection:
            connection.execute("UPDATE messages SET retry_at = 0 WHERE destination = ?", (destination,))

    # -- reading ------------------------------------------------------------------------

    def pending(self, destination: str) -> int:
        """How many messages of ``destination`` wait to be delivered."""
        with self._lock:
            (count,) = (
                self._open().execute("SELECT COUNT(*) FROM messages WHERE destination = ?", (destination,)).fetchone()
            )
        return int(count)

    def next_retry_at(self, destination: str) -> float | None:
        """The earliest time (wall clock) a source's oldest message of ``destination`` may be sent; None: empty."""
        with self._lock:
            (when,) = (
                self._open()
                .execute(
                    "SELECT MIN(MAX(m.retry_at, m.lease_until)) FROM messages AS m JOIN (SELECT MIN(id) AS id "
                    "FROM messages WHERE destination = ? GROUP BY source_id) AS heads ON m.id = heads.id",
                    (destination,),
                )
                .fetchone()
            )
        return None if when is None else float(when)

    def drops(self, destination: str) -> dict[str, int]:
        """Every drop of ``destination`` ever counted in this file, by reason."""
        with self._lock:
            rows = (
                self._open()
                .execute("SELECT reason, count FROM drops WHERE destination = ? ORDER BY reason", (destination,))
                .fetchall()
            )
        return {reason: int(count) for reason, count in rows}

    # -- lifetime -----------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    @property
    def closed(self) -> bool:
        return self._connection is None

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- inside -------------------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        if self._connection is None:
            raise SinkError(f"outbox {str(self.path)!r} is closed")
        return self._connection

    def _transaction(self) -> _Transaction:
        return _Transaction(self)

    def _expire(self, connection: sqlite3.Connection, destination: str, now: float) -> None:
        cursor = connection.execute(
            "DELETE FROM messages WHERE destination = ? AND created_at < ?", (destination, now - self.max_age_s)
        )
        if cursor.rowcount > 0:
            self._count_drop(connection, destination, "expired", cursor.rowcount)

    def _count_drop(self, connection: sqlite3.Connection, destination: str, reason: str, count: int) -> None:
        connection.execute(
            "INSERT INTO drops (destination, reason, count) VALUES (?, ?, ?) "
            "ON CONFLICT (destination, reason) DO UPDATE SET count = count + excluded.count",
            (destination, reason, count),
        )
        first = reason not in self.dropped_now
        self.dropped_now[reason] = self.dropped_now.get(reason, 0) + count
        if reason in ("full", "expired"):  # rejected and attempts are logged by the sender, with the cause
            limit = f"max_messages {self.max_messages}" if reason == "full" else f"max_age_s {self.max_age_s:g}"
            log = logger.warning if first else logger.debug
            log(
                "outbox %s: dropped %d event(s) for %s (%s; %s); %d dropped so far in this run",
                self.path,
                count,
                destination,
                "the oldest, to make room" if reason == "full" else "too old",
                limit,
                self.dropped_now[reason],
            )


class _Transaction:
    """``with``: the outbox's lock and one ``BEGIN IMMEDIATE`` ... ``COMMIT`` (rolled back on error)."""

    def __init__(self, outbox: Outbox):
        self.outbox = outbox

    def __enter__(self) -> sqlite3.Connection:
        self.outbox._lock.acquire()
        try:
            connection = self.outbox._open()
            connection.execute("BEGIN IMMEDIATE")
        except BaseException as error:
            self.outbox._lock.release()
            if isinstance(error, sqlite3.Error):
                raise SinkError(f"outbox {str(self.outbox.path)!r} cannot be written ({error})") from None
            raise
        return connection

    def __exit__(self, kind: object, error: object, traceback: object) -> None:
        connection = self.outbox._connection
        try:
            if connection is not None:
                if kind is None:
                    connection.execute("COMMIT")
                else:
                    connection.execute("ROLLBACK")
        except sqlite3.Error as failure:
            if kind is None:
                raise SinkError(f"outbox {str(self.outbox.path)!r} cannot be written ({failure})") from None
        finally:
            self.outbox._lock.release()
        if isinstance(error, sqlite3.Error):
            raise SinkError(f"outbox {str(self.outbox.path)!r} cannot be written ({error})") from None
