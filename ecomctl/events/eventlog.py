"""EmbeddedEventLog: the local transport, a partitioned event log in one SQLite file (WAL mode).

It behaves like an Event Hub where the pipeline can tell: a fixed partition count, a partition
chosen by a stable hash of the partition key, per-partition sequence numbers from 0 that are never
reused, byte offsets, an enqueued time, size-limited batches and retention. WAL mode plus a busy
timeout let a producer and a consumer in two processes use the file at the same time.

Retention is applied whenever the log is written to or asked for a partition's state (at most
once a minute in a process): events older than it are deleted and their pages given back to the
file system (incremental vacuum, then a WAL checkpoint), so the file holds about the retention's
worth of events. What expired before ingest read it shows in the partition state (beginning
past the checkpoint), which is how ingest and status count it, as on Event Hubs.
"""

from __future__ import annotations

import sqlite3
import time
import zlib
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from pathlib import Path

from ecomctl.errors import TransportError
from ecomctl.events.transport import (EventTooLargeError, PartitionState, ProgressCallback,
                                      ReceivedEvent, SendResult)

LOG_FORMAT_VERSION = 1
# Bytes counted per event on top of its body, close to Event Hubs' AMQP framing (~16 B for a
# 1 KB body), so a batch that fits here is about as large as one that fits there.
EVENT_OVERHEAD_BYTES = 16
_BUSY_TIMEOUT_SECONDS = 30.0
_PAGE_SIZE = 16384  # bodies are ~600 B; larger pages keep more of them in one WITHOUT ROWID page
# WAL pages between automatic checkpoints (SQLite's default is 1000, 16 MB at our page size). Each
# checkpoint waits for two fsyncs; a million events made ~40 of them, the largest wait of generate.
# Durability is unchanged: a commit is safe in the WAL whatever the checkpoint interval.
_WAL_AUTOCHECKPOINT_PAGES = 8192
# Retention is applied on the first send or partition state of a process, then at most this often.
_EXPIRY_INTERVAL_SECONDS = 60.0

# log_partitions keeps each partition's head, so sequence numbers and offsets continue after
# retention has deleted every event of a partition (Event Hubs never reuses them either).
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS log_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    """CREATE TABLE IF NOT EXISTS log_partitions (
        partition_id INTEGER PRIMARY KEY,
        next_sequence_number INTEGER NOT NULL,
        next_offset INTEGER NOT NULL,
        last_enqueued_time INTEGER)""",
    """CREATE TABLE IF NOT EXISTS events (
        partition_id INTEGER NOT NULL,
        sequence_number INTEGER NOT NULL,
        byte_offset INTEGER NOT NULL,
        enqueued_time INTEGER NOT NULL,
        partition_key TEXT,
        body BLOB NOT NULL,
        PRIMARY KEY (partition_id, sequence_number)) WITHOUT ROWID""",
)
_INSERT_EVENT = "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)"
_UPDATE_HEAD = ("UPDATE log_partitions SET next_sequence_number = ?, next_offset = ?, "
                "last_enqueued_time = ? WHERE partition_id = ?")


class EmbeddedEventLog:
    """A Transport over one SQLite file; times are stored as epoch microseconds (UTC).

    Partition state follows Event Hubs: a partition that never held an event reports -1 / -1 /
    None; once retention has removed all its events, beginning = last + 1 and last stays.
    """

    def __init__(self, path: Path, *, partitions: int = 4, hub: str = "orders",
                 retention: timedelta | None = timedelta(days=7),
                 max_batch_bytes: int = 1_048_576) -> None:
        if isinstance(partitions, bool) or not isinstance(partitions, int) or partitions < 1:
            raise TransportError(f"partition count must be 1 or more, got {partitions!r}",
                                 hint="set ECOMCTL_PARTITIONS")
        if max_batch_bytes <= EVENT_OVERHEAD_BYTES:
            raise TransportError(f"max_batch_bytes must exceed {EVENT_OVERHEAD_BYTES}, got {max_batch_bytes}")
        self.path = Path(path)
        self.partitions = partitions
        self.hub = hub
        self.source = f"local/{hub}"
        self.retention = retention
        self.max_batch_bytes = max_batch_bytes
        self._conn: sqlite3.Connection | None = None
        self._partition_by_key: dict[str, int] = {}
        self._next_round_robin = 0
        self._expired_at: float | None = None  # time.monotonic() of the last expiry

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> EmbeddedEventLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def check(self) -> None:
        """Open (creating if needed) the log file; raise TransportError naming the path if it can't be."""
        self._connection()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connection(self) -> sqlite3.Connection:
        # Opened lazily so that building a transport (e.g. for --help or status) touches no file.
        if self._conn is None:
            self._conn = self._open()
        return self._conn

    def _open(self) -> sqlite3.Connection:
        try:
            if self.path.is_dir():
                raise TransportError(f"cannot open the event log {self.path}: it is a directory",
                                     hint="point ECOMCTL_HOME / --home at a directory, not at the log")
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: we issue BEGIN ourselves, so each batch is exactly one transaction.
            conn = sqlite3.connect(str(self.path), timeout=_BUSY_TIMEOUT_SECONDS, isolation_level=None)
            try:
                conn.execute(f"PRAGMA page_size = {_PAGE_SIZE}")  # only takes effect on a new file
                # Also only on a new file (an older one is converted by its first large expiry):
                # lets expiry give the pages of deleted events back to the file system.
                conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
                conn.execute("PRAGMA journal_mode = WAL")
                # NORMAL in WAL mode: a committed batch survives a crash of any process; only a
                # power loss can drop the last transactions. Much faster than FULL.
                conn.execute("PRAGMA synchronous = NORMAL")
                conn.execute(f"PRAGMA wal_autocheckpoint = {_WAL_AUTOCHECKPOINT_PAGES}")
                self._create_or_verify(conn)
            except BaseException:
                conn.close()
                raise
        except (sqlite3.Error, OSError) as exc:
            raise TransportError(f"cannot open the event log {self.path}: {exc}",
                                 hint="check that ECOMCTL_HOME / --home is a writable directory") from exc
        return conn

    def _create_or_verify(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _SCHEMA:
                conn.execute(statement)
            row = conn.execute("SELECT value FROM log_meta WHERE key = 'partitions'").fetchone()
            if row is None:
                conn.executemany("INSERT INTO log_meta VALUES (?, ?)", [
                    ("format_version", str(LOG_FORMAT_VERSION)), ("partitions", str(self.partitions))])
                conn.executemany("INSERT INTO log_partitions VALUES (?, 0, 0, NULL)",
                                 [(pid,) for pid in range(self.partitions)])
            elif int(row[0]) != self.partitions:
                raise TransportError(
                    f"the event log {self.path} has {row[0]} partitions but {self.partitions} were "
                    "requested (ECOMCTL_PARTITIONS); a log's partition count cannot change",
                    hint=f"set ECOMCTL_PARTITIONS={row[0]}, or use a new ECOMCTL_HOME")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    # -- partitions ----------------------------------------------------------------------------

    def partition_ids(self) -> list[str]:
        return [str(pid) for pid in range(self.partitions)]

    def partition_for_key(self, partition_key: str | None) -> str:
        """The partition a key maps to: crc32 of its UTF-8 bytes mod the partition count (stable
        across processes, unlike hash()); a None key goes round-robin."""
        return str(self._partition_number_for_key(partition_key))

    def _partition_number_for_key(self, partition_key: str | None) -> int:
        if partition_key is None:
            pid = self._next_round_robin
            self._next_round_robin = (pid + 1) % self.partitions
            return pid
        pid = self._partition_by_key.get(partition_key)
        if pid is None:
            pid = zlib.crc32(partition_key.encode("utf-8")) % self.partitions
            self._partition_by_key[partition_key] = pid
        return pid

    def _partition_number(self, partition_id: str) -> int:
        if not (isinstance(partition_id, str) and partition_id.isdigit()
                and str(int(partition_id)) == partition_id and int(partition_id) < self.partitions):
            raise TransportError(f"unknown partition {partition_id!r} in {self.source}: "
                                 f"partition ids are 0 to {self.partitions - 1}")
        return int(partition_id)

    def partition_state(self, partition_id: str) -> PartitionState:
        pid = self._partition_number(partition_id)
        self._expire_now_and_then()
        # One statement, so the head and the first retained event come from the same snapshot.
        [(next_sequence, last_enqueued, first_retained)] = self._fetch_all(
            "SELECT next_sequence_number, last_enqueued_time, "
            "(SELECT min(sequence_number) FROM events WHERE partition_id = p.partition_id) "
            "FROM log_partitions AS p WHERE partition_id = ?", (pid,))
        if next_sequence == 0:
            return PartitionState(partition_id, -1, -1, None)
        beginning = first_retained if first_retained is not None else next_sequence
        return PartitionState(partition_id, beginning, next_sequence - 1, _from_micros(last_enqueued))

    # -- producing -------------------------------------------------------------------------------

    def send(self, messages: Iterable[tuple[str | None, bytes]],
             on_progress: ProgressCallback | None = None) -> SendResult:
        """Append (partition_key, body) messages in batches of at most max_batch_bytes.

        Each batch is one transaction. A message too large for any batch raises TransportError;
        the batches before it stay sent (as with Event Hubs) and the error says how many events.
        """
        started = time.perf_counter()
        self._connection()
        self._expire_now_and_then()
        events = batches = sent_bytes = 0
        batch: list[tuple[str | None, bytes]] = []
        batch_bytes = 0
        limit = self.max_batch_bytes

        def flush() -> None:
            nonlocal events, batches, sent_bytes, batch, batch_bytes
            sent_bytes += self._append_batch(batch)
            events += len(batch)
            batches += 1
            batch, batch_bytes = [], 0
            if on_progress is not None:
                on_progress(events, sent_bytes)

        for key, body in messages:
            if type(body) is not bytes:
                raise TypeError(f"event bodies must be bytes, got {type(body).__name__}")
            size = len(body) + EVENT_OVERHEAD_BYTES
            if size > limit:
                if batch:
                    flush()
                raise EventTooLargeError(len(body), key, limit, events, overhead=EVENT_OVERHEAD_BYTES)
            if batch_bytes + size > limit:
                flush()
            batch.append((key, body))
            batch_bytes += size
        if batch:
            flush()
        return SendResult(events, batches, sent_bytes, time.perf_counter() - started)

    def _append_batch(self, batch: list[tuple[str | None, bytes]]) -> int:
        """Write one batch in one transaction; returns its body bytes."""
        conn = self._connection()
        try:
            # IMMEDIATE takes the write lock before reading the heads, so two producers in two
            # processes can never hand out the same sequence number.
            conn.execute("BEGIN IMMEDIATE")
            heads = {pid: [seq, offset, enqueued] for pid, seq, offset, enqueued in conn.execute(
                "SELECT partition_id, next_sequence_number, next_offset, last_enqueued_time FROM log_partitions")}
            # Never earlier than an enqueued time already written: retention relies on enqueued
            # time rising with the sequence number within a partition.
            now = max([int(time.time() * 1_000_000)] + [h[2] for h in heads.values() if h[2] is not None])
            known = self._partition_by_key
            partition_for = self._partition_number_for_key
            rows = []
            append = rows.append
            for key, body in batch:
                pid = known.get(key)  # the hot path: a key seen before (None is never cached)
                if pid is None:
                    pid = partition_for(key)
                head = heads[pid]
                sequence, offset = head[0], head[1]
                append((pid, sequence, offset, now, key, body))
                head[0] = sequence + 1
                head[1] = offset + len(body)
                head[2] = now
            conn.executemany(_INSERT_EVENT, rows)
            conn.executemany(_UPDATE_HEAD, [(seq, offset, enqueued, pid)
                                            for pid, (seq, offset, enqueued) in heads.items()])
            conn.execute("COMMIT")
            return sum(len(body) for _, body in batch)
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise TransportError(f"writing a batch of {len(batch)} events to the event log "
                                 f"{self.path} failed: {exc}") from exc
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def expire(self) -> int:
        """Apply retention now: delete the events enqueued before it and give their space back
        to the file system; returns how many were deleted (0 without a retention)."""
        self._expired_at = time.monotonic()
        if self.retention is None:
            return 0
        deleted = self.purge_before(datetime.now(timezone.utc) - self.retention)
        if deleted:
            self.reclaim_space()
        return deleted

    def _expire_now_and_then(self) -> None:
        if self._expired_at is None or time.monotonic() - self._expired_at >= _EXPIRY_INTERVAL_SECONDS:
            self.expire()

    def reclaim_space(self) -> None:
        """Give free pages back to the file system: those of the database file (incremental vacuum;
        a log created before auto_vacuum was set is vacuumed once, when half of it is free), then
        the WAL's (a checkpoint that truncates it). Best effort: a busy log keeps its pages until
        the next expiry."""
        conn = self._connection()
        try:
            (mode,) = conn.execute("PRAGMA auto_vacuum").fetchone()
            if mode == 0:
                (free,) = conn.execute("PRAGMA freelist_count").fetchone()
                (pages,) = conn.execute("PRAGMA page_count").fetchone()
                if free * 2 >= pages:
                    conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
                    conn.execute("VACUUM")  # rewrites the file once, in incremental mode from now on
            else:
                # executescript steps it to the end; execute() would free one page per call.
                conn.executescript("PRAGMA incremental_vacuum")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        except sqlite3.OperationalError:  # busy or locked by another process: next time
            pass

    def purge_before(self, cutoff: datetime) -> int:
        """Delete events enqueued before `cutoff` (what retention does); returns how many."""
        cutoff_us = _to_micros(cutoff)
        conn = self._connection()
        deleted = 0
        # A read first: when nothing expired (the common case) no write lock is taken, so a
        # reader such as status does not queue behind a producer's batch.
        # Each partition's first event is its oldest (enqueued time rises with the sequence
        # number): one index lookup per partition, not a scan of the table.
        oldest = self._fetch_all(
            "SELECT min((SELECT enqueued_time FROM events WHERE partition_id = p.partition_id "
            "ORDER BY sequence_number LIMIT 1)) FROM log_partitions AS p", ())
        if not oldest or oldest[0][0] is None or oldest[0][0] >= cutoff_us:
            return 0
        try:
            conn.execute("BEGIN IMMEDIATE")
            for pid in range(self.partitions):
                # Enqueued time rises with the sequence number, so the expired events are a prefix
                # of the partition: find the first one to keep instead of scanning the table.
                keep = conn.execute(
                    "SELECT sequence_number FROM events WHERE partition_id = ? AND enqueued_time >= ? "
                    "ORDER BY sequence_number LIMIT 1", (pid, cutoff_us)).fetchone()
                if keep is None:
                    cursor = conn.execute("DELETE FROM events WHERE partition_id = ?", (pid,))
                else:
                    cursor = conn.execute("DELETE FROM events WHERE partition_id = ? AND sequence_number < ?",
                                          (pid, keep[0]))
                deleted += cursor.rowcount
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise TransportError(f"purging expired events from the event log {self.path} failed: {exc}") from exc
        return deleted

    # -- consuming -------------------------------------------------------------------------------

    def read(self, partition_id: str, after_sequence: int, max_events: int) -> list[ReceivedEvent]:
        """Up to max_events events of a partition with sequence_number > after_sequence, in order."""
        pid = self._partition_number(partition_id)
        if max_events < 0:
            raise ValueError(f"max_events must be 0 or more, got {max_events}")
        rows = self._fetch_all(
            "SELECT sequence_number, byte_offset, enqueued_time, partition_key, body FROM events "
            "WHERE partition_id = ? AND sequence_number > ? ORDER BY sequence_number LIMIT ?",
            (pid, after_sequence, max_events))
        times: dict[int, datetime] = {}  # a batch shares one enqueued time: convert it once
        events = []
        for sequence, offset, enqueued, key, body in rows:
            moment = times.get(enqueued)
            if moment is None:
                moment = times[enqueued] = _from_micros(enqueued)
            events.append(ReceivedEvent(partition_id, sequence, str(offset), moment, key, body))
        return events

    def _fetch_all(self, sql: str, parameters: tuple) -> list[tuple]:
        try:
            return self._connection().execute(sql, parameters).fetchall()
        except sqlite3.Error as exc:
            raise TransportError(f"reading the event log {self.path} failed: {exc}") from exc


def _to_micros(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    delta = moment - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _from_micros(micros: int | None) -> datetime | None:
    if micros is None:
        return None
    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=micros)
