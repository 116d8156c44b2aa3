"""Write -> frame latency: from a paced ``POST /todos`` to its create frame at every subscriber.

N WebSocket subscribers join ``todo``/``todos``; then writes go out open-loop at a fixed rate
(write k is due at t0 + k/rate, and its latencies count from that time, so a server that
falls behind shows it) over a pool of keep-alive HTTP connections. Each subscriber timestamps
the create frame carrying write k's token. The baseline, measured in the same run with the
same client, is a raw ASGI app (bench/rawapp.py) under the same uvicorn command line that
broadcasts a frame of the same shape. On PostgreSQL, a Celery worker process runs the
stream-triggered steps as in production (bench/worker.py), and the report says whether it ran
one for every todo. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import harness as h
import worker as w
from httpclient import HttpConnection, HttpPool, OnResponse
from wsclient import StreamSubscriber, open_subscribers

log = h.make_log("latency")

JOIN_CONCURRENCY = 50
JOIN_TIMEOUT = 120.0  # per subscriber: a slow server still joins them all
SETTLE_TIMEOUT = 30.0  # for the join hooks' work to drain before the writes start
RUNS_TIMEOUT = 60.0  # for the worker to run the last stream-triggered steps after the writes
START_DELAY = 0.2  # between opening the HTTP pool and the first write's due time


@dataclass(frozen=True)
class Scenario:
    subscribers: int
    rate: float  # writes per second

    @property
    def name(self) -> str:
        return f"{self.subscribers}x{self.rate:g}"


def parse_scenarios(text: str) -> list[Scenario]:
    """``"10x200,100x100"`` -> subscribers x writes per second, for argparse ``type=``."""
    scenarios = []
    for part in text.split(","):
        try:
            subscribers, rate = part.lower().split("x")
            scenarios.append(Scenario(int(subscribers), float(rate)))
        except ValueError as error:
            raise argparse.ArgumentTypeError(f"not SUBSCRIBERSxRATE: {part!r}") from error
        if scenarios[-1].subscribers < 1 or scenarios[-1].rate <= 0:
            raise argparse.ArgumentTypeError(f"need positive numbers: {part!r}")
    return scenarios


# --- the client ----------------------------------------------------------------------------------


@dataclass
class Probe:
    """The schedule and what the client saw, shared by the subscribers and the writer."""

    rate: float
    t0: float = float("inf")  # due time of write 0 (monotonic); set when the writes start
    frame_latencies: list[float] = field(default_factory=list)  # seconds
    http_latencies: list[float] = field(default_factory=list)  # seconds, from the due time
    frames: int = 0  # create frames carrying a token of ours
    other_frames: int = 0
    acked: set[int] = field(default_factory=set)
    non_2xx: int = 0
    failed: int = 0  # requests whose connection closed before the answer
    sent: int = 0
    last_answer: float = 0.0

    def due(self, k: int) -> float:
        return self.t0 + k / self.rate


class Subscriber(StreamSubscriber):
    """A subscriber of todo/todos recording write -> frame latency for each token it sees."""

    def __init__(self, probe: Probe, port: int) -> None:
        super().__init__(h.HOST, port, "todo", "todos")
        self.probe = probe
        self.seen: set[int] = set()

    def on_event(
        self, message: dict[str, Any], kind: str | None, size: int, received: float
    ) -> None:
        data = (message.get("event") or {}).get("data") or {}
        description = data.get("description", "") if isinstance(data, dict) else ""
        if kind != "create" or not description.startswith("lat-"):
            self.probe.other_frames += 1
            return
        k = int(description[4:])
        self.seen.add(k)
        self.probe.frames += 1
        self.probe.frame_latencies.append(received - self.probe.due(k))


def request_bytes(port: int, k: int) -> bytes:
    body = b'{"description":"lat-%d"}' % k
    head = (
        f"POST /todos HTTP/1.1\r\nHost: {h.HOST}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def on_response(probe: Probe) -> OnResponse:
    """The pool's callback: HTTP latency from the due time, and the write's status."""

    def record(_: HttpConnection, k: int, status: int) -> None:
        now = time.monotonic()
        probe.last_answer = now
        probe.http_latencies.append(now - probe.due(k))
        if status < 0:
            probe.failed += 1
        elif 200 <= status < 300:
            probe.acked.add(k)
        else:
            probe.non_2xx += 1

    return record


async def send_writes(probe: Probe, pool: HttpPool, port: int, total: int, stop_at: float) -> None:
    """Write k at its due time, or as soon as a connection is free; none after ``stop_at``."""
    for k in range(total):
        delay = probe.due(k) - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        try:
            connection = await asyncio.wait_for(pool.acquire(), stop_at - time.monotonic())
        except TimeoutError:
            return  # past stop_at: the rest stay unsent
        except OSError as error:
            log(f"reconnecting failed: {error}")
            probe.failed += 1
            continue
        pool.send(connection, request_bytes(port, k), k)
        probe.sent += 1


async def wait_until(condition: Any, timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(step)
    return True


# --- one measurement -----------------------------------------------------------------------------


@dataclass
class Result:
    target: str
    scenario: Scenario
    duration: float
    joined: int = 0
    join_errors: list[str] = field(default_factory=list)
    scheduled: int = 0
    probe: Probe | None = None
    received: int = 0  # (write, subscriber) pairs of acknowledged writes that arrived
    dropped_sockets: int = 0
    window: float | None = None  # t0 -> the last answer (at least the scheduled duration)
    server_cpu_percent: float | None = None
    worker_cpu_percent: float | None = None  # the Celery worker process and its pool
    client_cpu_percent: float | None = None
    machine_cpu_percent: float | None = None
    step_runs: w.StepRuns | None = None  # what the worker ran (PostgreSQL with a worker)
    reconnects: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def acked(self) -> int:
        return len(self.probe.acked) if self.probe else 0

    @property
    def expected(self) -> int:
        return self.acked * self.joined

    @property
    def lost(self) -> int:
        return max(0, self.expected - self.received)

    @property
    def unsent(self) -> int:
        return self.scheduled - (self.probe.sent if self.probe else 0)

    @property
    def writes_per_second(self) -> float | None:
        return self.acked / self.window if self.window else None

    @property
    def frame_ms(self) -> tuple[float | None, float | None, float | None]:
        """Write -> frame p50, p99, max in ms over every (write, subscriber) pair."""
        return latency_ms(self.probe.frame_latencies if self.probe else [])

    @property
    def http_ms(self) -> tuple[float | None, float | None, float | None]:
        """Due time -> HTTP answer p50, p99, max in ms."""
        return latency_ms(self.probe.http_latencies if self.probe else [])

    @property
    def complete(self) -> bool:
        return (
            not self.errors
            and self.joined == self.scenario.subscribers
            and self.acked > 0
            and self.dropped_sockets == 0
            and (self.step_runs is None or self.step_runs.complete)
        )

    def as_dict(self) -> dict[str, Any]:
        probe = self.probe or Probe(self.scenario.rate)
        return {
            "target": self.target,
            "scenario": self.scenario.name,
            "subscribers": self.scenario.subscribers,
            "rate": self.scenario.rate,
            "duration": self.duration,
            "subscribers_joined": self.joined,
            "join_errors": self.join_errors[:5],
            "writes_scheduled": self.scheduled,
            "writes_sent": probe.sent,
            "writes_unsent": self.unsent,
            "writes_acknowledged": self.acked,
            "writes_non_2xx": probe.non_2xx,
            "writes_failed": probe.failed,
            "writes_per_second": self.writes_per_second,
            "window_seconds": self.window,
            "frames_expected": self.expected,
            "frames_received": self.received,
            "frames_lost": self.lost,
            "frames_other": probe.other_frames,
            "frame_latency_ms": dict(zip(("p50", "p99", "max"), self.frame_ms, strict=True)),
            "http_latency_ms": dict(zip(("p50", "p99", "max"), self.http_ms, strict=True)),
            "dropped_sockets": self.dropped_sockets,
            "http_reconnects": self.reconnects,
            "server_cpu_percent": self.server_cpu_percent,
            "worker_cpu_percent": self.worker_cpu_percent,
            "step_runs": None if self.step_runs is None else self.step_runs.as_dict(),
            "client_cpu_percent": self.client_cpu_percent,
            "machine_cpu_percent": self.machine_cpu_percent,
            "complete": self.complete,
            "errors": self.errors,
        }


def latency_ms(seconds: list[float]) -> tuple[float | None, float | None, float | None]:
    """p50, p99 and max of latencies in seconds, in ms."""
    p50, p99 = h.percentile(seconds, 0.50), h.percentile(seconds, 0.99)
    top = max(seconds, default=None)
    return tuple(None if v is None else 1000.0 * v for v in (p50, p99, top))  # type: ignore[return-value]


async def measure(
    args: argparse.Namespace, result: Result, port: int, pid: int, worker: int | None
) -> Result:
    """Join the subscribers, run the paced writes, collect the frames (``worker``: the pid of
    the Celery worker, whose CPU is read too)."""
    scenario = result.scenario
    probe = result.probe = Probe(scenario.rate)
    subscribers, result.join_errors = await open_subscribers(
        lambda: Subscriber(probe, port),
        h.HOST,
        port,
        scenario.subscribers,
        JOIN_CONCURRENCY,
        JOIN_TIMEOUT,
        JOIN_TIMEOUT * 2,
    )
    result.joined = len(subscribers)
    log(f"{result.target} {scenario.name}: {result.joined}/{scenario.subscribers} joined")
    if not subscribers:
        result.errors.append(f"no subscriber joined: {result.join_errors[:2]}")
        return result
    await asyncio.to_thread(h.wait_idle, pid, SETTLE_TIMEOUT)
    pool = HttpPool(h.HOST, port, args.connections, on_response(probe))
    try:
        await pool.open(timeout=30)
        await run_writes(args, result, probe, pool, port, pid, worker)
    finally:
        pool.close()
        result.dropped_sockets = sum(1 for s in subscribers if s.closed)
        for subscriber in subscribers:
            subscriber.close()
    result.received = sum(len(s.seen & probe.acked) for s in subscribers)
    result.reconnects = pool.reconnects
    return result


async def run_writes(
    args: argparse.Namespace,
    result: Result,
    probe: Probe,
    pool: HttpPool,
    port: int,
    pid: int,
    worker: int | None,
) -> None:
    """The paced writes, their answers and their frames, with the CPU used meanwhile."""
    result.scheduled = round(result.scenario.rate * result.duration)
    window = h.CpuWindow(pid).start()
    worker_window = None if worker is None else w.TreeCpu(worker).start()
    cpu0 = time.process_time()
    probe.t0 = time.monotonic() + START_DELAY
    stop_at = probe.t0 + result.duration + args.drain
    await send_writes(probe, pool, port, result.scheduled, stop_at)
    if not await wait_until(lambda: pool.in_flight == 0, max(5.0, stop_at - time.monotonic())):
        result.errors.append(f"{pool.in_flight} writes still unanswered at the time limit")
    subscribers = result.joined
    await wait_until(lambda: probe.frames >= len(probe.acked) * subscribers, args.grace)
    window.stop()
    if worker_window is not None:
        result.worker_cpu_percent = worker_window.stop().percent
    result.server_cpu_percent, result.machine_cpu_percent = (
        window.process_percent,
        window.machine_percent,
    )
    wall = time.monotonic() - window.wall0
    result.client_cpu_percent = 100.0 * (time.process_time() - cpu0) / wall
    result.window = max(result.duration, probe.last_answer - probe.t0)


async def run_target(args: argparse.Namespace, target: str, scenario: Scenario) -> Result:
    """One scenario against ours (on a fresh database) or the raw baseline."""
    result = Result(target, scenario, args.duration)
    database = None
    if target == "ours":
        database = h.Database(args.db, args.tmp, redis_url=args.redis_url)
    worker = None
    try:
        if database is not None:
            database.create()
            env = h.server_env(database.env())
            h.migrate(args.python, args.project, env, args.tmp / f"migrate-{scenario.name}.log")
            database.open_monitor()
            if h.worker_wanted(args, database.kind):
                worker = w.start_worker(args.python, args.project, env, args.tmp, database)
            app, cwd, probe_path = h.OURS_APP, args.project, "/api/docs"
        else:
            env, app, cwd, probe_path = h.server_env({}), h.RAW_APP, h.BENCH_DIR, "/"
        name = f"{target}-{scenario.name}"
        process, port = h.start_server(name, args.python, app, cwd, env, args.tmp, probe_path)
        try:
            await measure(args, result, port, process.pid, worker and worker.pid)
            if not process.alive():
                result.errors.append(f"{name} exited during the run")
            if database is not None and worker is not None:
                result.step_runs = await asyncio.to_thread(
                    w.wait_for_runs, database, w.todos_created(database), RUNS_TIMEOUT
                )
                if not worker.alive():
                    result.errors.append("the Celery worker exited during the run")
                log(f"{target} {scenario.name}: {result.step_runs.summary()}")
        finally:
            process.stop()
            if worker is not None:
                worker.stop()
    finally:
        if database is not None:
            database.drop()
    p50, p99, _ = result.frame_ms
    log(
        f"{target} {scenario.name}: {h.fmt(result.writes_per_second, 1)} writes/s, frame p50/p99 "
        f"{h.fmt_pair(p50, p99)} ms, {result.lost} frames lost"
    )
    return result


# --- report --------------------------------------------------------------------------------------

HEADERS = [
    "scenario",
    "target",
    "joined",
    "writes sent / 2xx",
    "unsent",
    "writes/s",
    "frame p50 / p99 / max ms",
    "frames lost",
    "non-2xx",
    "failed",
    "HTTP p50 / p99 ms",
    "srv CPU %",
    "worker CPU %",
    "step runs",
    "client CPU %",
    "complete",
]


def row(result: Result) -> list[str]:
    probe = result.probe or Probe(result.scenario.rate)
    http_p50, http_p99, _ = result.http_ms
    return [
        result.scenario.name,
        result.target,
        f"{result.joined}/{result.scenario.subscribers}",
        f"{probe.sent:,} / {result.acked:,}",
        f"{result.unsent:,}",
        h.fmt(result.writes_per_second, 1),
        " / ".join(h.fmt(v, 1) for v in result.frame_ms),
        f"{result.lost:,}",
        f"{probe.non_2xx:,}",
        f"{probe.failed:,}",
        h.fmt_pair(http_p50, http_p99),
        h.fmt(result.server_cpu_percent),
        h.fmt(result.worker_cpu_percent),
        step_runs_cell(result.step_runs),
        h.fmt(result.client_cpu_percent),
        "yes" if result.complete else "NO",
    ]


def step_runs_cell(runs: w.StepRuns | None) -> str:
    """Succeeded stream-triggered runs / todos created (``-`` with no worker process)."""
    return "-" if runs is None else f"{runs.succeeded:,} / {runs.expected:,}"


def ratios(ours: Result, base: Result) -> dict[str, float | None]:
    """Ours / baseline for the latency percentiles and the sustained write rate."""
    (f50, f99, _), (g50, g99, _) = ours.frame_ms, base.frame_ms
    (t50, t99, _), (u50, u99, _) = ours.http_ms, base.http_ms
    return {
        "frame_p50": h.ratio(f50, g50),
        "frame_p99": h.ratio(f99, g99),
        "http_p50": h.ratio(t50, u50),
        "http_p99": h.ratio(t99, u99),
        "writes_per_second": h.ratio(ours.writes_per_second, base.writes_per_second),
    }


def report(
    args: argparse.Namespace, header: dict[str, Any], pairs: list[tuple[Result, Result | None]]
) -> bool:
    results = [r for pair in pairs for r in pair if r is not None]
    print(h.header_line(header))
    print(
        f"database {args.db}{topology(args)}; {args.duration:g} s of paced POST /todos per "
        f"scenario over {args.connections} keep-alive connections; latencies from each write's "
        "due time\n"
    )
    print(h.format_table(HEADERS, [row(r) for r in results], text_columns=2))
    ratio_rows = []
    for ours, base in pairs:
        if base is not None:
            r = ratios(ours, base)
            ratio_rows.append([ours.scenario.name, *(h.fmt(r[k], 2) for k in r)])
    if ratio_rows:
        print("\nratios ours / raw ASGI baseline\n")
        print(
            h.format_table(
                ["scenario", "frame p50", "frame p99", "HTTP p50", "HTTP p99", "writes/s"],
                ratio_rows,
            )
        )
    notes = report_notes(args, results)
    for note in notes:
        print(f"note: {note}")
    complete = bool(results) and all(r.complete for r in results)
    document = {
        **header,
        "settings": {
            "db": args.db,
            "worker": h.worker_wanted(args, args.db),
            "scenarios": [s.name for s in args.scenarios],
            "duration": args.duration,
            "connections": args.connections,
            "drain": args.drain,
            "grace": args.grace,
        },
        "results": [
            {
                "scenario": ours.scenario.name,
                "ours": ours.as_dict(),
                "baseline": None if base is None else base.as_dict(),
                "ratios": None if base is None else ratios(ours, base),
            }
            for ours, base in pairs
        ],
        "notes": notes,
        "complete": complete,
    }
    h.emit_json(document, args.json, log)
    return complete


def topology(args: argparse.Namespace) -> str:
    """How the stream-triggered steps ran, for the report's header."""
    if args.db == "sqlite":
        return " (embedded: the server runs the steps)"
    if h.worker_wanted(args, args.db):
        return f" and Redis ({args.redis_url}), a Celery worker process runs the steps"
    return f" and Redis ({args.redis_url}), no worker: stream-triggered steps only enqueued"


def report_notes(args: argparse.Namespace, results: list[Result]) -> list[str]:
    notes = []
    for r in results:
        label = f"{r.target} {r.scenario.name}"
        notes += [f"{label}: {e}" for e in r.errors]
        if r.join_errors:
            notes.append(
                f"{label}: {len(r.join_errors)} subscribers failed to join, e.g. {r.join_errors[0]}"
            )
        if r.unsent:
            notes.append(
                f"{label}: {r.unsent} writes never sent (the server fell behind the schedule)"
            )
        if r.lost:
            notes.append(f"{label}: {r.lost} frames of acknowledged writes never arrived")
        if r.dropped_sockets:
            notes.append(f"{label}: {r.dropped_sockets} subscriber sockets closed by the server")
        if r.step_runs is not None:
            notes.append(f"{label}: worker: {r.step_runs.summary()}")
    return notes + h.log_notes(args.tmp)


# --- main ----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    h.add_common_args(parser, ["sqlite", "postgres"])
    parser.add_argument(
        "--scenarios",
        type=parse_scenarios,
        default=parse_scenarios("10x200,100x100"),
        help="SUBSCRIBERSxWRITES_PER_SECOND, comma-separated (default 10x200,100x100)",
    )
    parser.add_argument(
        "--duration", type=float, default=30.0, help="seconds of writes per scenario"
    )
    parser.add_argument("--connections", type=int, default=32, help="keep-alive HTTP connections")
    parser.add_argument(
        "--drain",
        type=float,
        default=None,
        help="seconds after the schedule that late writes may still be sent (default: --duration)",
    )
    parser.add_argument(
        "--grace", type=float, default=5.0, help="seconds to wait for the last frames"
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the raw ASGI baseline")
    args = parser.parse_args(argv)
    if args.duration <= 0 or args.connections < 1:
        parser.error("--duration and --connections must be positive")
    args.drain = args.duration if args.drain is None else args.drain
    args.project = args.project.resolve()
    return args


async def run_all(args: argparse.Namespace) -> list[tuple[Result, Result | None]]:
    """Each scenario on ours, then right away on the baseline (the same machine state)."""
    pairs = []
    for scenario in args.scenarios:
        ours = await run_target(args, "ours", scenario)
        base = None if args.no_baseline else await run_target(args, "raw", scenario)
        pairs.append((ours, base))
    return pairs


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    h.raise_fd_limit(max(s.subscribers for s in args.scenarios) * 2 + args.connections + 256)
    h.install_uvloop()
    return h.run_benchmark(
        "latency",
        args,
        lambda: asyncio.run(run_all(args)),
        lambda header, pairs: report(args, header, pairs),
        log,
    )


if __name__ == "__main__":
    sys.exit(main())
