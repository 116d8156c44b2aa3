"""Scale-out: N server processes on PostgreSQL and Redis, one group's subscribers spread over them.

For each N (1, 2, 3, 4 by default): a fresh PostgreSQL database, one Celery worker and N uvicorn
servers under the production command line, all on Redis (the channels-redis pub/sub layer, as
production). The subscribers of ``todo``/``todos`` (1,000 in all) are spread evenly over the
servers, from one client process; ``POST /todos`` goes round-robin to the servers; every
event reaches every server through Redis (one layer message per event per process) and each
server writes it to its own sockets. It reports per N the frames/s delivered in all, the write
-> frame latency, each server's CPU, the worker's and Redis's, and the ratio to N=1; then
fanout.py's raw ``websockets`` broadcast to the same subscribers, the floor, in the same run.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fanout
import harness as h
import httpx
import worker as w

log = h.make_log("scaleout")

RUNS_TIMEOUT = 60.0  # for the worker to run the last stream-triggered steps
CLIENT_START_TIMEOUT = 30.0


# --- the client role: fanout.py's client, with write -> frame latency ---------------------------


class StampedSubscriber(fanout.Subscriber):
    """fanout.py's subscriber, whose frame latency starts when the write was sent (or due,
    when paced): the writer puts that time in the todo's description, ``scale-<k>-<ms>``."""

    def sent_ms(self, message: dict[str, Any]) -> float:
        description = str(message["event"]["data"]["description"])
        return float(description.rsplit("-", 1)[1])


def description(k: int, sent_ms: float) -> str:
    return f"scale-{k}-{sent_ms:.3f}"


# --- one N ---------------------------------------------------------------------------------------


@dataclass
class Step:
    """The figures of one N (server processes)."""

    servers: int
    subscribers: int
    events: int
    connected: int = 0
    join_seconds: float | None = None
    created: int = 0
    write_seconds: float = 0.0
    start_wall: float = 0.0
    result: dict[str, Any] = field(default_factory=dict)  # the client's report
    http_ms: list[float] = field(default_factory=list)  # each write's send (or due) -> answer
    server_cpu: list[float | None] = field(default_factory=list)  # % of one core, each
    worker_cpu: float | None = None
    redis_cpu: float | None = None
    machine_cpu: float | None = None
    step_runs: w.StepRuns | None = None
    lock_waits: list[int] = field(default_factory=list)  # sampled during the writes, see lock_waits
    errors: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"ours, N={self.servers}"

    @property
    def expected(self) -> int:
        return self.connected * self.created

    @property
    def received(self) -> int:
        return int(self.result.get("creates", 0))

    @property
    def window(self) -> float | None:
        """Seconds from the first write to the last frame received."""
        last = self.result.get("last_ms")
        return None if last is None else last / 1000.0 - self.start_wall

    @property
    def frames_per_second(self) -> float | None:
        return self.received / self.window if self.window else None

    @property
    def events_per_second(self) -> float | None:
        return self.created / self.write_seconds if self.write_seconds else None

    @property
    def lock_waits_mean(self) -> float | None:
        return sum(self.lock_waits) / len(self.lock_waits) if self.lock_waits else None

    @property
    def http_p50(self) -> float | None:
        return h.percentile(self.http_ms, 0.50)

    @property
    def http_p99(self) -> float | None:
        return h.percentile(self.http_ms, 0.99)

    @property
    def client_cpu(self) -> float | None:
        cpu, wall = self.result.get("cpu_seconds"), self.result.get("wall_seconds")
        return 100.0 * cpu / wall if cpu is not None and wall else None

    @property
    def complete(self) -> bool:
        return (
            not self.errors
            and self.connected == self.subscribers
            and self.created == self.events
            and self.received >= self.expected > 0
            and (self.step_runs is None or self.step_runs.complete)
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "servers": self.servers,
            "subscribers": self.subscribers,
            "subscribers_joined": self.connected,
            "join_seconds": self.join_seconds,
            "events": self.events,
            "events_written": self.created,
            "events_per_second": self.events_per_second,
            "frames_expected": self.expected,
            "frames_received": self.received,
            "frames_lost": max(0, self.expected - self.received),
            "window_seconds": self.window,
            "frames_per_second": self.frames_per_second,
            "latency_p50_ms": self.result.get("latency_p50_ms"),
            "latency_p99_ms": self.result.get("latency_p99_ms"),
            "latency_max_ms": self.result.get("latency_max_ms"),
            "http_latency_ms": {"p50": self.http_p50, "p99": self.http_p99},
            "frame_bytes": self.result.get("frame_bytes"),
            "server_cpu_percent": self.server_cpu,
            "worker_cpu_percent": self.worker_cpu,
            "redis_cpu_percent": self.redis_cpu,
            "client_cpu_percent": self.client_cpu,
            "machine_cpu_percent": self.machine_cpu,
            "step_runs": None if self.step_runs is None else self.step_runs.as_dict(),
            "lock_waits_max": max(self.lock_waits, default=None),
            "lock_waits_mean": self.lock_waits_mean,
            "complete": self.complete,
            "errors": self.errors,
        }


def lock_waits(database: h.Database) -> int:
    """PostgreSQL backends of the run's database waiting on a lock (writes to one group wait
    for each other on its row)."""
    query = "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'"
    row = database.admin.execute(query, (database.name,)).fetchone()
    return int(row[0])


def redis_pid(url: str) -> int | None:
    """redis-server's pid, when it runs on this machine (its CPU is then in /proc)."""
    import redis

    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        pid = int(client.info("server")["process_id"])
    finally:
        client.close()
    with contextlib.suppress(OSError):
        if "redis" in Path(f"/proc/{pid}/comm").read_text():
            return pid
    return None


async def post_todos(
    args: argparse.Namespace, ports: list[int], step: Step, failures: list[str]
) -> None:
    """``--events`` todos, request k to server k mod N; ``--writers`` at a time, as fast as
    they are answered, or each at its due time with ``--rate``."""
    numbers = iter(range(args.events))
    started = time.monotonic()
    deadline = started + args.timeout

    async def writer(client: httpx.AsyncClient) -> None:
        for k in numbers:
            if args.rate:
                delay = started + k / args.rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                sent_ms = (step.start_wall + k / args.rate) * 1000.0  # from its due time
            else:
                sent_ms = time.time() * 1000.0
            if time.monotonic() > deadline:
                return
            url = f"http://{h.HOST}:{ports[k % len(ports)]}/todos"
            try:
                response = await client.post(url, json={"description": description(k, sent_ms)})
            except httpx.HTTPError as error:
                failures.append(f"POST /todos: {type(error).__name__}: {error}")
                continue
            finally:
                step.http_ms.append(time.time() * 1000.0 - sent_ms)
            if response.status_code == 201:
                step.created += 1
            else:
                failures.append(f"POST /todos: {response.status_code} {response.text[:100]}")

    limits = httpx.Limits(max_connections=args.writers)
    async with httpx.AsyncClient(timeout=10.0, limits=limits) as client:
        await asyncio.gather(*(writer(client) for _ in range(args.writers)))
    step.write_seconds = time.monotonic() - started


async def measure_step(args: argparse.Namespace, servers: int) -> Step:
    """N servers and one worker on a fresh database: join, write, count, clean up."""
    step = Step(servers, args.subscribers, args.events)
    database = h.Database("postgres", args.tmp, redis_url=args.redis_url).create()
    started: list[h.Process] = []
    try:
        env = h.server_env(database.env())
        h.migrate(args.python, args.project, env, args.tmp / f"migrate-{servers}.log")
        database.open_monitor()
        worker = w.start_worker(args.python, args.project, env, args.tmp, database)
        started.append(worker)
        ports = []
        for index in range(servers):
            name = f"ours-{servers}-{index + 1}"
            process, port = h.start_server(
                name, args.python, h.OURS_APP, args.project, env, args.tmp, "/api/docs"
            )
            started.append(process)
            ports.append(port)
        log(f"N={servers}: serving on ports {ports}, worker pid {worker.pid}")
        await run_clients(args, step, ports, [p.pid for p in started[1:]], worker.pid, database)
        step.step_runs = await asyncio.to_thread(
            w.wait_for_runs, database, w.todos_created(database), RUNS_TIMEOUT
        )
        step.errors += [f"{p.name} exited during the run" for p in started if not p.alive()]
        log(f"N={servers}: {step.step_runs.summary()}")
    finally:
        for process in reversed(started):
            process.stop()
        database.drop()
    log(
        f"N={servers}: {h.fmt(step.frames_per_second)} frames/s, p50/p99 "
        f"{h.fmt_pair(step.result.get('latency_p50_ms'), step.result.get('latency_p99_ms'))} ms"
    )
    return step


async def run_clients(
    args: argparse.Namespace,
    step: Step,
    ports: list[int],
    pids: list[int],
    worker: int,
    database: h.Database,
) -> None:
    """The subscribers (a client process) and the writes, with every process's CPU and the
    database's lock waits meanwhile."""
    client = await fanout.Helper.start(
        [
            *("--role", "client", "--ports", ",".join(map(str, ports))),
            *("--subscribers", str(args.subscribers), "--events", str(args.events)),
            *("--timeout", str(args.timeout)),
        ],
        args.tmp / f"client-{step.servers}.log",
        script=Path(__file__),
    )
    try:
        await fanout.join_subscribers(client, step, args.timeout * 2 + 10)  # type: ignore[arg-type]
        for pid in pids:  # the join hooks' writes done
            await asyncio.to_thread(h.wait_idle, pid, 30.0)
        windows = [h.CpuWindow(pid).start() for pid in pids]
        worker_window = w.TreeCpu(worker).start()
        redis = redis_pid(args.redis_url)
        redis_window = None if redis is None else h.CpuWindow(redis).start()
        with h.Sampler(lambda: lock_waits(database), interval=0.1) as waits:
            await client.send({"go": True})
            step.start_wall = time.time()
            failures: list[str] = []
            await post_todos(args, ports, step, failures)
            if failures:
                step.errors.append(f"{len(failures)} writes failed, e.g. {failures[0]}")
            await client.send({"expect": step.created})
            step.result = await client.read(args.timeout + 30)
        step.lock_waits = waits.values
        step.server_cpu = [window.stop().process_percent for window in windows]
        step.machine_cpu = windows[0].machine_percent
        step.worker_cpu = worker_window.stop().percent
        step.redis_cpu = None if redis_window is None else redis_window.stop().process_percent
        fanout.take_result(step, step.result)  # type: ignore[arg-type]
    finally:
        await client.stop()


# --- the floor -----------------------------------------------------------------------------------


async def measure_floor(args: argparse.Namespace, frame_bytes: int) -> fanout.Measurement:
    """fanout.py's raw ``websockets`` broadcast (all events at once, best of ``--repeats``) to
    the same number of subscribers, frames of the same size."""
    floor_args = argparse.Namespace(
        subscribers=args.subscribers,
        events=args.events,
        timeout=args.timeout,
        repeats=args.repeats,
        profile=None,
    )
    return await fanout.best_burst_baseline(floor_args, args.tmp, frame_bytes)


# --- report --------------------------------------------------------------------------------------

HEADERS = [
    "N",
    "subs/server",
    "joined",
    "events / events/s",
    "frames received",
    "frames/s",
    "x N=1",
    "/ floor",
    "p50 / p99 ms",
    "HTTP p50 / p99 ms",
    "server CPU % each",
    "worker CPU %",
    "Redis CPU %",
    "client CPU %",
    "machine %",
    "step runs",
    "lock waits mean / max",
    "complete",
]


def step_row(step: Step, first: Step | None, floor: fanout.Measurement | None) -> list[str]:
    share = step.subscribers / step.servers
    runs = step.step_runs
    return [
        str(step.servers),
        h.fmt(share),
        f"{step.connected:,}/{step.subscribers:,}",
        f"{step.created:,} / {h.fmt(step.events_per_second, 1)}",
        f"{step.received:,}/{step.expected:,}",
        h.fmt(step.frames_per_second),
        h.fmt(h.ratio(step.frames_per_second, first and first.frames_per_second), 2),
        h.fmt(h.ratio(step.frames_per_second, floor and floor.frames_per_second), 2),
        h.fmt_pair(step.result.get("latency_p50_ms"), step.result.get("latency_p99_ms")),
        h.fmt_pair(step.http_p50, step.http_p99),
        " / ".join(h.fmt(c) for c in step.server_cpu) or "-",
        h.fmt(step.worker_cpu),
        h.fmt(step.redis_cpu),
        h.fmt(step.client_cpu),
        h.fmt(step.machine_cpu),
        "-" if runs is None else f"{runs.succeeded:,}/{runs.expected:,}",
        f"{h.fmt(step.lock_waits_mean, 2)} / {h.fmt(max(step.lock_waits, default=None))}",
        "yes" if step.complete else "NO",
    ]


def floor_row(floor: fanout.Measurement) -> list[str]:
    result = floor.result
    return [
        "raw ws",
        "-",
        f"{floor.connected:,}/{floor.subscribers:,}",
        f"{floor.events_ok:,} / -",
        f"{floor.received:,}/{floor.expected:,}",
        h.fmt(floor.frames_per_second),
        "-",
        "1.00",
        h.fmt_pair(result.get("latency_p50_ms"), result.get("latency_p99_ms")),
        "-",
        fanout.cpu_percent(floor.server_cpu_seconds, floor.server_cpu_wall).rstrip("%"),
        "-",
        "-",
        fanout.cpu_percent(result.get("cpu_seconds"), result.get("wall_seconds")).rstrip("%"),
        h.fmt(floor.machine_busy and 100 * floor.machine_busy),
        "-",
        "-",
        "yes" if floor.complete else "NO",
    ]


def report(
    args: argparse.Namespace,
    header: dict[str, Any],
    outcome: tuple[list[Step], fanout.Measurement | None],
) -> bool:
    steps, floor = outcome
    first = next((s for s in steps if s.servers == 1), None)
    print(h.header_line(header))
    feed = (
        f"paced at {args.rate:g}/s"
        if args.rate
        else f"as fast as answered, {args.writers} at a time"
    )
    print(
        f"PostgreSQL and Redis ({args.redis_url}), one Celery worker; {args.subscribers:,} "
        f"subscribers of todo/todos spread evenly over N uvicorn servers; {args.events} POST "
        f"/todos round-robin to the servers, {feed}; latency from each write's "
        f"{'due' if args.rate else 'send'} time to its frame\n"
    )
    rows = [step_row(s, first, floor) for s in steps]
    if floor is not None:
        rows.append(floor_row(floor))
    print(h.format_table(HEADERS, rows))
    notes = [f"N={s.servers}: {e}" for s in steps for e in s.errors]
    notes += [f"N={s.servers}: worker: {s.step_runs.summary()}" for s in steps if s.step_runs]
    if floor is not None:
        notes.append(f"raw ws: events fed {floor.rate_note}")
        notes += [f"raw ws: {e}" for e in floor.errors]
    notes += h.log_notes(args.tmp)
    for note in notes:
        print(f"note: {note}")
    complete = bool(steps) and all(s.complete for s in steps)
    complete = complete and (floor is None or floor.complete)
    document = {
        **header,
        "settings": {
            "servers": args.servers,
            "subscribers": args.subscribers,
            "events": args.events,
            "writers": args.writers,
            "rate": args.rate,
            "timeout": args.timeout,
            "repeats": args.repeats,
            "redis_url": args.redis_url,
        },
        "results": [
            {
                **s.as_dict(),
                "ratio_to_one_server": h.ratio(
                    s.frames_per_second, first and first.frames_per_second
                ),
                "ratio_to_floor": h.ratio(s.frames_per_second, floor and floor.frames_per_second),
            }
            for s in steps
        ],
        "floor": None if floor is None else fanout.measurement_json(floor),
        "notes": notes,
        "complete": complete,
    }
    h.emit_json(document, args.json, log)
    return complete


# --- main ----------------------------------------------------------------------------------------


async def run_all(args: argparse.Namespace) -> tuple[list[Step], fanout.Measurement | None]:
    """Every N in turn, then the floor with the frame size ours sent."""
    steps = [await measure_step(args, n) for n in args.servers]
    if args.no_floor:
        return steps, None
    frame_bytes = next(
        (int(s.result["frame_bytes"]) for s in steps if s.result.get("frame_bytes")), 256
    )
    return steps, await measure_floor(args, frame_bytes)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    h.add_common_args(parser, ["postgres"])
    parser.add_argument(
        "--servers", type=h.parse_int_list, default=[1, 2, 3, 4], help="Ns to run (1,2,3,4)"
    )
    parser.add_argument(
        "--subscribers", type=int, default=1000, help="subscribers in all, spread evenly (1000)"
    )
    parser.add_argument("--events", type=int, default=200, help="todos created per N (200)")
    parser.add_argument("--writers", type=int, default=4, help="concurrent HTTP writers (4)")
    parser.add_argument(
        "--rate", type=float, default=None, help="pace the writes at this many per second"
    )
    parser.add_argument("--timeout", type=float, default=60.0, help="delivery timeout, s (60)")
    parser.add_argument(
        "--repeats", type=int, default=3, help="runs of the raw floor; the best counts (3)"
    )
    parser.add_argument("--no-floor", action="store_true", help="skip the raw websockets floor")
    # Internal: the client role (fanout.py's client_main with StampedSubscriber).
    parser.add_argument(
        "--role", choices=["main", "client"], default="main", help=argparse.SUPPRESS
    )
    parser.add_argument("--ports", type=h.parse_int_list, default=[], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if min(args.subscribers, args.events, args.writers, args.timeout, args.repeats) <= 0:
        parser.error("--subscribers, --events, --writers, --timeout, --repeats must be positive")
    if args.role == "main" and (not args.servers or min(args.servers) < 1):
        parser.error("--servers needs numbers of at least 1")
    args.project = args.project.resolve()
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    h.raise_fd_limit(args.subscribers * 2 + 256)
    if args.role == "client":
        h.install_uvloop()
        return asyncio.run(fanout.client_main(args, StampedSubscriber))
    return h.run_benchmark(
        "scaleout",
        args,
        lambda: asyncio.run(run_all(args)),
        lambda header, outcome: report(args, header, outcome),
        log,
    )


if __name__ == "__main__":
    sys.exit(main())
