"""Ingestion semantics (docs/design.md, "Ingestion"): checkpoints from landed data, crash repair,
dedupe, expiry."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from ecomctl.config import Settings
from ecomctl.ingest import prepare_landing_file
from ecomctl.pipeline import Pipeline
from ecomctl.warehouse.sqlfiles import load_step

AS_OF = datetime(2026, 11, 1, tzinfo=timezone.utc)


@pytest.fixture
def pipeline(home):
    settings = Settings.load({"home": home}, environ={})
    with Pipeline(settings) as p:
        p.setup()
        yield p


def _recon(p: Pipeline) -> dict:
    return p.reconciliation(sent=0, received=0, landed=0, expired=0)


def _checkpoints(p: Pipeline) -> dict[str, int]:
    from ecomctl.ingest import read_checkpoints

    return read_checkpoints(p.warehouse, p.transport.source)


def test_checkpoint_is_the_last_landed_sequence_number(pipeline):
    pipeline.generate(200, seed=5, as_of=AS_OF)
    step = pipeline.ingest()
    assert step.details["received"] == 200
    expected = {pid: pipeline.transport.partition_state(pid).last_sequence_number
                for pid in pipeline.transport.partition_ids()}
    assert _checkpoints(pipeline) == {pid: seq for pid, seq in expected.items() if seq >= 0}
    # The per-batch check reads one partition above a sequence number; nothing above the end.
    from ecomctl.ingest import read_checkpoints

    source = pipeline.transport.source
    assert read_checkpoints(pipeline.warehouse, source, "0", 0) == {"0": expected["0"]}
    assert read_checkpoints(pipeline.warehouse, source, "0", expected["0"]) == {}
    # Nothing new: a second ingest reads nothing and lands nothing.
    again = pipeline.ingest()
    assert again.details["received"] == 0 and again.details["landed"] == 0
    assert _recon(pipeline)["valid_orders"] == 200


def test_small_batches_land_many_files_and_lose_nothing(home):
    settings = Settings.load({"home": home, "ingest_batch": 7}, environ={})
    with Pipeline(settings) as p:
        p.setup()
        p.generate(100, seed=8, as_of=AS_OF)
        step = p.ingest()
        assert step.details["landing_files"] >= 100 // 7
        r = _recon(p)
        assert r["total_landed"] == r["valid_orders"] == 100
        assert len(list((home / "landing").glob("*.json"))) == step.details["landing_files"]


def test_crash_after_landing_before_loading_is_repaired(pipeline):
    """A file written but never loaded is loaded by the next ingest, and nothing is counted twice."""
    pipeline.generate(120, seed=9, as_of=AS_OF)
    events = pipeline.transport.read("0", -1, 1000)
    assert events
    _write_landing_file(pipeline.settings.landing_dir, pipeline.transport.source, "0", events)

    step = pipeline.ingest()
    assert step.details["recovered_from_earlier_run"] == len(events)
    assert step.details["received"] == 120 - len(events)  # reading resumed after the recovered file
    r = _recon(pipeline)
    assert r["total_landed"] == 120 and r["valid_orders"] == 120 and r["transport_duplicates"] == 0


def test_crash_after_loading_before_bronze_sql_is_repaired(pipeline):
    pipeline.generate(80, seed=10, as_of=AS_OF)
    for pid in pipeline.transport.partition_ids():
        events = pipeline.transport.read(pid, -1, 1000)
        if events:
            _write_landing_file(pipeline.settings.landing_dir, pipeline.transport.source, pid, events)
    copy_file = load_step("bronze", pipeline.sql_root)[0]
    assert sum(r.rows for r in pipeline.warehouse.run_file(copy_file)) == 80
    step = pipeline.ingest()  # nothing left to read; the bronze SQL still runs
    assert step.details["received"] == 0
    r = _recon(pipeline)
    assert r["valid_orders"] == 80 and r["total_landed"] == 80


def test_redelivered_events_are_removed_by_the_transport_dedupe(pipeline):
    pipeline.generate(60, seed=12, as_of=AS_OF)
    pipeline.ingest()
    # The same events landed again under another file name, as a redelivery would.
    events = pipeline.transport.read("1", -1, 1000) or pipeline.transport.read("0", -1, 1000)
    _write_landing_file(pipeline.settings.landing_dir, pipeline.transport.source,
                       events[0].partition_id, events)
    step = pipeline.ingest()
    assert step.details["recovered_from_earlier_run"] == len(events)
    r = _recon(pipeline)
    assert r["transport_duplicates"] == len(events)
    assert r["valid_orders"] == 60
    assert r["total_landed"] == r["valid_orders"] + r["rejected"] + r["duplicates_removed"]


def test_expired_events_are_counted_and_reported(pipeline):
    messages = []
    pipeline.reporter.message = messages.append  # type: ignore[method-assign]
    pipeline.generate(50, seed=13, as_of=AS_OF)
    pipeline.transport.purge_before(datetime.now(timezone.utc) + timedelta(seconds=1))
    pipeline.generate(10, seed=14, as_of=AS_OF)
    step = pipeline.ingest()
    assert step.details["expired"] == 50
    assert step.details["received"] == 10
    assert any("50 events expired" in m for m in messages)
    assert _recon(pipeline)["valid_orders"] == 10


def test_landing_lines_are_the_json_of_each_raw_events_row():
    """The fast line builder writes exactly what json.dumps of the row would, for awkward bodies too."""
    import base64
    import json

    from ecomctl.events.transport import ReceivedEvent
    from ecomctl.ingest import landing_lines

    moment = datetime(2026, 11, 1, 12, 30, 5, 123456, tzinfo=timezone(timedelta(hours=2)))
    bodies = [b'{"a":"quote \\" and \\\\ backslash"}', "caf\u00e9 \u2028 \U0001f600".encode("utf-8"),
              b"\x00\x1f tab\t newline\n", b"\xff\xfe not utf-8", b""]
    events = [ReceivedEvent("3", 7 + i, str(100 * i), moment + timedelta(seconds=i % 2),
                            None if i == 0 else f"C10{i}\"", body) for i, body in enumerate(bodies)]
    lines = list(landing_lines("local/or\"ders", "file.json", events))
    assert len(lines) == len(events) and all(line.endswith("}\n") for line in lines)
    landed_at = json.loads(lines[0])["landed_at"]
    for line, event in zip(lines, events):
        try:
            body = {"body": event.body.decode("utf-8"), "body_encoding": None}
        except UnicodeDecodeError:  # kept byte for byte, base64, and rejected by bronze
            body = {"body": base64.b64encode(event.body).decode("ascii"), "body_encoding": "base64"}
        expected = json.dumps({
            "source": "local/or\"ders", "partition_id": "3", "sequence_number": event.sequence_number,
            "offset": event.offset,
            "enqueued_time": event.enqueued_time.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "partition_key": event.partition_key,
            **body,
            "landing_file": "file.json", "landed_at": landed_at,
        }, ensure_ascii=False, separators=(",", ":"))
        assert line == expected + "\n"


def test_the_drain_loop_works_with_or_without_the_per_partition_check(home):
    """ingest_partitions re-derives the checkpoint after each batch: from the partition's rows
    above the old checkpoint when given partition_checkpoints, else from every partition."""
    from ecomctl.ingest import ingest_partitions, read_checkpoints

    for scoped in (False, True):
        settings = Settings.load({"home": home / str(scoped)}, environ={})
        with Pipeline(settings) as p:
            p.setup()
            p.generate(60, seed=9, as_of=AS_OF)
            source = p.transport.source
            load_files = [f for f in load_step("bronze") if f.name.startswith("bronze/00_")]
            calls = []

            def load():
                return sum(r.rows or 0 for f in load_files for r in p.warehouse.run_file(f))

            def per_partition(partition_id, after):
                calls.append((partition_id, after))
                return read_checkpoints(p.warehouse, source, partition_id, after)

            summary = ingest_partitions(
                p.transport, lambda: read_checkpoints(p.warehouse, source),
                lambda pid, events: lambda: _write_landing_file(settings.landing_dir, source, pid, events),
                load, 7, partition_checkpoints=per_partition if scoped else None)
            assert summary.received == summary.landed_rows == 60
            assert _checkpoints(p) == {pid: p.transport.partition_state(pid).last_sequence_number
                                       for pid in p.transport.partition_ids()
                                       if p.transport.partition_state(pid).last_sequence_number >= 0}
            assert (len(calls) == summary.files) if scoped else not calls


def _drain_with_recorded_loads(p: Pipeline, batch: int, fail_on_publish: int | None = None):
    """ingest_partitions with the pipeline's real landing files and COPY INTO, recording when each
    batch's file is prepared (and its size) and when each load starts and ends, with the batches
    it loads (a load takes at least 50 ms)."""
    import threading
    import time

    from ecomctl.ingest import ingest_partitions, prepare_landing_file, read_checkpoints

    source = p.transport.source
    load_files = [f for f in load_step("bronze") if f.name.startswith("bronze/00_")]
    timeline: list[tuple[str, object, str]] = []
    sizes: dict[int, int] = {}
    published: list[int] = []

    def prepare(partition_id, events):
        number = len(sizes)
        sizes[number] = len(events)
        prepared = prepare_landing_file(p.settings.landing_dir, source, partition_id, events)
        timeline.append(("prepared", number, threading.current_thread().name))

        def publish():
            if number == fail_on_publish:
                raise RuntimeError(f"publishing batch {number} failed")
            prepared.publish()
            published.append(number)
        return publish

    def load():
        numbers = tuple(published)  # the batches of this load, published just before it
        published.clear()
        timeline.append(("load started", numbers, threading.current_thread().name))
        time.sleep(0.05)
        rows = sum(r.rows or 0 for f in load_files for r in p.warehouse.run_file(f))
        timeline.append(("load ended", numbers, threading.current_thread().name))
        return rows

    summary = None
    try:
        summary = ingest_partitions(p.transport, lambda: read_checkpoints(p.warehouse, source),
                                    prepare, load, batch)
    except RuntimeError as exc:
        timeline.append(("raised", -1, str(exc)))
    return summary, timeline, sizes


def _loads(timeline) -> list[tuple[int, ...]]:
    return [n for kind, n, _ in timeline if kind == "load started"]


def test_the_next_landing_file_is_written_while_the_previous_batch_loads(home):
    """Batch k+1's landing file is prepared in the main thread while the load before it runs in
    the load thread; loads run one at a time and in order, each of at most one batch of events,
    and every event lands once."""
    settings = Settings.load({"home": home}, environ={})
    with Pipeline(settings) as p:
        p.setup()
        p.generate(80, seed=4, as_of=AS_OF)
        summary, timeline, sizes = _drain_with_recorded_loads(p, batch=9)
        loads = _loads(timeline)
        assert summary.files == len(sizes) >= 8 and summary.received == summary.landed_rows == 80
        assert [n for numbers in loads for n in numbers] == list(range(len(sizes)))  # in order, once
        assert all(sum(sizes[n] for n in numbers) <= 9 for numbers in loads)
        order = [(kind, n) for kind, n, _ in timeline]
        for k, numbers in enumerate(loads):
            assert order.index(("load started", numbers)) < order.index(("load ended", numbers))
            if k:  # one load at a time; the overlap: this load's first file was written before
                # the previous load ended
                assert order.index(("load ended", loads[k - 1])) < order.index(("load started", numbers))
                assert order.index(("prepared", numbers[0])) < order.index(("load ended", loads[k - 1]))
        threads = {kind: {name for k, _, name in timeline if k == kind} for kind in ("prepared", "load ended")}
        assert threads["prepared"] == {"MainThread"} and "MainThread" not in threads["load ended"]
        assert _checkpoints(p) == {pid: p.transport.partition_state(pid).last_sequence_number
                                   for pid in p.transport.partition_ids()
                                   if p.transport.partition_state(pid).last_sequence_number >= 0}


def test_the_small_last_reads_of_the_partitions_are_loaded_together(home, monkeypatch):
    """A run of a few new events per partition lands one file per partition and loads them with
    one COPY INTO (after the one that loads what a crashed run left), not one per partition."""
    settings = Settings.load({"home": home}, environ={})
    with Pipeline(settings) as p:
        p.setup()
        p.generate(40, seed=3, as_of=AS_OF)
        copies = []
        run_file = p.warehouse.run_file
        monkeypatch.setattr(p.warehouse, "run_file", lambda f, *a, **kw: (
            copies.append(f.name) if f.name.startswith("bronze/00_") else None) or run_file(f, *a, **kw))
        step = p.ingest()
        assert step.details["landing_files"] == len(p.transport.partition_ids()) == 4
        assert len(copies) == 2 and step.details["landed"] == 40
        assert _recon(p)["valid_orders"] == 40


def test_a_failed_load_stops_ingest_and_the_unpublished_file_is_removed_next_time(home):
    """A load that fails is raised in the main thread after no later load has started; the file
    prepared meanwhile was never published (a hidden .tmp), and the next ingest removes it and
    lands everything exactly once."""
    settings = Settings.load({"home": home}, environ={})
    with Pipeline(settings) as p:
        p.setup()
        p.generate(80, seed=4, as_of=AS_OF)
        summary, timeline, sizes = _drain_with_recorded_loads(p, batch=9, fail_on_publish=2)
        assert summary is None and timeline[-1] == ("raised", -1, "publishing batch 2 failed")
        loaded = [n for numbers in _loads(timeline) for n in numbers]
        assert loaded and max(loaded) < 2  # no load of batch 2 or later started
        hidden = sorted(f.name for f in settings.landing_dir.glob(".*.tmp"))
        assert len(hidden) == 2  # batch 2 (failed before publishing) and batch 3, written meanwhile
        step = p.ingest()
        assert not list(settings.landing_dir.glob(".*.tmp"))
        assert step.details["landed"] == 80 - sum(sizes[n] for n in loaded)
        recon = _recon(p)
        assert recon["valid_orders"] == recon["total_landed"] == 80 and recon["duplicates_removed"] == 0


def test_only_hidden_landing_files_of_processes_that_are_gone_are_removed(tmp_path):
    """A .tmp landing file names its writer's pid: one of a dead process is removed, one of a
    live other process (an ingest still writing it) is kept, one of this process (an earlier
    ingest of it that failed) is removed, and published files are never touched."""
    import os
    import subprocess
    import sys

    from ecomctl.ingest import remove_unpublished_landing_files

    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    try:
        names = {"dead": f".a.json.{dead.pid}.tmp", "live": f".b.json.{live.pid}.tmp",
                 "mine": f".c.json.{os.getpid()}.tmp", "old format": ".d.json.tmp",
                 "published": "e.json"}
        for name in names.values():
            (tmp_path / name).write_text("{}\n")
        assert remove_unpublished_landing_files(tmp_path) == 3
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted([names["live"], names["published"]])
    finally:
        live.kill()
        live.wait()


def _write_landing_file(directory, source, partition_id, events):
    """Write one landing file and publish it, as ingest's load thread does."""
    return prepare_landing_file(directory, source, partition_id, events).publish()


# -- retention of landing files (ECOMCTL_LANDING_RETENTION_HOURS) --------------------------------
def _age(paths, hours: float) -> None:
    import os
    import time

    stamp = time.time() - hours * 3600
    for path in paths:
        os.utime(path, (stamp, stamp))


@pytest.mark.parametrize("retention", [24, 0])
def test_loaded_landing_files_older_than_the_retention_are_removed_by_ingest(home, retention):
    """End to end: files of a first ingest aged past the retention are removed by the next ingest,
    the newest one (within the retention) stays, and so do the next ingest's own files; with 0
    hours every file stays."""
    settings = Settings.load({"home": home, "ingest_batch": 30, "landing_retention_hours": retention},
                             environ={})
    with Pipeline(settings) as p:
        p.setup()
        p.generate(100, seed=4, as_of=AS_OF)
        first = p.ingest()
        assert first.details["landing_files_removed"] == 0  # every file is new
        files = sorted(settings.landing_dir.glob("*.json"), key=lambda f: f.name)
        assert len(files) == first.details["landing_files"] >= 4
        _age(files[:-1], 25)
        _age(files[-1:], 23)
        p.generate(50, seed=6, as_of=AS_OF)
        second = p.ingest()
        left = sorted(f.name for f in settings.landing_dir.glob("*.json"))
        if retention:
            assert second.details["landing_files_removed"] == len(files) - 1
            assert files[-1].name in left and not any(f.name in left for f in files[:-1])
        else:
            assert second.details["landing_files_removed"] == 0
            assert all(f.name in left for f in files)
        assert len(left) == len(files) + second.details["landing_files"] - second.details["landing_files_removed"]
        r = _recon(p)  # removing loaded files loses nothing and loads nothing again
        assert r["total_landed"] == r["valid_orders"] == 150 and r["duplicates_removed"] == 0
        assert p.ingest().details["landed"] == 0


def test_retention_removes_only_files_raw_events_holds(pipeline, monkeypatch):
    """An old published file no load has read (a crashed run's: data not ingested yet), an old
    hidden .tmp file and a file not named as a landing file stay; loaded is asked of raw_events
    for the old files' names only, a chunk of names a query."""
    import ecomctl.ingest as ingest
    from ecomctl.ingest import remove_loaded_landing_files

    pipeline.generate(90, seed=2, as_of=AS_OF)
    pipeline.ingest()
    landing = pipeline.settings.landing_dir
    loaded = sorted(landing.glob("*.json"))
    unloaded = _write_landing_file(landing, "elsewhere/orders", "0", pipeline.transport.read("0", -1, 5))
    hidden = landing / f".{unloaded.name}.999999.tmp"
    hidden.write_text("{}\n")
    stranger = landing / "notes.txt"
    stranger.write_text("kept\n")
    _age([*loaded, unloaded, hidden, stranger], 48)

    queries: list[list[str]] = []
    query = pipeline.warehouse.query
    monkeypatch.setattr(pipeline.warehouse, "query",
                        lambda sql, **kw: queries.append(kw["params"]["names"]) or query(sql, **kw))
    monkeypatch.setattr(ingest, "LOADED_FILES_PER_QUERY", 2)
    assert remove_loaded_landing_files(pipeline.warehouse, landing, 24) == len(loaded)
    assert sorted(p.name for p in landing.iterdir()) == sorted([unloaded.name, hidden.name, stranger.name])
    assert len(queries) == -(-(len(loaded) + 1) // 2)  # the old landing files' names, two a query
    assert all(1 <= len(names) <= 2 for names in queries)
    assert sorted(n for names in queries for n in names) == sorted(p.name for p in [*loaded, unloaded])
    # Nothing old enough: no query at all.
    queries.clear()
    assert remove_loaded_landing_files(pipeline.warehouse, landing, 72) == 0 and queries == []
