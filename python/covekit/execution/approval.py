"""A human-review queue for tool calls: :class:`ApprovalQueue`, in SQLite.

A tool marked ``requires_approval=True`` does not run when the model asks for it: the
:class:`~covekit.Toolbox` files an :class:`ApprovalRequest` (the tool, its arguments,
the idempotency key, who asked) and answers ``"pending_approval"``, or waits a bounded
time for a decision. A reviewer lists :meth:`ApprovalQueue.pending` and calls
:meth:`~ApprovalQueue.approve` or :meth:`~ApprovalQueue.reject`; who decided and when is
recorded. Running the same call again after the approval executes it, once: the result
is recorded under the request's key and every later run replays it.

>>> import covekit
>>> queue = covekit.ApprovalQueue()                 # ":memory:"; or a file path
>>> rid = queue.submit("refund", {"order": "A-17", "amount": 30}, key="refund-A-17",
...                    requested_by="agent")
>>> [r.tool for r in queue.pending()]
['refund']
>>> queue.approve(rid, by="ada").status, queue.get(rid).decided_by
('approved', 'ada')
>>> queue.wait(rid, timeout=0.1).status             # decided: returns at once
'approved'

Thread safety: every method may be called from many threads at once (one SQLite
connection behind a lock); a file-backed queue (WAL) may also be shared between
processes, and :meth:`~ApprovalQueue.wait` sees decisions made by another process.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from typing import Any, Literal

from covekit.errors import ApprovalQueueError, CovekitError, InvalidInput

__all__ = ["ApprovalQueue", "ApprovalRequest"]

Status = Literal["pending", "approved", "rejected"]

_POLL = 0.02  # seconds between looks at the file while waiting (decisions of other processes)


def open_sqlite(
    path: str | os.PathLike[str],
    table: str,
    table_sql: str,
    columns: str,
    error: type[CovekitError],
    what: str,
) -> tuple[sqlite3.Connection, str]:
    """Opens (or creates) a covekit SQLite file: WAL for files, a busy timeout, the table
    made if missing and checked for the expected ``columns``. A file that is not SQLite,
    is damaged or holds a table of another shape raises ``error`` (with ``path``)."""
    if not isinstance(path, str | os.PathLike):
        raise InvalidInput(f"path must be a file path or ':memory:', not {type(path).__name__}")
    name = os.fspath(path)
    if not name:
        raise InvalidInput("path must be a file path or ':memory:', not an empty string")
    try:
        conn = sqlite3.connect(name, check_same_thread=False, isolation_level=None, timeout=5.0)
    except sqlite3.Error as exc:
        raise error(f"{name}: cannot open the {what}: {exc}", path=name) from exc  # type: ignore[call-arg]
    try:
        if name != ":memory:":
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(table_sql)
        conn.execute(f"SELECT {columns} FROM {table} LIMIT 0")
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise error(  # type: ignore[call-arg]
            f"{name}: not a usable {what} (not SQLite, damaged, locked, or a table of another "
            f"shape: {exc}); move the file away or pass another path",
            path=name,
        ) from exc
    return conn, name


@dataclass(frozen=True, slots=True)
class ApprovalRequest:
    """One request in an :class:`ApprovalQueue`: the ``tool``, its ``arguments``, the
    idempotency ``key``, who asked and when (``requested_at``: Unix seconds), its
    ``status`` and, once decided, who decided, when, and the ``reason`` given.

    >>> import covekit
    >>> q = covekit.ApprovalQueue()
    >>> r = q.reject(q.submit("wire", {"usd": 9000}), by="bob", reason="too large")
    >>> r.status, r.decided_by, r.reason, r.to_dict()["arguments"]
    ('rejected', 'bob', 'too large', {'usd': 9000})
    """

    id: str
    tool: str
    arguments: Any
    key: str | None
    requested_by: str | None
    requested_at: float
    status: Status
    decided_by: str | None = None
    decided_at: float | None = None
    reason: str | None = None
    call_id: str | None = None

    @property
    def decided(self) -> bool:
        """Whether the request was approved or rejected."""
        return self.status != "pending"

    def to_dict(self) -> dict[str, Any]:
        """The request as JSON-serializable data."""
        return asdict(self)


_TABLE = (
    "CREATE TABLE IF NOT EXISTS covekit_approvals ("
    "id TEXT PRIMARY KEY, tool TEXT NOT NULL, arguments TEXT NOT NULL, key TEXT UNIQUE, "
    "requested_by TEXT, requested_at REAL NOT NULL, status TEXT NOT NULL, decided_by TEXT, "
    "decided_at REAL, reason TEXT, call_id TEXT)"
)
_COLUMNS = (
    "id, tool, arguments, key, requested_by, requested_at, status, decided_by, decided_at, "
    "reason, call_id"
)


def _opt_str(value: Any, what: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise InvalidInput(f"{what} must be a str or None, not {type(value).__name__}")
    return value


class ApprovalQueue:
    """Tool calls waiting for a person's decision, stored in SQLite (a file, in WAL
    mode, or ``":memory:"``, the default).

    Errors: :class:`~covekit.errors.ApprovalQueueError` for a file that is not SQLite or
    is damaged, an unknown request id, or a decision on a request already decided;
    :class:`~covekit.errors.InvalidInput` for arguments that are not JSON data or a
    timeout that is not a finite number of seconds.

    >>> import covekit
    >>> q = covekit.ApprovalQueue()
    >>> rid = q.submit("delete_user", {"id": 7}, requested_by="agent-1")
    >>> q.wait(rid, timeout=0.01).status           # no one decided: returns after 0.01 s
    'pending'
    """

    def __init__(self, path: str | os.PathLike[str] = ":memory:") -> None:
        self._conn, self.path = open_sqlite(
            path, "covekit_approvals", _TABLE, _COLUMNS, ApprovalQueueError, "approval queue"
        )
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)

    # ------------------------------------------------------------------ internals
    def _row(self, row: tuple[Any, ...]) -> ApprovalRequest:
        return ApprovalRequest(
            row[0],
            row[1],
            json.loads(row[2]),
            row[3],
            row[4],
            row[5],
            row[6],
            row[7],
            row[8],
            row[9],
            row[10],
        )

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        try:
            return list(self._conn.execute(sql, params).fetchall())
        except sqlite3.DatabaseError as exc:
            raise ApprovalQueueError(f"{self.path}: {exc}", path=self.path) from exc

    # ------------------------------------------------------------------ requests
    def submit(
        self,
        tool: str,
        arguments: Any,
        *,
        key: str | None = None,
        requested_by: str | None = None,
        call_id: str | None = None,
    ) -> str:
        """Files a request and returns its id. With a ``key`` that a request already
        has, returns that request's id instead (one request per action).

        >>> q = ApprovalQueue()
        >>> q.submit("t", {}, key="k") == q.submit("t", {}, key="k")
        True
        """
        if not isinstance(tool, str) or not tool:
            raise InvalidInput(f"tool must be a non-empty str, not {tool!r}")
        _opt_str(key, "key")
        _opt_str(requested_by, "requested_by")
        _opt_str(call_id, "call_id")
        try:
            args = json.dumps(arguments, allow_nan=False, sort_keys=True)
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"the arguments of {tool!r} are not JSON data: {exc}") from exc
        rid = uuid.uuid4().hex
        with self._lock:
            if key is not None:
                got = self._query("SELECT id FROM covekit_approvals WHERE key = ?", (key,))
                if got:
                    return str(got[0][0])
            self._query(
                f"INSERT INTO covekit_approvals ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    rid,
                    tool,
                    args,
                    key,
                    requested_by,
                    time.time(),
                    "pending",
                    None,
                    None,
                    None,
                    call_id,
                ),
            )
            self._changed.notify_all()
        return rid

    def get(self, request_id: str) -> ApprovalRequest:
        """The request with this id (:class:`~covekit.errors.ApprovalQueueError` if none).

        >>> q = ApprovalQueue()
        >>> q.get(q.submit("t", [1])).arguments
        [1]
        """
        with self._lock:
            return self._get(request_id)

    def _get(self, request_id: str) -> ApprovalRequest:
        if not isinstance(request_id, str):
            raise InvalidInput(f"request_id must be a str, not {type(request_id).__name__}")
        rows = self._query(f"SELECT {_COLUMNS} FROM covekit_approvals WHERE id = ?", (request_id,))
        if not rows:
            raise ApprovalQueueError(f"no approval request {request_id!r} in this queue")
        return self._row(rows[0])

    def find(self, key: str) -> ApprovalRequest | None:
        """The request filed under an idempotency key, or None.

        >>> q = ApprovalQueue()
        >>> _ = q.submit("t", {}, key="k1")
        >>> q.find("k1").tool, q.find("k2")
        ('t', None)
        """
        with self._lock:
            rows = self._query(f"SELECT {_COLUMNS} FROM covekit_approvals WHERE key = ?", (key,))
        return self._row(rows[0]) if rows else None

    def pending(self) -> list[ApprovalRequest]:
        """The undecided requests, oldest first.

        >>> q = ApprovalQueue()
        >>> _ = q.submit("a", {}); _ = q.submit("b", {})
        >>> [r.tool for r in q.pending()]
        ['a', 'b']
        """
        with self._lock:
            rows = self._query(
                f"SELECT {_COLUMNS} FROM covekit_approvals WHERE status = 'pending' "
                "ORDER BY requested_at, rowid"
            )
        return [self._row(r) for r in rows]

    def _decide(
        self, request_id: str, status: Status, by: str, reason: str | None
    ) -> ApprovalRequest:
        if not isinstance(by, str) or not by:
            raise InvalidInput(f"by must name who decides (a non-empty str), not {by!r}")
        _opt_str(reason, "reason")
        with self._lock:
            current = self._get(request_id)
            if current.decided:
                raise ApprovalQueueError(
                    f"approval request {request_id!r} was already {current.status} by "
                    f"{current.decided_by}; a decision is final"
                )
            self._query(
                "UPDATE covekit_approvals SET status = ?, decided_by = ?, decided_at = ?, "
                "reason = ? WHERE id = ? AND status = 'pending'",
                (status, by, time.time(), reason, request_id),
            )
            self._changed.notify_all()
            return self._get(request_id)

    def approve(self, request_id: str, *, by: str, reason: str | None = None) -> ApprovalRequest:
        """Approves a pending request; records who and when. Returns the request.

        >>> q = ApprovalQueue()
        >>> q.approve(q.submit("t", {}), by="ada").decided_by
        'ada'
        """
        return self._decide(request_id, "approved", by, reason)

    def reject(self, request_id: str, *, by: str, reason: str | None = None) -> ApprovalRequest:
        """Rejects a pending request; records who, when and why. Returns the request.

        >>> q = ApprovalQueue()
        >>> q.reject(q.submit("t", {}), by="bob", reason="no").status
        'rejected'
        """
        return self._decide(request_id, "rejected", by, reason)

    def wait(self, request_id: str, timeout: float) -> ApprovalRequest:
        """Waits until the request is decided or ``timeout`` seconds pass, whichever is
        first, and returns it (``status == "pending"`` when no decision came in time).
        Never waits longer than ``timeout`` (plus one poll of the file, 20 ms).

        >>> q = ApprovalQueue()
        >>> q.wait(q.submit("t", {}), timeout=0.0).status
        'pending'
        """
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not math.isfinite(timeout)
            or timeout < 0
        ):
            raise InvalidInput(
                f"timeout must be a finite number of seconds >= 0, got {timeout!r} (an "
                "approval may never come: wait a bounded time and check again later)"
            )
        end = time.monotonic() + timeout
        with self._lock:
            while True:
                current = self._get(request_id)
                left = end - time.monotonic()
                if current.decided or left <= 0:
                    return current
                self._changed.wait(min(left, _POLL))

    def __len__(self) -> int:
        with self._lock:
            return int(self._query("SELECT COUNT(*) FROM covekit_approvals")[0][0])

    def close(self) -> None:
        """Closes the file (the queue cannot be used afterwards)."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> ApprovalQueue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<covekit.ApprovalQueue {self.path!r} requests={len(self)}>"
