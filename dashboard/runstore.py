"""The run store: every session's run, kept in a database between epochs, reloads and servers.

A stored run is a training-state document (``nncore.snapshot.dumps``, compact): the latest
weights, the optimiser and generator state, every epoch's record, and as many older epochs'
weights as fit the per-run budget. It is therefore also a valid download, and loading one
goes through the same checks as loading a file (:func:`read_trainer`).

Where: ``$NNCORE_RUN_STORE``, a URL. ``sqlite:////abs/path.sqlite`` (or ``sqlite:///rel``)
names an SQLite file; ``postgresql://user@host/db`` a PostgreSQL database (psycopg 3);
unset, ``runs/runs.sqlite`` in the repository root. Both engines run the same SQL through
DB-API (:class:`_Engine` only translates the parameter style and the bytes type).

Runs are named by tokens (:func:`new_token`, 192 random bits, URL-safe) that only their
session and its address bar know: the table keys a run by the SHA-256 of its token, and logs
name a run by :func:`short_hash`, never by its token. A run expires a while after its last
write (``NNCORE_RUN_TTL_HOURS``; 7 days locally, 24 hours hosted). The store holds at most
``NNCORE_RUN_STORE_MB`` in all; when a write would pass that, the runs written longest ago go
first, each leaving a marker so that its owner is told (:class:`RunGone`) instead of finding
nothing. Runs an earlier server process left behind (interrupted: offered for resuming in local
mode) go last, and only when nothing else is left.

This module knows nothing of Streamlit: the session side is dashboard/autosave.py (writes),
dashboard/resume.py (the crash-resume offer) and dashboard/runlink.py (the ``run`` key).
"""
from __future__ import annotations

import hashlib
import logging
import math
import os
import re
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass

from dashboard import admit, limits
from nncore import snapshot
from nncore.text import size_text

log = logging.getLogger("dashboard")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_PATH = os.path.join(ROOT, "runs", "runs.sqlite")
TOKEN_BYTES = 24                         # 192 random bits
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{32,86}$")
PROCESS_ID = secrets.token_hex(8)        # this server process: runs it writes are not interrupted
TABLE = "nncore_runs"

KEPT, DISMISSED, EVICTED = "kept", "dismissed", "evicted"
HOUR = 3600.0


class StoreError(RuntimeError):
    """The store cannot be reached or written (the session's run goes on in memory)."""


class StoreFull(StoreError):
    """Even after dropping every older run the new one does not fit the store's budget."""


class RunGone(LookupError):
    """No run for a token: wrong, expired, or dropped to make room. ``reason`` says which."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Settings:
    url: str
    ttl_s: float                  # a run expires this long after its last write
    total_bytes: int              # all runs together
    history_bytes: int            # older epochs' weights kept in one stored run
    protect_interrupted: bool     # runs of earlier processes go last (local crash resume)


@dataclass(frozen=True)
class StoredRun:
    key: str                      # sha256 of the token (the row's id)
    body: bytes                   # the training-state document
    epoch: int
    summary: str
    updated: float
    writer: str


@dataclass(frozen=True)
class Saved:
    nbytes: int
    evicted: int                  # other runs dropped to make room
    was_gone: bool                # this run had been dropped or had expired before


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def key_of(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def short_hash(token: str) -> str:
    """Eight hex digits naming a run in logs (not enough to find it)."""
    return key_of(token)[:8]


def valid_token(token) -> bool:
    return isinstance(token, str) and bool(TOKEN_RE.match(token))


def settings(environ=os.environ, hosted=None) -> Settings:
    """The store's settings from the environment (malformed numbers keep the defaults)."""
    hosted = limits.is_hosted(environ) if hosted is None else hosted

    def number(name, default):
        try:
            v = float(environ.get(name, ""))
            return v if v > 0 and math.isfinite(v) else default
        except ValueError:
            return default

    ttl_h = number("NNCORE_RUN_TTL_HOURS", 24.0 if hosted else 7 * 24.0)
    total = number("NNCORE_RUN_STORE_MB", 512.0 if hosted else 2048.0)
    history = number("NNCORE_RUN_HISTORY_MB", 2.0 if hosted else 16.0)
    return Settings(url=environ.get("NNCORE_RUN_STORE", "").strip() or "sqlite:///" + DEFAULT_PATH,
                    ttl_s=ttl_h * HOUR, total_bytes=int(total * 2**20),
                    history_bytes=int(history * 2**20), protect_interrupted=not hosted)


def describe_url(url: str) -> str:
    """The store's kind and place for people and logs, without a password."""
    if url.startswith("sqlite:"):
        return f"SQLite ({os.path.basename(_sqlite_path(url))})"
    m = re.match(r"^[a-z]+://(?:[^@/]*@)?([^/?#]*)(/[^?#]*)?", url)
    return f"PostgreSQL ({m.group(1) if m else '?'}{m.group(2) or '' if m else ''})"


def _sqlite_path(url: str) -> str:
    if not url.startswith("sqlite:///"):
        raise StoreError("NNCORE_RUN_STORE: an SQLite URL is sqlite:////absolute/path.sqlite "
                         "or sqlite:///relative/path.sqlite")
    return url[len("sqlite:///"):]


# -- engines ------------------------------------------------------------------------------
class _Engine:
    """One DB-API connection, used under a lock, reopened after an error. The SQL is
    written with ``?`` placeholders and ``{blob}`` for the bytes type."""

    blob = "BLOB"

    def __init__(self, url):
        self.url = url
        self.lock = threading.Lock()
        self.conn = None

    def _connect(self):
        raise NotImplementedError

    def _sql(self, sql):
        return sql.format(blob=self.blob)

    def run(self, work):
        """``work(cursor)`` in one transaction; its result. DB errors become StoreError."""
        with self.lock:
            for attempt in (0, 1):
                try:
                    if self.conn is None:
                        self.conn = self._connect()
                    cur = self.conn.cursor()
                    try:
                        out = work(_Cursor(cur, self))
                        self.conn.commit()
                        return out
                    except BaseException:
                        self._rollback()
                        raise
                    finally:
                        cur.close()
                except (StoreError, RunGone):
                    raise
                except Exception as exc:
                    self.close_locked()
                    if attempt or not self._retry(exc):
                        raise StoreError(f"the run store ({describe_url(self.url)}) cannot be "
                                         f"used: {type(exc).__name__}: {_first_line(exc)}") from None

    def _retry(self, exc):
        return True                       # a dropped connection: reconnect once

    def _rollback(self):
        try:
            self.conn.rollback()
        except Exception:
            self.close_locked()

    def close_locked(self):
        try:
            if self.conn is not None:
                self.conn.close()
        except Exception:
            pass
        self.conn = None

    def close(self):
        with self.lock:
            self.close_locked()


class _Cursor:
    def __init__(self, cur, engine):
        self.cur, self.engine = cur, engine

    def execute(self, sql, params=()):
        self.cur.execute(self.engine.translate(self.engine._sql(sql)), params)
        return self.cur


class _SQLite(_Engine):
    def _connect(self):
        path = _sqlite_path(self.url)
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        conn = sqlite3.connect(path, timeout=10, check_same_thread=False, isolation_level="DEFERRED")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")     # WAL: a crash loses no committed run
        conn.execute("PRAGMA wal_autocheckpoint=10000")  # runs are MBs: fsync every ~40 MB
        return conn

    @staticmethod
    def translate(sql):
        return sql


class _Postgres(_Engine):
    blob = "BYTEA"

    def _connect(self):
        import psycopg
        return psycopg.connect(self.url, connect_timeout=5)

    @staticmethod
    def translate(sql):
        return sql.replace("?", "%s")


def _first_line(exc) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else ""


# -- the store ---------------------------------------------------------------------------
SCHEMA = f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    key TEXT PRIMARY KEY,
    writer TEXT NOT NULL,
    status TEXT NOT NULL,
    created DOUBLE PRECISION NOT NULL,
    updated DOUBLE PRECISION NOT NULL,
    expires DOUBLE PRECISION NOT NULL,
    epoch INTEGER NOT NULL,
    nbytes BIGINT NOT NULL,
    summary TEXT NOT NULL,
    body {{blob}}
)"""
INDEX = f"CREATE INDEX IF NOT EXISTS {TABLE}_updated ON {TABLE} (updated)"


class RunStore:
    """Runs by token, within a total budget. Thread-safe; one per process and URL
    (:func:`open_store`)."""

    def __init__(self, cfg: Settings, writer=PROCESS_ID, clock=time.time):
        self.cfg, self.writer, self.clock = cfg, writer, clock
        url = cfg.url
        if url.startswith("sqlite:"):
            _sqlite_path(url)
            self.engine = _SQLite(url)
        elif url.startswith(("postgresql://", "postgres://")):
            self.engine = _Postgres(url)
        else:
            raise StoreError("NNCORE_RUN_STORE must start with sqlite:/// or postgresql:// "
                             f"(got a value starting {url.split(':', 1)[0][:20]!r})")
        self._ready = False

    @property
    def kind(self) -> str:
        return "sqlite" if isinstance(self.engine, _SQLite) else "postgresql"

    def describe(self) -> str:
        return describe_url(self.cfg.url)

    def _do(self, work):
        if not self._ready:
            self.engine.run(lambda c: (c.execute(SCHEMA), c.execute(INDEX)))
            self._ready = True
        return self.engine.run(work)

    # -- writing ----------------------------------------------------------------------
    def save(self, token: str, body: bytes, epoch: int, summary: str) -> Saved:
        """Store ``body`` as the run of ``token`` (insert or replace). Drops the runs
        written longest ago if the total budget needs it; raises StoreFull if it cannot
        fit, StoreError if the store cannot be used."""
        body = bytes(body)
        if len(body) > self.cfg.total_bytes:
            raise StoreFull(f"the run ({size_text(len(body))}) is larger than the whole "
                            f"run store ({size_text(self.cfg.total_bytes)})")
        key, now = key_of(token), self.clock()

        def work(c):
            row = c.execute(f"SELECT status, created FROM {TABLE} WHERE key = ?", (key,)).fetchone()
            was_gone = row is not None and row[0] == EVICTED
            evicted = self._make_room(c, key, len(body), now)
            c.execute(f"""INSERT INTO {TABLE}
                (key, writer, status, created, updated, expires, epoch, nbytes, summary, body)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (key) DO UPDATE SET writer = excluded.writer, status = excluded.status,
                updated = excluded.updated, expires = excluded.expires, epoch = excluded.epoch,
                nbytes = excluded.nbytes, summary = excluded.summary, body = excluded.body""",
                      (key, self.writer, KEPT, now, now, now + self.cfg.ttl_s, int(epoch),
                       len(body), str(summary)[:300], body))
            return Saved(len(body), evicted, was_gone)

        out = self._do(work)
        if out.evicted:
            log.info("run store: %d older run(s) dropped to make room for run %s",
                     out.evicted, short_hash(token))
        return out

    def _make_room(self, c, key, nbytes, now) -> int:
        c.execute(f"DELETE FROM {TABLE} WHERE expires < ?", (now,))
        used = c.execute(f"SELECT COALESCE(SUM(nbytes), 0) FROM {TABLE} "
                         f"WHERE body IS NOT NULL AND key <> ?", (key,)).fetchone()[0]
        over = int(used) + nbytes - self.cfg.total_bytes
        if over <= 0:
            return 0
        # oldest first; runs of earlier processes not yet resumed or dismissed go last
        if self.cfg.protect_interrupted:
            order, params = "CASE WHEN writer <> ? AND status = ? THEN 1 ELSE 0 END, updated", \
                (key, self.writer, KEPT)
        else:
            order, params = "updated", (key,)
        rows = c.execute(f"SELECT key, nbytes FROM {TABLE} WHERE body IS NOT NULL AND key <> ? "
                         f"ORDER BY {order}", params).fetchall()
        drop = []
        for k, n in rows:
            if over <= 0:
                break
            drop.append(k)
            over -= int(n)
        if over > 0:
            raise StoreFull(f"the run store is full ({size_text(self.cfg.total_bytes)} "
                            "in all) and this run does not fit")
        for k in drop:
            c.execute(f"UPDATE {TABLE} SET status = ?, body = NULL, nbytes = 0 WHERE key = ?",
                      (EVICTED, k))
        return len(drop)

    def delete(self, key: str):
        """Remove the run with row id ``key`` (:func:`key_of` of its token)."""
        self._do(lambda c: c.execute(f"DELETE FROM {TABLE} WHERE key = ?", (key,)))

    def dismiss(self, key: str):
        """Not offered for resuming again; kept until it expires or makes room."""
        self._do(lambda c: c.execute(f"UPDATE {TABLE} SET status = ? WHERE key = ? AND status = ?",
                                     (DISMISSED, key, KEPT)))

    # -- reading ----------------------------------------------------------------------
    def get(self, token: str) -> StoredRun:
        """The run of ``token``; raises RunGone saying why there is none."""
        if not valid_token(token):
            raise RunGone("this link does not name a run")
        return self.get_key(key_of(token))

    def get_key(self, key: str) -> StoredRun:
        row = self._do(lambda c: c.execute(
            f"SELECT key, body, epoch, summary, updated, writer, status, expires FROM {TABLE} "
            "WHERE key = ?", (key,)).fetchone())
        if row is None:
            raise RunGone("no run is stored under this link (a mistyped link, or it expired)")
        if row[7] < self.clock():
            raise RunGone("the run of this link has expired (runs are kept "
                          f"{_duration(self.cfg.ttl_s)} after their last epoch)")
        if row[6] == EVICTED or row[1] is None:
            raise RunGone("the run of this link was removed to make room for newer runs (the "
                          "store keeps the most recently trained runs; the oldest go first)")
        return StoredRun(row[0], bytes(row[1]), int(row[2]), row[3], float(row[4]), row[5])

    def interrupted(self, limit=3) -> list[StoredRun]:
        """Runs written by earlier server processes, not resumed or dismissed, newest
        first (at most ``limit``, bodies included)."""
        rows = self._do(lambda c: c.execute(
            f"SELECT key, body, epoch, summary, updated, writer FROM {TABLE} WHERE writer <> ? "
            "AND status = ? AND body IS NOT NULL AND expires >= ? ORDER BY updated DESC LIMIT ?",
            (self.writer, KEPT, self.clock(), int(limit))).fetchall())
        return [StoredRun(r[0], bytes(r[1]), int(r[2]), r[3], float(r[4]), r[5]) for r in rows]

    def runs(self, limit=100) -> list[StoredRun]:
        """Every stored run (bodies included), newest first, at most ``limit``."""
        rows = self._do(lambda c: c.execute(
            f"SELECT key, body, epoch, summary, updated, writer FROM {TABLE} WHERE body IS NOT NULL "
            "ORDER BY updated DESC LIMIT ?", (int(limit),)).fetchall())
        return [StoredRun(r[0], bytes(r[1]), int(r[2]), r[3], float(r[4]), r[5]) for r in rows]

    def usage(self) -> dict:
        """Runs stored, their bytes, and markers of dropped runs."""
        row = self._do(lambda c: c.execute(
            f"SELECT COUNT(body), COALESCE(SUM(nbytes), 0), COUNT(*) - COUNT(body) FROM {TABLE}"
        ).fetchone())
        return {"runs": int(row[0]), "bytes": int(row[1]), "dropped": int(row[2])}

    def close(self):
        self.engine.close()


def _duration(seconds) -> str:
    hours = seconds / HOUR
    return f"{hours / 24:g} days" if hours >= 48 else f"{hours:g} hours"


_STORES: dict = {}
_STORES_LOCK = threading.Lock()


def open_store(cfg: Settings | None = None) -> RunStore:
    """The process's store for ``cfg`` (default: from the environment), made once: a
    database connection, shared by every session (it holds no session's state)."""
    cfg = cfg or settings()
    with _STORES_LOCK:
        store = _STORES.get(cfg)
        if store is None:
            store = _STORES[cfg] = RunStore(cfg)
        return store


# -- the training-state side ----------------------------------------------------------------
MAX_STORED_EPOCHS = 24          # older epochs' weights in one stored run, at most


def dump_run(trainer, history_bytes: int) -> bytes:
    """``trainer`` as a compact training-state document: latest weights, resume block,
    records, and every k-th stored epoch, k chosen so that the older epochs take at most
    ``history_bytes`` and number at most ``MAX_STORED_EPOCHS`` (a save then costs about
    the same at epoch 20 and at epoch 2,000). Arrays are plain base64 (``pack=False``):
    fast to write, and still the training-state format."""
    stored = trainer.history.epochs
    net = trainer.network
    units = sum(layer.n_out for layer in net.layers)     # the probe: a sum and an activation each
    per_epoch = (net.n_params + 2 * units) * net.params.itemsize * 4 / 3 + 600 + 200 * len(net.sizes)
    fit = min(MAX_STORED_EPOCHS, int(history_bytes // per_epoch))
    older = max(0, len(stored) - 1)
    if fit <= 0 or older == 0:
        epochs = "latest"
    elif older <= fit:
        epochs = "all"
    else:
        epochs = max(2, math.ceil(older / fit))
        while len(snapshot.select_epochs(stored, stored[-1], epochs)) - 1 > fit:
            epochs = max(epochs + 1, int(epochs * 1.25))   # epoch 0 and the latest stay too
    return snapshot.dumps(trainer, epochs=epochs, readable=False, compress=False, pack=False)


def read_snapshot(body: bytes, lim, max_run_bytes=None):
    """The stored run ``body`` as a validated Snapshot: the checks of a loaded file
    (``snapshot.loads``); the app's limits are checked when it is admitted."""
    cap = max(lim.max_snapshot_bytes, max_run_bytes or 0, len(body) + 2**20)
    return snapshot.loads(body, max_bytes=cap)


def read_trainer(body: bytes, lim, data_for=None):
    """A new Trainer continuing the stored run ``body``: the checks of a loaded file, then
    ``admit.admit_snapshot`` (the limits, on what is built). ``data_for(config)`` may lend
    the run's dataset (e.g. one shared by other sessions; used only if its fingerprint
    matches, else the data are rebuilt). Raises ValueError (SnapshotError) naming the
    problem."""
    snap = read_snapshot(body, lim)
    data = data_for(snap.run_config(allow_paths=lim.allow_paths)) if data_for else None
    return admit.admit_snapshot(snap, lim, data)


def summary_line(trainer) -> str:
    """``moons 2-8-4-2, adam lr 0.01, epoch 12``: what the resume offer shows."""
    cfg = trainer.config
    return (f"{cfg.dataset} {'-'.join(str(s) for s in trainer.network.sizes)}, {cfg.optimizer} "
            f"lr {cfg.lr:g}, epoch {trainer.epoch}")
