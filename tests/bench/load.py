"""Sustained inbound-SMS load on two web replicas and a worker, on PostgreSQL (issue 6).

    .venv/bin/python tests/bench/load.py [--seconds 600] [--connections 64]
        [--reference-seconds 60] [--postgres-url URL]

Two `recoop serve --role web` replicas and one `recoop serve --role worker` share a
fresh database (`recoop db upgrade` first). wrk, in processes of its own, sends
signed Twilio inbound-SMS posts (the traffic of tests/bench/webhook.py: JOIN first,
then PICKUP, BAL, CANCEL, HELP, LANG, STOP/START and small talk from many numbers,
2% sent twice) over `--connections` keep-alive connections, half to each replica: a
bounded, closed-loop load. After a warm-up it measures for `--seconds` and prints:

- throughput (requests/s, and the slowest and fastest 30 s window, from the
  replicas' own request counters), p50/p99/p99.9 latency (the two wrk
  distributions merged), errors (non-2xx and socket errors) and the error rate;
- each process' resident memory (VmRSS from /proc) over time: start, end, peak,
  growth and the slope over the second half;
- CPU used by the replicas, the worker, wrk, PostgreSQL and everything else;
- a check that the database holds one inbound row per distinct MessageSid sent.

Then it runs the same load for `--reference-seconds` against two replicas of a
minimal server (signature check + one raw asyncpg insert, webhook.py's
"minimal-asyncpg") and prints the ratio. Issue 6's target: >= 1,500 requests/s
sustained with p99 < 250 ms, 0 errors and flat memory on this 2-core machine.
Exit status 0 only when it is met.
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import webhook as wb  # noqa: E402  (tests/bench/webhook.py: traffic, servers, databases)

SMS_PATH = wb.SMS_PATH
PUBLIC_BASE_URL = (
    "https://recoop.example.org"  # what every replica checks signatures against
)
TARGET_RPS, TARGET_P99_MS = 1_500.0, 250.0
WARMUP_S = 5.0
WINDOW_S = 30.0

# webhook.py's wrk script (thread t of n sends lines t-1, t-1+n, ... of its file,
# after the ones its warm-up sent, and prints what each thread sent), with the latency
# distribution at 0.1% steps and the error counters added to its `done`.
LUA = (
    wb.WRK_LUA.removesuffix("end\n")
    + r"""  for p = 1, 999 do
    io.write(string.format("BENCH_PCT %.1f %d\n", p / 10, latency:percentile(p / 10)))
  end
  io.write(string.format("BENCH_PCT 99.99 %d\n", latency:percentile(99.99)))
  io.write(string.format("BENCH_PCT 100.0 %d\n", latency.max))
  local e = summary.errors
  io.write(string.format("BENCH_SUMMARY %d %d %d %d %d %d %d\n", summary.requests,
    summary.duration, e.connect, e.read, e.write, e.status, e.timeout))
end
"""
)


# --- one wrk process per replica ----------------------------------------------------


@dataclass
class WrkRun:
    """What one wrk process reported."""

    requests: int = 0
    duration_s: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)
    sent_per_thread: dict[int, int] = field(default_factory=dict)
    wrapped: bool = False
    percentiles: list[tuple[float, float]] = field(default_factory=list)  # (%, ms)
    raw: str = ""

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


def parse(text: str) -> WrkRun:
    run = WrkRun(raw=text)
    for tid, sent, wrapped in re.findall(
        r"^BENCH_THREAD (\d+) (\d+) (\d+)$", text, re.M
    ):
        run.sent_per_thread[int(tid)] = int(sent)
        run.wrapped |= wrapped == "1"
    for pct, micros in re.findall(r"^BENCH_PCT ([\d.]+) (\d+)$", text, re.M):
        run.percentiles.append((float(pct), int(micros) / 1000))
    found = re.search(
        r"^BENCH_SUMMARY (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)$", text, re.M
    )
    if found is None:
        raise RuntimeError(f"could not read wrk's output:\n{text[-2000:]}")
    values = [int(v) for v in found.groups()]
    run.requests, run.duration_s = values[0], values[1] / 1e6
    run.errors = dict(
        zip(("connect", "read", "write", "status", "timeout"), values[2:], strict=True)
    )
    return run


def merged_percentile(runs: Sequence[WrkRun], q: float) -> float:
    """The q-th percentile (ms) of the requests of all runs together.

    Each run gives its distribution at 0.1% steps; their mixture, weighted by
    request counts, is searched for the smallest latency reaching q.
    """
    total = sum(r.requests for r in runs)
    candidates = sorted({ms for r in runs for _, ms in r.percentiles})

    def share_below(x: float) -> float:
        reached = 0.0
        for r in runs:
            values = [ms for _, ms in r.percentiles]
            i = bisect.bisect_right(values, x)
            pct = r.percentiles[i - 1][0] if i else 0.0
            reached += r.requests * pct / 100
        return 100 * reached / max(1, total)

    for x in candidates:
        if share_below(x) >= q:
            return x
    return candidates[-1] if candidates else 0.0


def wrk_command(
    binary: str, script: Path, url: str, requests: Path, seconds: float,
    connections: int, threads: int, offsets: dict[int, int] | None,
) -> list[str]:  # fmt: skip
    args = [str(threads), str(requests)]
    args += [str((offsets or {}).get(t, 0)) for t in range(1, threads + 1)]
    return [binary, f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s",
            "--timeout", "5s", "-s", str(script), url, "--", *args]  # fmt: skip


# --- sampling ----------------------------------------------------------------------------


def rss_mib(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def sms_requests(port: int) -> float | None:
    """The replica's own count of answered /webhooks/twilio/sms requests."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return None
    total = 0.0
    for line in text.splitlines():
        if line.startswith("recoop_http_request_seconds_count{") and SMS_PATH in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


@dataclass
class Samples:
    times: list[float] = field(default_factory=list)
    rss: dict[str, list[float | None]] = field(default_factory=dict)
    counts: dict[str, list[float | None]] = field(default_factory=dict)


def watch(
    procs: Sequence[subprocess.Popen[str]],
    groups: dict[str, list[int]],
    watched: dict[str, wb.Server] | None,
    web_ports: dict[str, int],
    every_s: float,
) -> tuple[Samples, Cpu]:
    """Until the first of `procs` ends: RSS and request counters every `every_s`,
    and the CPU counters of `groups` as last read while all of `procs` ran."""
    samples = Samples()
    started = time.monotonic()
    next_sample = started
    last = cpu_now(groups)

    def sample() -> None:
        samples.times.append(time.monotonic() - started)
        for name, server in (watched or {}).items():
            samples.rss.setdefault(name, []).append(rss_mib(server.pid))
        for name, port in web_ports.items():
            samples.counts.setdefault(name, []).append(sms_requests(port))

    while all(p.poll() is None for p in procs):
        if watched and time.monotonic() >= next_sample:
            sample()
            next_sample += every_s
        last = cpu_now(groups)
        time.sleep(0.25)
    if watched:
        sample()
    return samples, last


def slope_per_min(times: list[float], values: list[float]) -> float:
    """Least-squares slope (per minute) of values over times."""
    n = len(values)
    if n < 2:
        return 0.0
    mt, mv = sum(times) / n, sum(values) / n
    var = sum((t - mt) ** 2 for t in times)
    if not var:
        return 0.0
    return (
        60 * sum((t - mt) * (v - mv) for t, v in zip(times, values, strict=True)) / var
    )


def windows(samples: Samples, names: Sequence[str], width: float) -> list[float]:
    """Requests/s in consecutive windows of about `width` seconds, all replicas."""
    totals: list[tuple[float, float]] = []
    for i, t in enumerate(samples.times):
        counts = [samples.counts[n][i] for n in names]
        if all(c is not None for c in counts):
            totals.append((t, sum(c for c in counts if c is not None)))
    rates = []
    start = 0
    for i in range(1, len(totals)):
        if totals[i][0] - totals[start][0] >= width:
            rates.append(
                (totals[i][1] - totals[start][1]) / (totals[i][0] - totals[start][0])
            )
            start = i
    return rates


# --- CPU ---------------------------------------------------------------------------------


@dataclass
class Cpu:
    ticks: dict[str, int]
    machine: tuple[int, int]
    at: float


def cpu_now(groups: dict[str, list[int]]) -> Cpu:
    return Cpu(
        {name: sum(wb._proc_ticks(p) for p in pids) for name, pids in groups.items()},
        wb._machine_ticks(),
        time.monotonic(),
    )


def cores(before: Cpu, after: Cpu) -> dict[str, float]:
    elapsed = max(1e-6, after.at - before.at)
    used = {
        name: (after.ticks[name] - before.ticks[name]) / (wb.TICKS * elapsed)
        for name in before.ticks
    }
    busy = after.machine[0] - before.machine[0]
    total = max(1, after.machine[1] - before.machine[1])
    used["machine"] = busy / total * (os.cpu_count() or 1)
    used["other"] = max(
        0.0, used["machine"] - sum(v for k, v in used.items() if k != "machine")
    )
    return used


# --- traffic -----------------------------------------------------------------------------


@dataclass
class Half:
    """The requests file for one replica and what is in it."""

    path: Path
    sids: list[str]


def write_halves(traffic: wb.Traffic, token: str, workdir: Path) -> list[Half]:
    url = PUBLIC_BASE_URL + SMS_PATH
    halves = [Half(workdir / f"replica{r}.requests", []) for r in range(2)]
    files = [h.path.open("w") for h in halves]
    try:
        for i, (body, tail, sid) in enumerate(
            zip(traffic.bodies, traffic.signed_params, traffic.sids, strict=True)
        ):
            files[i % 2].write(f"{wb.sign(token, url, tail)}\t{body}\n")
            halves[i % 2].sids.append(sid)
    finally:
        for f in files:
            f.close()
    return halves


def preflight(port: int, token: str) -> str | None:
    """A request signed for the public URL gets TwiML; a badly signed one gets 403."""
    url = f"http://127.0.0.1:{port}{SMS_PATH}"
    for good in (True, False):
        params = {
            "MessageSid": "SM" + secrets.token_hex(16),
            "AccountSid": "AC" + "0" * 32,
            "From": "+2348099999999",
            "To": "+2342017001234",
            "Body": "HELP",
        }
        tail = "".join(k + params[k] for k in sorted(params))
        signature = wb.sign(
            token if good else token + "x", PUBLIC_BASE_URL + SMS_PATH, tail
        )
        status, text = wb.post(url, urlencode(params), signature)
        if good and (status != 200 or "<Response>" not in text):
            return f"signed probe answered {status}: {text[:200]}"
        if not good and status != 403:
            return f"badly signed probe answered {status}, not 403"
    return None


# --- one measured configuration -------------------------------------------------------


@dataclass
class Measured:
    name: str
    seconds: float
    runs: list[WrkRun]
    samples: Samples | None
    cpu: dict[str, float]
    distinct: int = 0
    inbound_rows: int | None = None
    rss_names: list[str] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return sum(r.requests for r in self.runs)

    @property
    def rps(self) -> float:
        return sum(r.requests / max(1e-6, r.duration_s) for r in self.runs)

    @property
    def errors(self) -> int:
        return sum(r.error_count for r in self.runs)

    def pct(self, q: float) -> float:
        return merged_percentile(self.runs, q)


def drive(
    wrk_binary: str,
    script: Path,
    halves: list[Half],
    ports: list[int],
    seconds: float,
    connections: int,
    offsets: list[dict[int, int]] | None,
    watched: dict[str, wb.Server] | None = None,
    cpu_groups: dict[str, list[int]] | None = None,
) -> tuple[list[WrkRun], Samples | None, dict[str, float]]:
    """Run one wrk per replica at once; sample memory and counters meanwhile."""
    procs = []
    for r, (half, port) in enumerate(zip(halves, ports, strict=True)):
        cmd = wrk_command(
            wrk_binary, script, f"http://127.0.0.1:{port}{SMS_PATH}", half.path,
            seconds, connections // 2, 1, offsets[r] if offsets else None,
        )  # fmt: skip
        procs.append(
            subprocess.Popen(
                cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
        )
    samples = None
    used: dict[str, float] = {}
    try:
        groups = dict(cpu_groups or {})
        groups["wrk"] = [p.pid for p in procs]
        groups["postgres"] = wb._postgres_pids()
        time.sleep(min(1.0, seconds / 10))  # wrk reads its file before it sends
        before = cpu_now(groups)
        web_ports = (
            {f"web{r + 1}": port for r, port in enumerate(ports)} if watched else {}
        )
        watched_samples, after = watch(procs, groups, watched, web_ports, every_s=5.0)
        samples = watched_samples if watched else None
        outputs = [p.communicate(timeout=seconds + 120)[0] for p in procs]
        used = cores(before, after)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    return [parse(out) for out in outputs], samples, used


def real_service(args: argparse.Namespace, halves: list[Half], workdir: Path,
                 wrk_binary: str, script: Path, token: str, run_id: str) -> Measured:  # fmt: skip
    recoop = str(wb.VENV_BIN / "recoop")
    name = f"recoop_bench_load_{run_id}"
    with (
        wb.scratch_database(args.postgres_url, name) as (dsn, sa_url),
        contextlib.ExitStack() as stack,
    ):
        env = wb.clean_env(
            RECOOP_DATABASE_URL=sa_url,
            RECOOP_TWILIO_AUTH_TOKEN=token,
            RECOOP_PUBLIC_BASE_URL=PUBLIC_BASE_URL,
            RECOOP_LEADER_LOCK_ID=str(secrets.randbits(62)),
        )
        upgrade = subprocess.run([recoop, "db", "upgrade"], env=env, cwd=workdir,
                                 capture_output=True, text=True, timeout=300)  # fmt: skip
        if upgrade.returncode != 0:
            raise RuntimeError(f"recoop db upgrade failed: {upgrade.stderr[-800:]}")
        servers: dict[str, wb.Server] = {}
        ports = []
        for role, label in (("web", "web1"), ("web", "web2"), ("worker", "worker")):
            port = wb.free_port()
            cmd = [recoop, "serve", "--role", role, "--port", str(port)]
            server = wb.Server(
                label, cmd, env, port, workdir / f"{label}.log", "/readyz"
            )
            servers[label] = stack.enter_context(server)
            if role == "web":
                ports.append(port)
        for port in ports:
            if problem := preflight(port, token):
                raise RuntimeError(f"replica on port {port}: {problem}")
        print(f"  warm-up {WARMUP_S:g} s", flush=True)
        warm, _, _ = drive(
            wrk_binary, script, halves, ports, WARMUP_S, args.connections, None
        )
        offsets = [w.sent_per_thread for w in warm]
        print(
            f"  measuring {args.seconds:g} s (load average {os.getloadavg()[0]:.2f})",
            flush=True,
        )
        groups = {label: [s.pid] for label, s in servers.items()}
        runs, samples, used = drive(
            wrk_binary, script, halves, ports, args.seconds, args.connections,
            offsets, watched=servers, cpu_groups=groups,
        )  # fmt: skip
        time.sleep(1.0)  # the last requests in flight finish
        rows = wb.count_postgres(dsn)["inbound messages"]
    distinct: set[str] = set()
    for r, (half, run) in enumerate(zip(halves, runs, strict=True)):
        # Each thread went on from where its warm-up stopped; wrk calls request()
        # once before it starts (not sent), in the warm-up and the measured run.
        skipped = {0, offsets[r].get(1, 0)}
        for k in range(run.sent_per_thread.get(1, 0)):
            if k not in skipped:
                distinct.add(half.sids[k % len(half.sids)])
    measured = Measured("recoop", args.seconds, runs, samples, used)
    measured.distinct = len(distinct) + 2  # + the good probe of each replica
    measured.inbound_rows = rows
    measured.rss_names = list(servers)
    return measured


def reference(args: argparse.Namespace, halves: list[Half], workdir: Path,
              wrk_binary: str, script: Path, token: str, run_id: str) -> Measured:  # fmt: skip
    name = f"recoop_bench_load_{run_id}_ref"
    with (
        wb.scratch_database(args.postgres_url, name) as (dsn, _),
        contextlib.ExitStack() as stack,
    ):
        ports, servers = [], {}
        for label in ("ref1", "ref2"):
            port = wb.free_port()
            env = wb.clean_env(BENCH_TWILIO_TOKEN=token, BENCH_PUBLIC_BASE_URL=PUBLIC_BASE_URL,
                               BENCH_PG_DSN=dsn)  # fmt: skip
            cmd = [sys.executable, str(BENCH / "webhook.py"), "--serve", "minimal-asyncpg",
                   "--port", str(port)]  # fmt: skip
            servers[label] = stack.enter_context(
                wb.Server(label, cmd, env, port, workdir / f"{label}.log")
            )
            ports.append(port)
        warm, _, _ = drive(
            wrk_binary, script, halves, ports, WARMUP_S, args.connections, None
        )
        offsets = [w.sent_per_thread for w in warm]
        groups = {label: [s.pid] for label, s in servers.items()}
        runs, _, used = drive(
            wrk_binary, script, halves, ports, args.reference_seconds, args.connections,
            offsets, cpu_groups=groups,
        )  # fmt: skip
    return Measured("minimal-asyncpg", args.reference_seconds, runs, None, used)


# --- report ------------------------------------------------------------------------------


def report(real: Measured, ref: Measured | None) -> bool:
    print(f"\n=== two web replicas + one worker, PostgreSQL, {real.seconds:g} s ===")
    errors = real.errors
    rate = errors / max(1, real.requests + sum(r.errors["connect"] for r in real.runs))
    print(
        f"throughput {real.rps:,.0f} requests/s ({real.requests:,} requests: "
        + ", ".join(f"replica {i + 1} {r.requests / r.duration_s:,.0f}/s" for i, r in enumerate(real.runs))
        + ")"
    )  # fmt: skip
    if real.samples:
        width = min(WINDOW_S, max(5.0, real.seconds / 6))
        rates = windows(real.samples, ["web1", "web2"], width)
        if rates:
            print(
                f"  per {width:g} s window ({len(rates)}): slowest {min(rates):,.0f}/s, "
                f"fastest {max(rates):,.0f}/s"
            )
    p50, p99, p999 = real.pct(50), real.pct(99), real.pct(99.9)
    print(f"latency p50 {p50:.1f} ms, p99 {p99:.1f} ms, p99.9 {p999:.1f} ms")
    detail = ", ".join(
        f"{k} {sum(r.errors[k] for r in real.runs)}" for k in real.runs[0].errors
    )
    print(f"errors {errors:,} ({rate:.3%}): {detail}")
    if any(r.wrapped for r in real.runs):
        print(
            "  ! the prepared requests ran out and were sent again: raise --rate-guess"
        )
    flat = True
    if real.samples:
        print(
            "memory (VmRSS, MiB): start -> end (peak); growth; slope over the second half"
        )
        half = len(real.samples.times) // 2
        for name in real.rss_names:
            values = real.samples.rss.get(name, [])
            points = [
                (t, v)
                for t, v in zip(real.samples.times, values, strict=True)
                if v is not None
            ]
            if not points:
                continue
            first, last, peak = points[0][1], points[-1][1], max(v for _, v in points)
            tail = points[half:] if len(points) > 3 else points
            slope = slope_per_min([t for t, _ in tail], [v for _, v in tail])
            # Flat: over the second half it grows by less than 1 MiB a minute.
            flat &= slope < 1.0
            print(
                f"  {name:<7} {first:7.1f} -> {last:7.1f} ({peak:7.1f}); {last - first:+7.1f}; {slope:+.2f} MiB/min"
            )
        timeline = ", ".join(
            f"{t:.0f}s "
            + "/".join(f"{real.samples.rss[n][i] or 0:.0f}" for n in real.rss_names)
            for i, t in enumerate(real.samples.times)
            if i % max(1, len(real.samples.times) // 8) == 0
        )
        print(f"  timeline ({'/'.join(real.rss_names)}): {timeline}")
    print("CPU cores: " + ", ".join(f"{k} {v:.2f}" for k, v in real.cpu.items()))
    if real.inbound_rows is not None:
        verdict = "ok" if real.inbound_rows == real.distinct else "MISMATCH"
        print(
            f"database: {real.inbound_rows:,} inbound rows for {real.distinct:,} distinct "
            f"MessageSids sent (warm-up and probes included): {verdict}"
        )
    if ref is not None:
        print(f"\n=== reference: minimal-asyncpg, two replicas, {ref.seconds:g} s ===")
        print(
            f"throughput {ref.rps:,.0f} requests/s, p50 {ref.pct(50):.1f} ms, "
            f"p99 {ref.pct(99):.1f} ms, errors {ref.errors}"
        )
        print("CPU cores: " + ", ".join(f"{k} {v:.2f}" for k, v in ref.cpu.items()))
        print(
            f"ratio recoop / reference: {real.rps / max(1e-6, ref.rps):.1%} of the throughput"
        )
    met = real.rps >= TARGET_RPS and p99 < TARGET_P99_MS and errors == 0 and flat
    print(
        f"\ntarget (issue 6): >= {TARGET_RPS:,.0f} requests/s at p99 < {TARGET_P99_MS:.0f} ms, "
        f"0 errors, flat memory: {'met' if met else 'NOT MET'} ("
        f"{real.rps:,.0f}/s, p99 {p99:.0f} ms, {errors} errors, memory "
        f"{'flat' if flat else 'growing'})"
    )
    return met


@contextlib.contextmanager
def interrupt_as_exception() -> Iterator[None]:
    def raise_interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    arg = parser.add_argument
    arg(
        "--seconds",
        type=float,
        default=600.0,
        help="measured seconds (after a warm-up)",
    )
    arg("--connections", type=int, default=64, help="wrk connections, half per replica")
    arg("--reference-seconds", type=float, default=60.0, help="0 skips the reference")
    arg("--rate-guess", type=float, default=1_600.0, help="requests/s to prepare for")
    arg(
        "--senders",
        type=int,
        default=0,
        help="distinct numbers (default: 1 per 10 requests)",
    )
    arg(
        "--postgres-url",
        default=os.environ.get("RECOOP_TEST_POSTGRES_URL") or wb.DEFAULT_PG,
    )
    arg("--seed", type=int, default=1)
    arg(
        "--keep-logs",
        default="",
        help="copy the replicas' logs into this folder before they are removed",
    )
    args = parser.parse_args(argv)
    wrk_binary = wb.ensure_wrk()
    if problem := wb.postgres_reachable(args.postgres_url):
        raise SystemExit(f"PostgreSQL unreachable: {problem}")
    count = int(args.rate_guess * (args.seconds + WARMUP_S))
    senders = args.senders or max(5_000, count // 10)
    print(
        f"preparing {count:,} signed inbound SMS from {senders:,} numbers", flush=True
    )
    traffic = wb.make_traffic(count, senders, args.seed)
    token = secrets.token_hex(16)
    run_id = f"{os.getpid()}_{secrets.token_hex(3)}"
    with (
        interrupt_as_exception(),
        tempfile.TemporaryDirectory(prefix="recoop-load-") as tmp,
    ):
        workdir = Path(tmp)
        script = workdir / "load.lua"
        script.write_text(LUA)
        halves = write_halves(traffic, token, workdir)
        del traffic
        print(f"load average {os.getloadavg()}; starting the replicas", flush=True)
        try:
            real = real_service(
                args, halves, workdir, wrk_binary, script, token, run_id
            )
            ref = None
            if args.reference_seconds > 0:
                print("reference run: minimal-asyncpg", flush=True)
                ref = reference(
                    args, halves, workdir, wrk_binary, script, token, run_id
                )
        except KeyboardInterrupt:
            print(
                "\ninterrupted: servers stopped, scratch databases dropped",
                file=sys.stderr,
            )
            return 130
        finally:
            if args.keep_logs:
                keep = Path(args.keep_logs)
                keep.mkdir(parents=True, exist_ok=True)
                for log_file in workdir.glob("*.log"):
                    shutil.copy(log_file, keep / log_file.name)
    return 0 if report(real, ref) else 1


if __name__ == "__main__":
    sys.exit(main())
