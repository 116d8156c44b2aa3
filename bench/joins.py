"""Joins: 5,000 WebSocket sockets joining todo/todos, with the examples' join/leave hooks on.

The client opens the sockets with bounded concurrency; each sends its join and waits for the
sync frame. Reported: joins per second, join -> sync and connect -> sync percentiles, the
server's RSS per idle subscribed connection, and, for ours, how long after the sockets close
the ``inbox`` watcher counter (which on_join increments and on_leave decrements) is back to its
value before the run. The baseline, in the same run with the same client, is a raw ASGI app
(bench/rawapp.py) under the same uvicorn command line; ``--websockets-baseline`` adds a plain
``websockets`` server (fanout.py's) as a second floor. On PostgreSQL a Celery worker process
runs beside ours, as in production (bench/worker.py); joins give it nothing to run, and its CPU
is reported. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import harness as h
import worker as w
from wsclient import StreamSubscriber, open_subscribers

log = h.make_log("joins")

SOCKET_TIMEOUT = 180.0  # one socket's connect, and then its sync: a slow server still syncs
SETTLE_TIMEOUT = 60.0  # for the join hooks' work to drain before RSS is read
WATCHERS = ("inbox", "watching", "todos")  # stream, group, item of the example's watcher counter
TARGET_NAMES = {"ours": "ours", "raw": "raw ASGI", "websockets": "raw websockets"}


@dataclass
class JoinResult:
    target: str
    sockets: int
    synced: int = 0
    failures: list[str] = field(default_factory=list)
    total_seconds: float | None = None  # first connect -> last sync
    join_to_sync: list[float] = field(default_factory=list)  # seconds
    connect_to_sync: list[float] = field(default_factory=list)
    server_cpu_percent: float | None = None  # during the joins
    worker_cpu_percent: float | None = None  # the Celery worker process, if one runs
    rss_before_kib: int | None = None
    rss_after_kib: int | None = None
    dropped_while_idle: int = 0
    watchers_before: int | None = None
    watchers_joined: int | None = None  # the counter with every socket subscribed
    leave_seconds: float | None = None  # close -> the counter back to watchers_before
    errors: list[str] = field(default_factory=list)

    @property
    def joins_per_second(self) -> float | None:
        return self.synced / self.total_seconds if self.total_seconds else None

    @property
    def rss_per_connection_kib(self) -> float | None:
        if self.rss_before_kib is None or self.rss_after_kib is None or not self.synced:
            return None
        return (self.rss_after_kib - self.rss_before_kib) / self.synced

    def ms(self, values: list[float], fraction: float) -> float | None:
        value = h.percentile(values, fraction)
        return None if value is None else 1000.0 * value

    @property
    def complete(self) -> bool:
        return not self.errors and self.synced == self.sockets and not self.dropped_while_idle

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "sockets": self.sockets,
            "synced": self.synced,
            "failed": self.sockets - self.synced,
            "failures": self.failures[:5],
            "total_seconds": self.total_seconds,
            "joins_per_second": self.joins_per_second,
            "join_to_sync_ms": {
                "p50": self.ms(self.join_to_sync, 0.5),
                "p99": self.ms(self.join_to_sync, 0.99),
            },
            "connect_to_sync_ms": {
                "p50": self.ms(self.connect_to_sync, 0.5),
                "p99": self.ms(self.connect_to_sync, 0.99),
            },
            "server_cpu_percent": self.server_cpu_percent,
            "worker_cpu_percent": self.worker_cpu_percent,
            "rss_before_kib": self.rss_before_kib,
            "rss_after_kib": self.rss_after_kib,
            "rss_per_connection_kib": self.rss_per_connection_kib,
            "dropped_while_idle": self.dropped_while_idle,
            "watchers_before": self.watchers_before,
            "watchers_joined": self.watchers_joined,
            "leave_seconds": self.leave_seconds,
            "complete": self.complete,
            "errors": self.errors,
        }


# --- measuring -----------------------------------------------------------------------------------


def watchers(database: h.Database | None) -> int | None:
    """The example's watcher counter for todo/todos (0 before anyone joined)."""
    if database is None:
        return None
    data = database.item_data(*WATCHERS)
    return int((data or {}).get("watching", 0))


async def wait_for_watchers(
    database: h.Database, value: int | None, timeout: float
) -> float | None:
    """Seconds until the watcher counter equals ``value`` again, None if not within ``timeout``."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if await asyncio.to_thread(watchers, database) == value:
            return time.monotonic() - started
        await asyncio.sleep(0.25)
    return None


async def join_all(
    args: argparse.Namespace, result: JoinResult, port: int, pid: int, worker: int | None
) -> list[Any]:
    """Open every socket (bounded concurrency); record the timings of those that synced."""
    window = h.CpuWindow(pid).start()
    worker_window = None if worker is None else w.TreeCpu(worker).start()
    started = time.monotonic()
    subscribers, result.failures = await open_subscribers(
        lambda: StreamSubscriber(h.HOST, port, "todo", "todos"),
        h.HOST,
        port,
        args.sockets,
        args.concurrency,
        SOCKET_TIMEOUT,
        args.timeout,
    )
    window.stop()
    if worker_window is not None:
        result.worker_cpu_percent = worker_window.stop().percent
    result.server_cpu_percent = window.process_percent
    result.synced = len(subscribers)
    for s in subscribers:
        result.join_to_sync.append(s.sync_received - s.join_sent)
        result.connect_to_sync.append(s.sync_received - s.connect_started)
    if subscribers:
        result.total_seconds = max(s.sync_received for s in subscribers) - started
    return subscribers


async def warm_up(port: int, database: h.Database | None) -> None:
    """One socket joins and leaves first, so that the measured RSS and timings do not include
    the server's first-use costs (imports, caches, the first database connection)."""
    before = await asyncio.to_thread(watchers, database)
    subscribers, failures = await open_subscribers(
        lambda: StreamSubscriber(h.HOST, port, "todo", "todos"), h.HOST, port, 1, 1, 60.0, 60.0
    )
    if not subscribers:
        raise RuntimeError(f"the warm-up socket did not join: {failures}")
    subscribers[0].close()
    if database is not None and await wait_for_watchers(database, before, 60.0) is None:
        raise RuntimeError("the warm-up socket's on_leave did not run within 60 s")


async def measure(
    args: argparse.Namespace,
    result: JoinResult,
    process: h.Process,
    port: int,
    database: h.Database | None,
    worker: h.Process | None,
) -> JoinResult:
    """Warm up, join every socket, read the RSS at rest, close them, wait for on_leave."""
    await warm_up(port, database)
    result.watchers_before = await asyncio.to_thread(watchers, database)
    result.rss_before_kib = h.rss_kib(process.pid)
    log(f"{result.target}: opening {args.sockets} sockets, {args.concurrency} at a time")
    subscribers = await join_all(args, result, port, process.pid, worker and worker.pid)
    seconds = h.fmt(result.total_seconds, 1)
    log(f"{result.target}: {result.synced}/{args.sockets} synced in {seconds} s")
    try:
        await asyncio.to_thread(h.wait_idle, process.pid, SETTLE_TIMEOUT)
        await asyncio.sleep(args.settle)  # the sockets sit idle; the client answers pings
        result.rss_after_kib = h.rss_kib(process.pid)
        result.dropped_while_idle = sum(1 for s in subscribers if s.closed)
        result.watchers_joined = await asyncio.to_thread(watchers, database)
    finally:
        for subscriber in subscribers:
            subscriber.close()
    if database is not None:
        result.leave_seconds = await wait_for_watchers(
            database, result.watchers_before, args.leave_timeout
        )
        if result.leave_seconds is None:
            result.errors.append(
                f"the watcher counter was not back within {args.leave_timeout:.0f} s"
            )
    if not process.alive():
        result.errors.append("the server exited during the run")
    if worker is not None and not worker.alive():
        result.errors.append("the Celery worker exited during the run")
    return result


async def run_target(args: argparse.Namespace, target: str) -> JoinResult:
    """Start one server (ours on a fresh database, or a baseline), measure it, stop it."""
    result = JoinResult(TARGET_NAMES[target], args.sockets)
    database = h.Database(args.db, args.tmp, redis_url=args.redis_url) if target == "ours" else None
    worker = None
    try:
        if database is not None:
            database.create()
            env = h.server_env(database.env())
            h.migrate(args.python, args.project, env, args.tmp / "migrate.log")
            database.open_monitor()
            if h.worker_wanted(args, database.kind):
                worker = w.start_worker(args.python, args.project, env, args.tmp, database)
            process, port = h.start_server(
                "ours", args.python, h.OURS_APP, args.project, env, args.tmp, "/api/docs"
            )
        elif target == "raw":
            process, port = h.start_server(
                "raw", args.python, h.RAW_APP, h.BENCH_DIR, h.server_env({}), args.tmp
            )
        else:
            process, port = start_websockets_baseline(args)
        try:
            await measure(args, result, process, port, database, worker)
        finally:
            process.stop()
            if worker is not None:
                worker.stop()
    finally:
        if database is not None:
            database.drop()
    return result


def start_websockets_baseline(args: argparse.Namespace) -> tuple[h.Process, int]:
    """fanout.py's raw ``websockets`` server (it answers joins with a sync frame)."""
    command = [
        args.python,
        str(h.BENCH_DIR / "fanout.py"),
        "--role",
        "baseline",
        "--subscribers",
        str(args.sockets),
    ]
    process = h.Process(
        "websockets",
        command,
        h.BENCH_DIR,
        h.server_env({}),
        args.tmp / "websockets.log",
        pipes=True,
    )
    try:
        ready = json.loads(process.read_line(h.START_TIMEOUT))
    except BaseException:
        process.stop()
        raise
    return process, int(ready["port"])


# --- report --------------------------------------------------------------------------------------


def table_rows(results: list[JoinResult]) -> list[tuple[str, list[str], str]]:
    """(metric, one cell per target, ours / raw ASGI) for every line of the table."""

    def pct(values: str, fraction: float) -> list[float | None]:
        return [r.ms(getattr(r, values), fraction) for r in results]

    def mib(values: list[int | None]) -> list[str]:
        return [h.fmt(v / 1024, 1) if v is not None else "-" for v in values]

    lines: list[tuple[str, list[Any], int]] = [
        (
            "sockets synced / failed",
            [f"{r.synced:,} / {r.sockets - r.synced:,}" for r in results],
            0,
        ),
        ("first connect -> last sync, s", [r.total_seconds for r in results], 2),
        ("joins/s", [r.joins_per_second for r in results], 0),
        ("join -> sync p50, ms", pct("join_to_sync", 0.5), 1),
        ("join -> sync p99, ms", pct("join_to_sync", 0.99), 1),
        ("connect -> sync p50, ms", pct("connect_to_sync", 0.5), 1),
        ("connect -> sync p99, ms", pct("connect_to_sync", 0.99), 1),
        ("server CPU during joins, % of one core", [r.server_cpu_percent for r in results], 0),
        ("worker CPU during joins, % of one core", [r.worker_cpu_percent for r in results], 0),
        ("server RSS before, MiB", mib([r.rss_before_kib for r in results]), 0),
        ("server RSS, all subscribed and idle, MiB", mib([r.rss_after_kib for r in results]), 0),
        ("RSS per idle subscribed connection, KiB", [r.rss_per_connection_kib for r in results], 1),
        ("watcher counter before / all joined", [watcher_cell(r) for r in results], 0),
        ("close -> watcher counter back, s", [r.leave_seconds for r in results], 2),
        ("complete", ["yes" if r.complete else "NO" for r in results], 0),
    ]
    rows = []
    for label, values, digits in lines:
        cells = [v if isinstance(v, str) else h.fmt(v, digits) for v in values]
        rows.append((label, cells, ratio_cell(label, values)))
    return rows


RATIO_LINES = {
    "joins/s",
    "join -> sync p50, ms",
    "join -> sync p99, ms",
    "connect -> sync p50, ms",
    "connect -> sync p99, ms",
    "RSS per idle subscribed connection, KiB",
}


def ratio_cell(label: str, values: list[Any]) -> str:
    if label not in RATIO_LINES or len(values) < 2:
        return ""
    return h.fmt(h.ratio(values[0], values[1]), 2)


def watcher_cell(result: JoinResult) -> str:
    if result.watchers_before is None:
        return "-"
    return f"{result.watchers_before} / {h.fmt(result.watchers_joined)}"


def report(args: argparse.Namespace, header: dict[str, Any], results: list[JoinResult]) -> bool:
    print(h.header_line(header))
    print(
        f"database {args.db}{topology(args)}; {args.sockets:,} sockets join todo/todos, "
        f"{args.concurrency} in flight; RSS read {args.settle:g} s after the last sync\n"
    )
    rows = table_rows(results)
    with_ratio = len(results) > 1 and results[1].target == "raw ASGI"
    headers = ["", *(r.target for r in results), *(["ours / raw ASGI"] if with_ratio else [])]
    body = [[label, *cells, *([ratio] if with_ratio else [])] for label, cells, ratio in rows]
    print(h.format_table(headers, body))
    notes = report_notes(args, results)
    for note in notes:
        print(f"note: {note}")
    complete = bool(results) and all(r.complete for r in results)
    ratios = {}
    if with_ratio:
        ours, raw = results[0], results[1]
        ratios = {
            "joins_per_second": h.ratio(ours.joins_per_second, raw.joins_per_second),
            "join_to_sync_p50": h.ratio(
                ours.ms(ours.join_to_sync, 0.5), raw.ms(raw.join_to_sync, 0.5)
            ),
            "join_to_sync_p99": h.ratio(
                ours.ms(ours.join_to_sync, 0.99), raw.ms(raw.join_to_sync, 0.99)
            ),
            "rss_per_connection": h.ratio(ours.rss_per_connection_kib, raw.rss_per_connection_kib),
        }
    document = {
        **header,
        "settings": {
            "db": args.db,
            "worker": h.worker_wanted(args, args.db),
            "sockets": args.sockets,
            "concurrency": args.concurrency,
            "settle": args.settle,
            "timeout": args.timeout,
            "leave_timeout": args.leave_timeout,
        },
        "results": [r.as_dict() for r in results],
        "ratios_ours_to_raw_asgi": ratios,
        "notes": notes,
        "complete": complete,
    }
    h.emit_json(document, args.json, log)
    return complete


def topology(args: argparse.Namespace) -> str:
    if args.db == "sqlite":
        return ""
    worker = "a Celery worker process" if h.worker_wanted(args, args.db) else "no worker"
    return f" and Redis ({args.redis_url}), {worker}"


def report_notes(args: argparse.Namespace, results: list[JoinResult]) -> list[str]:
    notes = []
    for r in results:
        notes += [f"{r.target}: {e}" for e in r.errors]
        if r.failures:
            notes.append(f"{r.target}: {len(r.failures)} sockets failed, e.g. {r.failures[0]}")
        if r.dropped_while_idle:
            notes.append(f"{r.target}: {r.dropped_while_idle} idle sockets closed by the server")
        if r.watchers_before is not None and r.watchers_joined != r.watchers_before + r.synced:
            notes.append(
                f"{r.target}: the watcher counter rose by "
                f"{(r.watchers_joined or 0) - r.watchers_before}, not by {r.synced} sockets"
            )
    return notes + h.log_notes(args.tmp)


# --- main ----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    h.add_common_args(parser, ["sqlite", "postgres"])
    parser.add_argument("--sockets", type=int, default=5000, help="sockets that join")
    parser.add_argument("--concurrency", type=int, default=200, help="sockets joining at a time")
    parser.add_argument("--settle", type=float, default=2.0, help="idle seconds before RSS is read")
    parser.add_argument("--timeout", type=float, default=600.0, help="limit on all the joins, s")
    parser.add_argument(
        "--leave-timeout",
        type=float,
        default=300.0,
        help="limit on the watcher counter's return after the close, s",
    )
    parser.add_argument(
        "--websockets-baseline",
        action="store_true",
        help="also measure a plain websockets server (fanout.py's)",
    )
    parser.add_argument("--no-baseline", action="store_true", help="measure ours only")
    args = parser.parse_args(argv)
    if min(args.sockets, args.concurrency) < 1 or min(args.timeout, args.leave_timeout) <= 0:
        parser.error("--sockets, --concurrency, --timeout and --leave-timeout must be positive")
    args.project = args.project.resolve()
    return args


async def run_all(args: argparse.Namespace) -> list[JoinResult]:
    targets = ["ours", *([] if args.no_baseline else ["raw"])]
    targets += ["websockets"] if args.websockets_baseline else []
    return [await run_target(args, target) for target in targets]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    h.raise_fd_limit(args.sockets * 2 + 512)  # the servers inherit it
    h.install_uvloop()
    return h.run_benchmark(
        "joins",
        args,
        lambda: asyncio.run(run_all(args)),
        lambda header, results: report(args, header, results),
        log,
    )


if __name__ == "__main__":
    sys.exit(main())
