"""HTTP write throughput: our step endpoints against a bare Django view, with wrk.

Cases: ``POST /todos`` and ``POST /counters/c1/increment`` x concurrency (16, 64) x the items
already in the written group (0, 100,000) x database (SQLite, PostgreSQL). Every case's
baseline is measured in the same run, on the same database, with the same wrk settings: a
bare Django project (bench/baseline) whose async view inserts one row on one long-lived
thread. A raw ASGI app (bench/rawapp.py, no Django) gives the floor of the server itself.
All three run under the uvicorn command line production uses. On PostgreSQL a Celery worker
process runs the stream-triggered steps, as in production (bench/worker.py): a case's drain
lasts until it has run them all. See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import harness as h
import worker as w

log = h.make_log("writes")

SETTLE_TIMEOUT = 60.0  # for the work a case left queued to drain before the next one
IDLE_WINDOW = 0.5  # wait_idle's measuring window: an idle server still takes one
COUNTER_QUIET = 1.0  # a counter unchanged this long has taken every request still in flight
COUNTER_TIMEOUT = 30.0


@dataclass(frozen=True)
class Op:
    """An endpoint of ours and the stream group it writes to."""

    path: str
    body: str
    stream: str
    group: str
    prefill_data: Callable[[str, str], dict[str, Any]]  # (item id, ISO time) -> item
    item: str | None = None  # the item an increment changes


OPS = {
    "todos": Op(
        "/todos",
        '{"description": "bench write"}',
        "todo",
        "todos",
        prefill_data=lambda item_id, now: {
            "id": item_id,
            "description": f"prefilled {item_id}",
            "createdAt": now,
        },
    ),
    "increment": Op(
        "/counters/c1/increment",
        '{"by": 1}',
        "counter",
        "global",
        prefill_data=lambda item_id, now: {"id": item_id, "value": 0},
        item="c1",
    ),
}


@dataclass
class Run:
    """One wrk measurement of one server ("ours", "baseline" or "raw")."""

    target: str
    db: str | None
    op: str
    concurrency: int
    prefill: int | None
    wrk: h.WrkResult | None = None
    server_cpu_percent: float | None = None
    worker_cpu_percent: float | None = None  # the Celery worker process and its pool
    machine_cpu_percent: float | None = None
    step_runs: w.StepRuns | None = None  # the stream-triggered runs so far (with a worker)
    max_db_connections: int | None = None
    settled: bool | None = None  # the server was idle before the measured run
    # Seconds the server stayed busy after wrk stopped: work the writes queued (stream-
    # triggered steps of an in-process worker, run records) that the answers did not wait for.
    drained_seconds: float | None = None
    duration: float | None = None
    counter_before: int | None = None
    counter_after: int | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        prefill = "" if self.prefill is None else f" prefill={self.prefill}"
        return f"{self.target} {self.db or '-'} {self.op} c={self.concurrency}{prefill}"

    @property
    def complete(self) -> bool:
        runs_complete = self.step_runs is None or self.step_runs.complete
        return self.wrk is not None and self.wrk.error is None and not self.errors and runs_complete

    @property
    def increase(self) -> int | None:
        if self.counter_before is None or self.counter_after is None:
            return None
        return self.counter_after - self.counter_before

    @property
    def lost(self) -> int | None:
        """Acknowledged increments the counter does not show (in-flight ones may add more)."""
        if self.increase is None or self.wrk is None:
            return None
        return max(0, self.wrk.ok - self.increase)

    @property
    def sustained_per_second(self) -> float | None:
        """2xx answers over the run plus the time its queued work took to drain."""
        if self.wrk is None or self.wrk.ok_per_second is None or self.duration is None:
            return None
        return self.wrk.ok / (self.duration + (self.drained_seconds or 0.0))

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "db": self.db,
            "op": self.op,
            "concurrency": self.concurrency,
            "prefill": self.prefill,
            "wrk": None if self.wrk is None else self.wrk.as_dict(),
            "requests_per_second": self.wrk and self.wrk.ok_per_second,
            "drained_seconds": self.drained_seconds,
            "sustained_per_second": self.sustained_per_second,
            "latency_p50_ms": self.wrk and self.wrk.p50,
            "latency_p99_ms": self.wrk and self.wrk.p99,
            "server_cpu_percent": self.server_cpu_percent,
            "worker_cpu_percent": self.worker_cpu_percent,
            "step_runs": None if self.step_runs is None else self.step_runs.as_dict(),
            "machine_cpu_percent": self.machine_cpu_percent,
            "max_db_connections": self.max_db_connections,
            "settled_before": self.settled,
            "counter_before": self.counter_before,
            "counter_after": self.counter_after,
            "counter_increase": self.increase,
            "lost": self.lost,
            "complete": self.complete,
            "errors": self.errors,
        }


@dataclass
class Target:
    """A running server to measure, and where its requests go."""

    name: str
    process: h.Process
    port: int
    database: h.Database | None
    worker: h.Process | None = None  # the Celery worker running its stream-triggered steps


# --- measuring -----------------------------------------------------------------------------------


def measure(args: argparse.Namespace, run: Run, target: Target, path: str, script: Path) -> Run:
    """Warm up, let the server drain, then one measured wrk run (and the counter around it)."""
    url = f"http://{h.HOST}:{target.port}{path}"
    wrk_log = args.tmp / "wrk.log"
    label = run.label
    if args.warmup > 0:
        h.run_wrk(url, run.concurrency, args.warmup, script, wrk_log)
    idle = h.wait_idle(target.process.pid, SETTLE_TIMEOUT)
    run.settled = worker_done(target) and idle
    counter = counter_reader(target.database, run.op) if run.target == "ours" else None
    if counter is not None:
        run.counter_before = read_quiet(counter, run)
    window = h.CpuWindow(target.process.pid).start()
    worker_window = None if target.worker is None else w.TreeCpu(target.worker.pid).start()
    with connection_sampler(target.database) as sampler:
        run.wrk = h.run_wrk(url, run.concurrency, args.duration, script, wrk_log)
    window.stop()
    if worker_window is not None:
        run.worker_cpu_percent = worker_window.stop().percent
    run.duration = args.duration
    drain_started = time.monotonic()
    if h.wait_idle(target.process.pid, SETTLE_TIMEOUT):
        run.drained_seconds = max(0.0, time.monotonic() - drain_started - IDLE_WINDOW)
    if target.worker is not None and target.database is not None and run.target == "ours":
        # The drain lasts until the worker has run every step the writes enqueued.
        run.step_runs = w.wait_for_runs(
            target.database, w.todos_created(target.database), SETTLE_TIMEOUT
        )
        if run.drained_seconds is not None and run.step_runs.drain_seconds is not None:
            run.drained_seconds += run.step_runs.drain_seconds
    run.server_cpu_percent, run.machine_cpu_percent = window.process_percent, window.machine_percent
    if sampler is not None:
        run.max_db_connections = sampler.maximum
        run.errors += [f"connection sampling: {e}" for e in sampler.errors[:1]]
    if counter is not None:
        run.counter_after = read_quiet(counter, run)
    check(run, target)
    latency = h.fmt_pair(run.wrk.p50, run.wrk.p99)
    log(f"{label}: {h.fmt(run.wrk.ok_per_second, 1)} req/s, p50/p99 {latency} ms")
    return run


def worker_done(target: Target) -> bool:
    """The worker has run every step enqueued so far (True when there is none)."""
    if target.worker is None or target.database is None:
        return True
    expected = w.todos_created(target.database)
    return w.wait_for_runs(target.database, expected, SETTLE_TIMEOUT).complete


def check(run: Run, target: Target) -> None:
    """What makes a measurement incomplete: wrk failing, the server dying."""
    if run.wrk is not None and run.wrk.error:
        run.errors.append(run.wrk.error)
    if not target.process.alive():
        run.errors.append(f"{target.name} exited during the run")
    if target.worker is not None and not target.worker.alive():
        run.errors.append("the Celery worker exited during the run")
    if run.settled is False:
        log(f"{target.name}: still busy {SETTLE_TIMEOUT:.0f} s after the warm-up; measuring anyway")


@contextlib.contextmanager
def connection_sampler(database: h.Database | None) -> Iterator[h.Sampler | None]:
    """PostgreSQL connections to the bench database, sampled during the run."""
    if database is None or database.kind != "postgres":
        yield None
        return
    with h.Sampler(database.connection_count) as sampler:
        yield sampler


def counter_reader(database: h.Database | None, op: str) -> Callable[[], int] | None:
    """Reads the value of the counter an increment case writes (None for other cases)."""
    spec = OPS[op]
    if database is None or spec.item is None:
        return None
    item = spec.item

    def read() -> int:
        data = database.item_data(spec.stream, spec.group, item)
        return int((data or {}).get("value", 0))

    return read


def read_quiet(read: Callable[[], int], run: Run) -> int | None:
    """The counter once it stopped moving: requests still in flight have landed. None (and
    an error of the run) if it cannot be read."""
    try:
        value, changed = read(), time.monotonic()
        deadline = changed + COUNTER_TIMEOUT
        while time.monotonic() < deadline and time.monotonic() - changed < COUNTER_QUIET:
            time.sleep(0.25)
            latest = read()
            if latest != value:
                value, changed = latest, time.monotonic()
    except Exception as error:
        run.errors.append(f"reading the counter: {type(error).__name__}: {error}")
        return None
    return value


@contextlib.contextmanager
def serving(
    name: str, args: argparse.Namespace, app: str, cwd: Path, env: dict[str, str], probe: str
) -> Iterator[tuple[h.Process, int]]:
    """A uvicorn server for the duration of a block, stopped after it whatever happens."""
    log(f"starting {name}")
    process, port = h.start_server(name, args.python, app, cwd, env, args.tmp, probe)
    try:
        yield process, port
    finally:
        process.stop()


def measure_raw(args: argparse.Namespace) -> list[Run]:
    """The raw ASGI app (201 to any POST) at every concurrency: the server's floor."""
    script = h.wrk_post_script(args.tmp / "raw.lua", '{"description": "bench write"}')
    env = h.server_env({})
    with serving("raw", args, h.RAW_APP, h.BENCH_DIR, env, "/") as (process, port):
        target = Target("raw", process, port, None)
        return [
            measure(args, Run("raw", None, "insert", c, None), target, "/insert", script)
            for c in args.concurrency
        ]


def measure_baseline(
    args: argparse.Namespace,
    database: h.Database,
    env: dict[str, str],
    prefill: int,
    worker: h.Process | None,
) -> dict[int, Run]:
    """The bare Django view on the same database, at every concurrency."""
    script = h.wrk_post_script(args.tmp / "baseline.lua", '{"description": "bench write"}')
    name = f"baseline-{database.kind}"
    with serving(name, args, h.BASELINE_DJANGO_APP, h.BENCH_DIR, env, "/") as (process, port):
        target = Target(name, process, port, database, worker)
        return {
            c: measure(
                args,
                Run("baseline", database.kind, "insert", c, prefill),
                target,
                "/insert",
                script,
            )
            for c in args.concurrency
        }


def measure_ours(
    args: argparse.Namespace,
    database: h.Database,
    env: dict[str, str],
    prefill: int,
    worker: h.Process | None,
) -> list[Run]:
    """Our server: every op at every concurrency."""
    name = f"ours-{database.kind}"
    runs = []
    with serving(name, args, h.OURS_APP, args.project, env, "/api/docs") as (process, port):
        target = Target(name, process, port, database, worker)
        for op in args.ops:
            script = h.wrk_post_script(args.tmp / f"{op}.lua", OPS[op].body)
            for c in args.concurrency:
                run = Run("ours", database.kind, op, c, prefill)
                runs.append(measure(args, run, target, OPS[op].path, script))
    return runs


# --- prefill -------------------------------------------------------------------------------------


def prefill(database: h.Database, ops: list[str], count: int, start: int) -> None:
    """``count`` more items straight into each written group (the servers are stopped)."""
    started = time.monotonic()
    with contextlib.closing(database.connect()) as connection:
        for op in ops:
            insert_items(database.kind, connection, OPS[op], count, start)
        if database.kind == "postgres":  # statistics as a settled table would have them
            connection.execute("VACUUM ANALYZE streams_streamitem, streams_streamgroup")
    log(
        f"{database.kind}: {count:,} items per group inserted in {time.monotonic() - started:.1f} s"
    )


def insert_items(kind: str, connection: Any, op: Op, count: int, start: int) -> None:
    """Items ``prefill-<n>`` of the op's group; the group row's version and last timestamp
    move past theirs, as if they had been written through the API."""
    p = "?" if kind == "sqlite" else "%s"
    group_id, version = group_row(kind, connection, op)
    now = dt.datetime.now(dt.UTC)
    stamp = h.sqlite_now() if kind == "sqlite" else now
    now_ms, iso = int(now.timestamp() * 1000), now.isoformat()
    rows = []
    for n in range(1, count + 1):
        item_id = f"prefill-{start + n:06d}"
        data = json.dumps(op.prefill_data(item_id, iso))
        rows.append((group_id, item_id, data, now_ms - count + n, version + n, stamp, stamp))
    columns = "group_id, item_id, data, timestamp, version, created_at, updated_at"
    if kind == "sqlite":
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany(
            f"INSERT INTO streams_streamitem ({columns}) VALUES ({', '.join([p] * 7)})", rows
        )
    else:
        cursor = connection.cursor()
        with (
            connection.transaction(),
            cursor.copy(f"COPY streams_streamitem ({columns}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
    connection.execute(
        f"UPDATE streams_streamgroup SET version = version + {p}, "
        f"last_timestamp = CASE WHEN last_timestamp > {p} THEN last_timestamp ELSE {p} END, "
        f"updated_at = {p} WHERE id = {p}",
        (count, now_ms, now_ms, stamp, group_id),
    )
    if kind == "sqlite":
        connection.execute("COMMIT")


def group_row(kind: str, connection: Any, op: Op) -> tuple[int, int]:
    """(id, version) of the op's group row, created if no write made it yet."""
    p = "?" if kind == "sqlite" else "%s"
    select = (
        f"SELECT id, version FROM streams_streamgroup WHERE stream_name = {p} AND group_id = {p}"
    )
    row = connection.execute(select, (op.stream, op.group)).fetchone()
    if row is None:
        stamp = h.sqlite_now() if kind == "sqlite" else dt.datetime.now(dt.UTC)
        connection.execute(
            "INSERT INTO streams_streamgroup (stream_name, group_id, version, last_timestamp, "
            f"created_at, updated_at) VALUES ({p}, {p}, 0, 0, {p}, {p})",
            (op.stream, op.group, stamp, stamp),
        )
        row = connection.execute(select, (op.stream, op.group)).fetchone()
    return int(row[0]), int(row[1])


# --- one database --------------------------------------------------------------------------------


def measure_database(
    args: argparse.Namespace, kind: str
) -> tuple[list[Run], dict[int, dict[int, Run]]]:
    """Every case on one fresh database: prefill by prefill, the baseline right before ours."""
    database = h.Database(kind, args.tmp, redis_url=args.redis_url).create()
    ours: list[Run] = []
    baselines: dict[int, dict[int, Run]] = {}
    worker = None
    try:
        env = h.server_env(database.env())
        log(f"{kind}: migrating a fresh database ({database.name})")
        h.migrate(args.python, args.project, env, args.tmp / f"migrate-{kind}.log")
        database.open_monitor()
        if h.worker_wanted(args, kind):
            worker = w.start_worker(args.python, args.project, env, args.tmp, database)
        filled = 0
        for count in args.prefill:
            if count > filled:
                prefill(database, args.ops, count - filled, filled)
                filled = count
            baselines[count] = measure_baseline(args, database, env, count, worker)
            ours += measure_ours(args, database, env, count, worker)
    finally:
        if worker is not None:
            worker.stop()
        database.drop()
    return ours, baselines


# --- report --------------------------------------------------------------------------------------


def case_rows(ours: list[Run], baselines: dict[tuple[str, int], dict[int, Run]]) -> list[list[str]]:
    rows = []
    for run in ours:
        base = baselines[(run.db or "", run.prefill or 0)].get(run.concurrency)
        wrk, bwrk = run.wrk, base.wrk if base else None
        rows.append(
            [
                run.db or "-",
                OPS[run.op].path,
                str(run.concurrency),
                f"{run.prefill:,}",
                h.fmt(wrk and wrk.ok_per_second, 1),
                h.fmt(run.drained_seconds, 1),
                h.fmt(run.sustained_per_second, 1),
                h.fmt(bwrk and bwrk.ok_per_second, 1),
                h.fmt(h.ratio(run.sustained_per_second, bwrk and bwrk.ok_per_second), 3),
                h.fmt_pair(wrk and wrk.p50, wrk and wrk.p99),
                h.fmt_pair(bwrk and bwrk.p50, bwrk and bwrk.p99),
                h.fmt(wrk and wrk.non_2xx),
                h.fmt(wrk and wrk.errors),
                h.fmt(run.lost) if OPS[run.op].item else "",
                h.fmt(run.max_db_connections) if run.db == "postgres" else "",
                h.fmt(run.server_cpu_percent),
                h.fmt(run.worker_cpu_percent),
                "yes" if run.complete and (base is None or base.complete) else "NO",
            ]
        )
    return rows


CASE_HEADERS = [
    "db",
    "op",
    "C",
    "prefill",
    "ours req/s",
    "drain s",
    "ours sustained/s",
    "base req/s",
    "ours/base",
    "ours p50/p99 ms",
    "base p50/p99 ms",
    "non-2xx",
    "errors",
    "lost",
    "max DB conns",
    "srv CPU %",
    "worker CPU %",
    "complete",
]
FLOOR_HEADERS = [
    "target",
    "db",
    "C",
    "prefill",
    "req/s",
    "p50/p99 ms",
    "non-2xx",
    "errors",
    "max DB conns",
    "srv CPU %",
    "complete",
]


def floor_rows(runs: list[Run]) -> list[list[str]]:
    return [
        [
            "raw ASGI" if run.target == "raw" else "bare Django",
            run.db or "-",
            str(run.concurrency),
            "-" if run.prefill is None else f"{run.prefill:,}",
            h.fmt(run.wrk and run.wrk.ok_per_second, 1),
            h.fmt_pair(run.wrk and run.wrk.p50, run.wrk and run.wrk.p99),
            h.fmt(run.wrk and run.wrk.non_2xx),
            h.fmt(run.wrk and run.wrk.errors),
            h.fmt(run.max_db_connections) if run.db == "postgres" else "",
            h.fmt(run.server_cpu_percent),
            "yes" if run.complete else "NO",
        ]
        for run in runs
    ]


def report(
    args: argparse.Namespace,
    header: dict[str, Any],
    raw: list[Run],
    ours: list[Run],
    baselines: dict[tuple[str, int], dict[int, Run]],
) -> bool:
    """Print the tables and the notes; write the JSON; True when everything completed."""
    floors = raw + [run for by_c in baselines.values() for run in by_c.values()]
    everything = floors + ours
    complete = bool(ours) and all(run.complete for run in everything)
    print(h.header_line(header))
    print(
        f"wrk -t1, {args.duration:g} s per case after a {args.warmup:g} s warm-up; "
        f"req/s counts 2xx answers only{topology(args)}\n"
    )
    print(h.format_table(CASE_HEADERS, case_rows(ours, baselines), text_columns=2))
    print(
        "\nbaselines (bare Django: POST /insert, one row on one thread; "
        "raw ASGI: 201 to any POST)\n"
    )
    print(h.format_table(FLOOR_HEADERS, floor_rows(floors), text_columns=2))
    notes = report_notes(args, everything)
    for note in notes:
        print(f"note: {note}")
    document = {
        **header,
        "settings": settings_json(args),
        "raw": [run.as_dict() for run in raw],
        "cases": [case_json(run, baselines, raw) for run in ours],
        "notes": notes,
        "complete": complete,
    }
    h.emit_json(document, args.json, log)
    return complete


def topology(args: argparse.Namespace) -> str:
    if "postgres" not in args.dbs:
        return ""
    worker = "a Celery worker process" if h.worker_wanted(args, "postgres") else "no worker"
    return f"; PostgreSQL with Redis ({args.redis_url}) and {worker}"


def report_notes(args: argparse.Namespace, runs: list[Run]) -> list[str]:
    """Errors, incomplete runs, servers that did not drain, and error lines in server logs."""
    notes = []
    for run in runs:
        label = run.label
        notes += [f"{label}: {error}" for error in run.errors]
        if run.settled is False:
            notes.append(f"{label}: the server was still busy when the measured run started")
        if run.lost:
            notes.append(f"{label}: {run.lost} acknowledged increments missing from the counter")
        if run.step_runs is not None and (run.op == "todos" or not run.step_runs.complete):
            notes.append(f"{label}: worker, all runs so far: {run.step_runs.summary()}")
    return notes + h.log_notes(args.tmp)


def case_json(
    run: Run, baselines: dict[tuple[str, int], dict[int, Run]], raw: list[Run]
) -> dict[str, Any]:
    base = baselines[(run.db or "", run.prefill or 0)].get(run.concurrency)
    floor = next((r for r in raw if r.concurrency == run.concurrency), None)
    ours_rps = run.sustained_per_second
    return {
        "ours": run.as_dict(),
        "baseline": None if base is None else base.as_dict(),
        # Ours counts the time its queued work took to drain after the run.
        "ratio_requests_per_second": h.ratio(
            ours_rps, base and base.wrk and base.wrk.ok_per_second
        ),
        "ratio_to_raw_requests_per_second": h.ratio(
            ours_rps, floor and floor.wrk and floor.wrk.ok_per_second
        ),
    }


def settings_json(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "databases": args.dbs,
        "postgres_worker": args.worker,
        "ops": args.ops,
        "concurrency": args.concurrency,
        "prefill": args.prefill,
        "duration": args.duration,
        "warmup": args.warmup,
        "wrk_timeout": h.WRK_TIMEOUT,
    }


# --- main ----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    h.add_common_args(parser, ["both", "sqlite", "postgres"])
    parser.add_argument("--op", choices=["both", "todos", "increment"], default="both")
    parser.add_argument(
        "--concurrency",
        type=h.parse_int_list,
        default=[16, 64],
        help="wrk connections, comma-separated (default 16,64)",
    )
    parser.add_argument(
        "--prefill",
        type=h.parse_int_list,
        default=[0, 100_000],
        help="items already in the written group (default 0,100000)",
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per case")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds per case")
    parser.add_argument("--no-raw", action="store_true", help="skip the raw ASGI server rows")
    args = parser.parse_args(argv)
    if args.duration < 1 or min(args.concurrency) < 1:
        parser.error("--duration must be at least 1 s and every concurrency at least 1")
    args.dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    args.ops = ["todos", "increment"] if args.op == "both" else [args.op]
    args.prefill = sorted(set(args.prefill))
    args.project = args.project.resolve()
    return args


def run_all(
    args: argparse.Namespace,
) -> tuple[list[Run], list[Run], dict[tuple[str, int], dict[int, Run]]]:
    raw = [] if args.no_raw else measure_raw(args)
    ours: list[Run] = []
    baselines: dict[tuple[str, int], dict[int, Run]] = {}
    for kind in args.dbs:
        runs, by_prefill = measure_database(args, kind)
        ours += runs
        baselines.update({(kind, count): by_c for count, by_c in by_prefill.items()})
    return raw, ours, baselines


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return h.run_benchmark(
        "writes",
        args,
        lambda: run_all(args),
        lambda header, runs: report(args, header, *runs),
        log,
    )


if __name__ == "__main__":
    sys.exit(main())
