"""Inbound-SMS webhook benchmark with wrk: bare aiohttp, raw asyncpg, the service."""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import hmac
import os
import random
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

VENV_BIN = Path(sys.executable).parent
SMS_PATH = "/webhooks/twilio/sms"
TWIML = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    "<Response><Message>Thanks, we got your message.</Message></Response>"
)
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
WARMUP_S = 2.0
# Targets from issue 2 ("How it is checked").
TARGET_PG, TARGET_SQLITE, TARGET_P99_MS, TARGET_SHARE = 2_000.0, 1_500.0, 100.0, 0.40

# ---------------------------------------------------------------------------
# Reference servers, run as `webhook.py --serve bare|minimal-asyncpg --port N`
# ---------------------------------------------------------------------------


def serve_reference(kind: str, port: int) -> None:
    """Run one reference server in this process until SIGTERM/SIGINT."""
    from aiohttp import web

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def bare(_: web.Request) -> web.Response:
        return web.Response(text=TWIML, content_type="text/xml")

    async def make_app() -> web.Application:
        app = web.Application()
        app.router.add_get("/healthz", healthz)
        if kind == "bare":
            app.router.add_post(SMS_PATH, bare)
            return app

        import asyncpg
        from twilio.request_validator import RequestValidator

        validator = RequestValidator(os.environ["BENCH_TWILIO_TOKEN"])
        url = os.environ["BENCH_PUBLIC_BASE_URL"].rstrip("/") + SMS_PATH
        pool = await asyncpg.create_pool(
            os.environ["BENCH_PG_DSN"], min_size=10, max_size=20
        )
        await pool.execute(
            "CREATE TABLE IF NOT EXISTS bench_inbound (message_sid text PRIMARY KEY,"
            " phone text NOT NULL, body text NOT NULL,"
            " received_at timestamptz NOT NULL)"
        )
        insert = (
            "INSERT INTO bench_inbound (message_sid, phone, body, received_at)"
            " VALUES ($1, $2, $3, now()) ON CONFLICT (message_sid) DO NOTHING"
        )

        async def minimal(request: web.Request) -> web.Response:
            form = await request.post()
            signature = request.headers.get("X-Twilio-Signature", "")
            if not validator.validate(url, form, signature):
                return web.Response(status=403, text="invalid Twilio signature")
            await pool.execute(insert, form["MessageSid"], form["From"], form["Body"])
            return web.Response(text=TWIML, content_type="text/xml")

        async def close_pool(_: web.Application) -> None:
            await pool.close()

        app.router.add_post(SMS_PATH, minimal)
        app.on_cleanup.append(close_pool)
        return app

    web.run_app(make_app(), host="127.0.0.1", port=port, access_log=None, print=None)


# ---------------------------------------------------------------------------
# Traffic: signed Twilio inbound-SMS form posts from a Lagos neighbourhood
# ---------------------------------------------------------------------------

PREFIXES = ["803", "806", "813", "816", "810", "814", "903", "906", "703", "706",
            "805", "807", "815", "811", "905", "802", "808", "812", "701", "708",
            "902", "901", "809", "817", "818", "909", "908"]  # fmt: skip
FIRST = ["Ada", "Bola", "Chidi", "Damilola", "Emeka", "Funke", "Gbenga", "Halima",
         "Ifeoma", "Jide", "Kemi", "Lola", "Musa", "Ngozi", "Obinna", "Segun", "Tunde",
         "Uche", "Yemi", "Zainab", "Aisha", "Bisi", "Nneka", "Sade", "Kunle", "Amaka",
         "Ibrahim", "Tola", "Mama Ngozi", "Alhaja Kudi"]  # fmt: skip
LAST = ["Adeyemi", "Okafor", "Bello", "Eze", "Balogun", "Nwosu", "Ogunleye", "Abubakar",
        "Okonkwo", "Adebayo", "Olawale", "Chukwu", "Danjuma", "Afolabi"]  # fmt: skip
STREETS = ["Herbert Macaulay Way, Yaba", "Ikorodu Road, Fadeyi", "Iwaya Road",
           "Adekunle Fajuyi Street, Ebute Metta", "Murtala Muhammed Way, Oyingbo",
           "Commercial Avenue, Sabo", "Akoka Road", "Bajulaiye Road, Shomolu",
           "Borno Way, Alagomeji", "Ojuelegba Road, Surulere", "Bode Thomas Street",
           "Adeniran Ogunsanya Street", "Tejuosho Market, Yaba", "Onike Roundabout",
           "Jibowu Street", "Montgomery Road, Yaba"]  # fmt: skip
# (category, weight, texts) for messages after a number's first (JOIN).
LATER: list[tuple[str, float, list[str]]] = [
    ("pickup", 0.40, ["PICKUP", "pickup", "Pickup pls", "Pls come carry my bottles",
                      "pikup", "PICK UP", "una fit come carry am?", "e wa gbe"]),
    ("bal", 0.15, ["BAL", "bal", "Balance", "BAL?"]),
    ("cancel", 0.08, ["CANCEL", "cancel pickup", "Cancel"]),
    ("help", 0.10, ["HELP", "help", "Help me"]),
    ("text", 0.20, ["Thank you", "When una dey come?", "ok", "Good morning sir",
                    "I have 3 bags of pure water sachets", "Who is this?",
                    "How far", "Bottles don ready o", "E se gan ni ₦"]),
    ("lang", 0.05, ["LANG PCM", "LANG YO", "LANG EN"]),
    ("stop/start", 0.02, ["STOP", "START"]),
]  # fmt: skip
REPEAT_SHARE = 0.02  # Twilio retries: the same request (MessageSid, body, signature)


@dataclass(frozen=True, slots=True)
class Traffic:
    """Pre-generated inbound SMS: url-encoded bodies and the signed concatenations."""

    bodies: list[str]  # form body, as Twilio posts it
    signed_params: list[str]  # sorted key+value pairs, the signature's tail
    sids: list[str]
    params_sample: list[dict[str, str]]  # for a cross-check with the twilio library
    mix: Counter[str]


def make_numbers(n: int, rng: random.Random) -> list[str]:
    numbers: set[str] = set()
    while len(numbers) < n:
        numbers.add(f"+234{rng.choice(PREFIXES)}{rng.randrange(10**7):07d}")
    return sorted(numbers)


def make_traffic(count: int, senders: int, seed: int) -> Traffic:
    """`count` inbound SMS from `senders` numbers: JOIN first, then the usual mix."""
    rng = random.Random(seed)
    numbers = make_numbers(senders, rng)
    account = "AC" + rng.randbytes(16).hex()
    to = "+2342017001234"
    joined: set[str] = set()
    weights = [w for _, w, _ in LATER]
    bodies: list[str] = []
    tails: list[str] = []
    sids: list[str] = []
    sample: list[dict[str, str]] = []
    mix: Counter[str] = Counter()
    for i in range(count):
        if i > 100 and rng.random() < REPEAT_SHARE:
            j = rng.randrange(max(0, i - 600), i - 60)  # long since answered
            bodies.append(bodies[j])
            tails.append(tails[j])
            sids.append(sids[j])
            mix["repeat"] += 1
            continue
        phone = rng.choice(numbers)
        if phone not in joined:
            joined.add(phone)
            name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
            street = rng.choice(STREETS)
            where = street if rng.random() < 0.3 else f"{rng.randint(1, 120)} {street}"
            verb = rng.choice(["JOIN", "join", "Join", "register"])
            text, category = f"{verb} {name}, {where}", "join"
        else:
            category, _, texts = rng.choices(LATER, weights)[0]
            text = rng.choice(texts)
        mix[category] += 1
        sid = "SM" + rng.randbytes(16).hex()
        params = {
            "ToCountry": "NG",
            "SmsMessageSid": sid,
            "NumMedia": "0",
            "SmsSid": sid,
            "SmsStatus": "received",
            "Body": text,
            "FromCountry": "NG",
            "To": to,
            "NumSegments": "1",
            "MessageSid": sid,
            "AccountSid": account,
            "From": phone,
            "ApiVersion": "2010-04-01",
        }
        bodies.append(urlencode(params))
        tails.append("".join(k + params[k] for k in sorted(params)))
        sids.append(sid)
        if i % 997 == 0:
            sample.append(params)
    return Traffic(bodies, tails, sids, sample, mix)


def sign(token: str, url: str, tail: str) -> str:
    """Twilio's X-Twilio-Signature: base64(HMAC-SHA1(token, url + sorted pairs))."""
    mac = hmac.new(token.encode(), (url + tail).encode(), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()


def write_requests(path: Path, traffic: Traffic, token: str, url: str) -> None:
    """One request per line, "<signature>\\t<body>"; checked against twilio's."""
    from twilio.request_validator import RequestValidator

    reference = RequestValidator(token)
    for params in traffic.params_sample:
        tail = "".join(k + params[k] for k in sorted(params))
        if reference.compute_signature(url, params) != sign(token, url, tail):
            raise AssertionError("signature differs from twilio's RequestValidator")
    with path.open("w") as out:
        for body, tail in zip(traffic.bodies, traffic.signed_params, strict=True):
            out.write(f"{sign(token, url, tail)}\t{body}\n")


# ---------------------------------------------------------------------------
# wrk
# ---------------------------------------------------------------------------

# wrk thread t (1-based) of n sends the file's lines t-1, t-1+n, t-1+2n... (0-based),
# skipping the first `offset` of its own (those the warm-up sent), so no MessageSid
# is sent twice unless the file runs out ("wrapped" is reported).
WRK_LUA = r"""
local threads = {}
local counter = 1
function setup(thread)
  thread:set("tid", counter)
  table.insert(threads, thread)
  counter = counter + 1
end
function init(args)
  local n, file = tonumber(args[1]), args[2]
  local offset = tonumber(args[2 + tid] or "0")
  local path = args[0]:match("^https?://[^/]+(/.*)$")
  reqs = {}
  local i = 0
  for line in io.lines(file) do
    if i % n == tid - 1 then
      local sig, body = line:match("^([^\t]*)\t(.*)$")
      reqs[#reqs + 1] = wrk.format("POST", path, {
        ["Content-Type"] = "application/x-www-form-urlencoded",
        ["X-Twilio-Signature"] = sig,
        ["User-Agent"] = "TwilioProxy/1.1",
      }, body)
    end
    i = i + 1
  end
  sent, nreqs, wrapped = offset, #reqs, 0
end
function request()
  local k = sent % nreqs + 1
  sent = sent + 1
  if sent > nreqs then wrapped = 1 end
  return reqs[k]
end
function done(summary, latency, requests)
  for _, t in ipairs(threads) do
    io.write(string.format("BENCH_THREAD %d %d %d\n",
      t:get("tid"), t:get("sent"), t:get("wrapped")))
  end
end
"""


@dataclass
class WrkResult:
    rps: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    requests: int = 0
    non2xx: int = 0
    socket_errors: dict[str, int] = field(default_factory=dict)
    sent_per_thread: dict[int, int] = field(default_factory=dict)
    wrapped: bool = False
    raw: str = ""

    @property
    def errors(self) -> int:
        return self.non2xx + sum(self.socket_errors.values())


_UNITS_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def parse_wrk(text: str) -> WrkResult:
    """Requests/sec, p50/p99 (from --latency), non-2xx and socket errors."""
    result = WrkResult(raw=text)
    if m := re.search(r"^Requests/sec:\s*([\d.]+)", text, re.M):
        result.rps = float(m[1])
    for pct, value, unit in re.findall(
        r"^\s*(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m|h)\s*$", text, re.M
    ):
        ms = float(value) * _UNITS_MS[unit]
        if pct == "50":
            result.p50_ms = ms
        else:
            result.p99_ms = ms
    if m := re.search(r"^\s*(\d+) requests in", text, re.M):
        result.requests = int(m[1])
    if m := re.search(r"Non-2xx or 3xx responses:\s*(\d+)", text):
        result.non2xx = int(m[1])
    if m := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text
    ):
        result.socket_errors = dict(
            zip(
                ("connect", "read", "write", "timeout"),
                map(int, m.groups()),
                strict=True,
            )
        )
    for tid, sent, wrapped in re.findall(
        r"^BENCH_THREAD (\d+) (\d+) (\d+)$", text, re.M
    ):
        result.sent_per_thread[int(tid)] = int(sent)
        result.wrapped |= wrapped == "1"
    if not result.rps or not result.p99_ms:
        raise RuntimeError(f"could not read wrk's output:\n{text}")
    return result


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk is missing: apt-get install -y wrk", flush=True)
    apt = ["apt-get", "install", "-y", "-q", "wrk"]
    if subprocess.run(apt, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, check=False)
        subprocess.run(apt, capture_output=True, check=True)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is not installed and could not be installed")
    return found


@dataclass(frozen=True, slots=True)
class Wrk:
    binary: str
    script: Path
    connections: int
    threads: int

    def run(
        self,
        url: str,
        requests_file: Path,
        seconds: float,
        offsets: dict[int, int] | None = None,
        during: Callable[[int], Any] | None = None,
    ) -> tuple[WrkResult, Any]:
        """One wrk run; `during(wrk_pid)` runs meanwhile and its result is returned."""
        args = [str(self.threads), str(requests_file)]
        args += [str((offsets or {}).get(t, 0)) for t in range(1, self.threads + 1)]
        cmd = [self.binary, f"-t{self.threads}", f"-c{self.connections}",
               f"-d{seconds:g}s", "--timeout", "5s", "--latency",
               "-s", str(self.script), url, "--", *args]  # fmt: skip
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        try:
            extra = during(proc.pid) if during else None
            out, _ = proc.communicate(timeout=seconds + 60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        return parse_wrk(out), extra


# ---------------------------------------------------------------------------
# CPU and load
# ---------------------------------------------------------------------------

TICKS = os.sysconf("SC_CLK_TCK")


def _machine_ticks() -> tuple[int, int]:
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])
    return total - idle, total


def _proc_ticks(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime + stime


def _postgres_pids() -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if Path(f"/proc/{entry}/comm").read_text().strip() == "postgres":
                    pids.append(int(entry))
            except OSError:
                continue
    return pids


@dataclass(frozen=True, slots=True)
class CpuShare:
    """CPU cores in use during a window, by whom."""

    total: float
    server: float
    wrk: float
    postgres: float

    @property
    def other(self) -> float:
        return max(0.0, self.total - self.server - self.wrk - self.postgres)


def measure_cpu(
    seconds: float, server_pid: int, wrk_pid: int | None = None
) -> CpuShare:
    """Sample CPU use for `seconds` (the machine, our server, wrk, PostgreSQL)."""
    pg = _postgres_pids()
    busy0, total0 = _machine_ticks()
    s0, w0 = _proc_ticks(server_pid), _proc_ticks(wrk_pid) if wrk_pid else 0
    pg0 = {pid: _proc_ticks(pid) for pid in pg}
    start = time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - start
    busy1, total1 = _machine_ticks()
    s1, w1 = _proc_ticks(server_pid), _proc_ticks(wrk_pid) if wrk_pid else 0
    pg1 = sum(max(0, _proc_ticks(pid) - t) for pid, t in pg0.items())
    cores = os.cpu_count() or 1
    total = (busy1 - busy0) / max(1, total1 - total0) * cores
    per = TICKS * elapsed
    return CpuShare(total, (s1 - s0) / per, (w1 - w0) / per, pg1 / per)


def others_busy(seconds: float = 2.0) -> float:
    """Cores busy on the machine now (nothing of ours runs when this is called)."""
    busy0, total0 = _machine_ticks()
    time.sleep(seconds)
    busy1, total1 = _machine_ticks()
    return (busy1 - busy0) / max(1, total1 - total0) * (os.cpu_count() or 1)


def wait_for_quiet(
    deadline: float, max_busy: float, max_load: float | None = None
) -> tuple[float, float]:
    """Wait, until `deadline`, for others' CPU use (and the 1-min load) to settle.

    The load average is checked only before a run: our own previous server keeps
    it high for a minute, while the 2 s CPU sample sees only what runs now.
    """
    while True:
        load1, busy = os.getloadavg()[0], others_busy()
        quiet = busy <= max_busy and (max_load is None or load1 <= max_load)
        if quiet or time.monotonic() >= deadline:
            if not quiet:
                print(f"  ! still busy: load {load1:.2f}, {busy:.2f} cores in use")
            return load1, busy
        print(
            f"  waiting for a quieter machine: 1-min load {load1:.2f}, "
            f"{busy:.2f} cores in use elsewhere",
            flush=True,
        )
        time.sleep(13)


# ---------------------------------------------------------------------------
# Servers
# ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("RECOOP_", "BENCH_"))
    }
    env.update(extra)
    return env


class Server:
    """A server subprocess on 127.0.0.1:port, stopped on exit from the `with`."""

    def __init__(
        self,
        name: str,
        cmd: list[str],
        env: dict[str, str],
        port: int,
        log: Path,
        ready_path: str = "/healthz",
    ) -> None:
        self.name, self.cmd, self.env, self.port = name, cmd, env, port
        self.log, self.ready_path = log, ready_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def __enter__(self) -> Server:
        with self.log.open("wb") as log:
            # Own session: a Ctrl-C in the terminal reaches us, and we stop it.
            self.proc = subprocess.Popen(
                self.cmd,
                env=self.env,
                cwd=self.log.parent,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self._wait_ready(timeout=60)
        except BaseException:  # Ctrl-C or a failed start: never leave it running
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout: float) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{self.port}{self.ready_path}"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start:\n{self.tail()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} not ready in {timeout:g} s:\n{self.tail()}")

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def post(url: str, body: str, signature: str) -> tuple[int, str]:
    request = urllib.request.Request(
        url,
        data=body.encode(),
        method="POST",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def preflight(url: str, token: str, checks_signature: bool) -> str | None:
    """One signed request must be answered with TwiML, one badly signed with 403."""
    sid = "SM" + secrets.token_hex(16)
    params = {
        "MessageSid": sid,
        "AccountSid": "AC" + "0" * 32,
        "From": "+2348099999999",
        "To": "+2342017001234",
        "Body": "HELP",
        "NumMedia": "0",
        "NumSegments": "1",
    }
    tail = "".join(k + params[k] for k in sorted(params))
    good = sign(token, url, tail)
    status, text = post(url, urlencode(params), good)
    if status != 200 or "<Response>" not in text:
        return f"signed probe answered {status}: {text[:200]}"
    if checks_signature:
        bad = sign(token + "x", url, tail)
        params["MessageSid"] = "SM" + secrets.token_hex(16)
        status, text = post(url, urlencode(params), bad)
        if status != 403:
            return f"badly signed probe answered {status}, not 403"
    return None


# ---------------------------------------------------------------------------
# PostgreSQL scratch databases
# ---------------------------------------------------------------------------


def pg_urls(url: str, database: str) -> tuple[str, str]:
    """(asyncpg DSN, SQLAlchemy URL) for `database` on the server of `url`."""
    from sqlalchemy.engine import make_url

    base = make_url(url).set(database=database)
    dsn = base.set(drivername="postgresql").render_as_string(hide_password=False)
    sa_url = base.set(drivername="postgresql+asyncpg").render_as_string(
        hide_password=False
    )
    return dsn, sa_url


async def _pg_admin(url: str, sql: str) -> None:
    import asyncpg

    dsn, _ = pg_urls(url, str(_url_database(url)))
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _url_database(url: str) -> str | None:
    from sqlalchemy.engine import make_url

    return make_url(url).database


@contextlib.contextmanager
def scratch_database(url: str, name: str) -> Iterator[tuple[str, str]]:
    """CREATE DATABASE `name` on the server of `url`; dropped on exit."""
    asyncio.run(_pg_admin(url, f'CREATE DATABASE "{name}"'))
    try:
        yield pg_urls(url, name)
    finally:
        try:
            asyncio.run(
                _pg_admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            )
        except Exception as exc:
            print(f"  ! could not drop database {name}: {exc}", file=sys.stderr)


def postgres_reachable(url: str) -> str | None:
    try:
        asyncio.run(_pg_admin(url, "SELECT 1"))
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


# ---------------------------------------------------------------------------
# One benchmark run
# ---------------------------------------------------------------------------

COUNT_SQL = {
    "households": "SELECT count(*) FROM households",
    "open pickups": "SELECT count(*) FROM pickups WHERE status = 'open'",
    "cancelled pickups": "SELECT count(*) FROM pickups WHERE status = 'cancelled'",
    "opt-outs": "SELECT count(*) FROM opt_outs",
    "inbound messages": "SELECT count(*) FROM inbound_messages",
}


def count_sqlite(path: Path) -> dict[str, int]:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return {k: int(db.execute(sql).fetchone()[0]) for k, sql in COUNT_SQL.items()}


def count_postgres(dsn: str) -> dict[str, int]:
    async def counts() -> dict[str, int]:
        import asyncpg

        conn = await asyncpg.connect(dsn, timeout=10)
        try:
            return {k: int(await conn.fetchval(sql)) for k, sql in COUNT_SQL.items()}
        finally:
            await conn.close()

    return asyncio.run(counts())


@dataclass
class Outcome:
    """What one server did in one run."""

    name: str
    result: WrkResult | None = None
    cpu: CpuShare | None = None
    load1: float = 0.0
    sent: int = 0  # requests sent, warm-up included
    distinct: int = 0  # distinct MessageSids among them
    db: dict[str, int] | None = None  # rows afterwards (real servers)
    profile: Path | None = None
    seconds: float = 0.0
    failed: str = ""


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything one run needs."""

    wrk: Wrk
    traffic: Traffic
    seconds: float
    workdir: Path
    token: str
    pg_url: str | None
    max_busy: float
    deadline: float
    profile: bool
    run_id: str


def distinct_sent(
    sids: list[str], sent: dict[int, int], threads: int, skipped: set[int]
) -> int:
    """Distinct MessageSids among the lines the wrk threads sent."""
    seen: set[str] = set()
    for tid, count in sent.items():
        mine = range(tid - 1, len(sids), threads)
        seen.update(
            sids[mine[k % len(mine)]]
            for k in range(count)
            if not (tid == 1 and k in skipped)
        )
    return len(seen)


def measure(plan: Plan, server: Server, base: str, checks_signature: bool) -> Outcome:
    """Preflight, 2 s warm-up, then the measured wrk run against one started server."""
    outcome = Outcome(server.name, seconds=plan.seconds)
    url = base + SMS_PATH
    requests_file = plan.workdir / f"{server.name}.requests"
    write_requests(requests_file, plan.traffic, plan.token, url)
    if problem := preflight(url, plan.token, checks_signature):
        outcome.failed = problem
        return outcome
    warm, _ = plan.wrk.run(url, requests_file, WARMUP_S)
    outcome.load1, busy = wait_for_quiet(plan.deadline, plan.max_busy)
    print(
        f"  measuring {plan.seconds:g} s (1-min load {outcome.load1:.2f}, "
        f"{busy:.2f} cores in use elsewhere just before)",
        flush=True,
    )

    def during(wrk_pid: int) -> tuple[CpuShare, subprocess.Popen[bytes] | None]:
        spy = None
        if plan.profile:
            outcome.profile = plan.workdir / f"{server.name}.pyspy.txt"
            spy = start_profile(server.pid, plan.seconds, outcome.profile)
        return measure_cpu(plan.seconds - 0.5, server.pid, wrk_pid), spy

    result, (cpu, spy) = plan.wrk.run(
        url, requests_file, plan.seconds, warm.sent_per_thread, during
    )
    if spy is not None:
        stop_process(spy, timeout=30)
    outcome.result, outcome.cpu = result, cpu
    # Each thread's count goes on from where its warm-up stopped, so it covers both
    # runs. wrk calls request() once on thread 1 before it starts, to check the
    # script: that line is skipped, not sent, in each of the two runs.
    skipped = {0, warm.sent_per_thread.get(1, 0)}
    outcome.sent = sum(result.sent_per_thread.values()) - len(skipped)
    outcome.distinct = distinct_sent(
        plan.traffic.sids, result.sent_per_thread, plan.wrk.threads, skipped
    )
    return outcome


SPY_RATE = 200  # samples per second


def profile_seconds(measured: float) -> int:
    return max(1, int(measured) - 1)


def start_profile(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes]:
    """py-spy on the server: stacks that hold the GIL, i.e. where Python spends CPU."""
    spy = shutil.which("py-spy", path=str(VENV_BIN)) or shutil.which("py-spy")
    if spy is None:
        raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy")
    duration = str(profile_seconds(seconds))
    cmd = [spy, "record", "--pid", str(pid), "--duration", duration,
           "--rate", str(SPY_RATE), "--gil", "--function", "--nonblocking",
           "--format", "raw", "--output", str(out)]  # fmt: skip
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_process(proc: subprocess.Popen[bytes], timeout: float) -> None:
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def top_frames(path: Path, expected: int, limit: int = 12) -> str:
    """Self time by function; inclusive time of our code and the database layer."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    samples = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        samples += count
        frames = stack.split(";")
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    if not samples:
        return "    (no samples)"
    lines = [
        f"    {samples:,} samples holding the GIL of ~{expected:,} taken "
        f"({samples / expected:.0%} busy); self time:"
    ]
    lines += [f"    {c / samples:6.1%}  {f}" for f, c in own.most_common(limit)]
    lines.append("    inclusive time:")
    keep = ("service/", "webhooks/", "sqlalchemy/", "asyncpg/", "aiosqlite/",
            "twilio/", "phonenumbers/", "aiohttp/web_protocol")  # fmt: skip
    picked = [
        (f, c)
        for f, c in inclusive.most_common()
        if any(k in f for k in keep) and "cli.py" not in f
    ]
    lines += [f"    {c / samples:6.1%}  {f}" for f, c in picked[: limit * 2]]
    return "\n".join(lines)


def run_once(plan: Plan) -> list[Outcome]:
    """Every server, one at a time; each server and scratch database is removed."""
    outcomes: list[Outcome] = []
    recoop = str(VENV_BIN / "recoop")

    def reference(name: str, **extra: str) -> None:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = clean_env(
            BENCH_TWILIO_TOKEN=plan.token, BENCH_PUBLIC_BASE_URL=base, **extra
        )
        cmd = [sys.executable, str(Path(__file__).resolve()), "--serve", name,
               "--port", str(port)]  # fmt: skip
        with Server(name, cmd, env, port, plan.workdir / f"{name}.log") as server:
            outcomes.append(measure(plan, server, base, name != "bare"))

    def real(name: str, database_url: str, count: Callable[[], dict[str, int]]) -> None:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = clean_env(
            RECOOP_DATABASE_URL=database_url,
            RECOOP_TWILIO_AUTH_TOKEN=plan.token,
            RECOOP_PUBLIC_BASE_URL=base,
        )
        cmd = [recoop, "serve", "--port", str(port), "--role", "web"]
        log = plan.workdir / f"{name}.log"
        with Server(name, cmd, env, port, log, ready_path="/readyz") as server:
            outcome = measure(plan, server, base, checks_signature=True)
            if outcome.result is not None:
                time.sleep(1.0)  # the last requests in flight finish
                outcome.db = count()
        outcomes.append(outcome)

    def minimal() -> None:
        assert plan.pg_url
        with scratch_database(plan.pg_url, f"recoop_bench_{plan.run_id}_min") as urls:
            reference("minimal-asyncpg", BENCH_PG_DSN=urls[0])

    def real_sqlite() -> None:
        db = plan.workdir / f"recoop_bench_{plan.run_id}.db"
        try:
            real("real-sqlite", f"sqlite+aiosqlite:///{db}", lambda: count_sqlite(db))
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)

    def real_postgres() -> None:
        assert plan.pg_url
        name = f"recoop_bench_{plan.run_id}_real"
        with scratch_database(plan.pg_url, name) as (dsn, sa_url):
            upgrade = subprocess.run(
                [recoop, "db", "upgrade"],
                env=clean_env(RECOOP_DATABASE_URL=sa_url),
                cwd=plan.workdir,
                capture_output=True,
                text=True,
                timeout=120,
            )
            if upgrade.returncode != 0:
                raise RuntimeError(f"recoop db upgrade failed: {upgrade.stderr[-800:]}")
            real("real-postgres", sa_url, lambda: count_postgres(dsn))

    steps: list[tuple[str, Callable[[], None]]] = [("bare", lambda: reference("bare"))]
    if plan.pg_url:
        steps.append(("minimal-asyncpg", minimal))
    steps.append(("real-sqlite", real_sqlite))
    if plan.pg_url:
        steps.append(("real-postgres", real_postgres))
    for name, step in steps:
        print(f"- {name}", flush=True)
        try:
            step()
        except Exception as exc:  # one broken server must not hide the others
            print(f"  ! {name} failed: {exc}", flush=True)
            outcomes.append(Outcome(name, failed=f"{type(exc).__name__}: {exc}"[:400]))
    return outcomes


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------


def report(outcomes: list[Outcome]) -> bool:
    """Print the table, the ratios and the targets; True when every target is met."""
    by_name = {o.name: o for o in outcomes}
    head = f"{'server':<16} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6}"
    print(f"\n{head}  cpu cores server/wrk/pg/other  load")
    print("-" * (len(head) + 37))
    for o in outcomes:
        if o.result is None:
            print(f"{o.name:<16} failed: {o.failed}")
            continue
        r, c = o.result, o.cpu
        cpu = f"{c.server:.2f}/{c.wrk:.2f}/{c.postgres:.2f}/{c.other:.2f}" if c else "-"
        print(
            f"{o.name:<16} {r.rps:>8,.0f} {r.p50_ms:>7.2f} {r.p99_ms:>7.2f} "
            f"{r.errors:>6,}  {cpu:>29}  {o.load1:.2f}"
            + ("  <- errors: not a valid run" if r.errors else "")
        )
    print()
    for o in outcomes:
        if o.result is None:
            continue
        r = o.result
        socket_errors = ", ".join(f"{k} {v}" for k, v in r.socket_errors.items() if v)
        print(
            f"{o.name}: {r.requests:,} requests measured; non-2xx {r.non2xx:,}; "
            f"socket errors {socket_errors or 'none'}; {o.sent:,} sent with the "
            f"warm-up, {o.distinct:,} distinct MessageSids"
        )
        if r.wrapped and o.name != "bare":
            print("  ! the requests ran out and were sent again: use --requests")
        if o.db is not None:
            rows, expected = o.db["inbound messages"], o.distinct + 1  # + the probe
            verdict = "ok" if rows == expected else "MISMATCH"
            print("  database: " + ", ".join(f"{k} {v:,}" for k, v in o.db.items()))
            print(
                f"  inbound rows = distinct MessageSids + 1 probe "
                f"({expected:,}): {verdict}"
            )

    def rps(name: str) -> float | None:
        got = by_name.get(name)
        return got.result.rps if got and got.result and not got.result.errors else None

    print("\nratios (req/s):")
    ref = "minimal-asyncpg"
    for a, b in [("real-postgres", ref), ("real-sqlite", ref),
                 ("real-postgres", "bare"), ("real-sqlite", "bare"),
                 (ref, "bare")]:  # fmt: skip
        ra, rb = rps(a), rps(b)
        print(f"  {a} / {b}: " + (f"{ra / rb:.1%}" if ra and rb else "n/a"))

    print("\ntargets (issue 2):")
    all_met = True
    for name, floor in (("real-postgres", TARGET_PG), ("real-sqlite", TARGET_SQLITE)):
        found = by_name.get(name)
        if found is None or found.result is None:
            print(f"  {name}: not measured")
            all_met = False
            continue
        r, minimal = found.result, rps("minimal-asyncpg")
        met = r.rps >= floor and r.p99_ms < TARGET_P99_MS and not r.errors
        all_met &= met
        share = f"; {r.rps / minimal:.0%} of minimal-asyncpg" if minimal else ""
        print(
            f"  {name}: {r.rps:,.0f} req/s (>= {floor:,.0f}), p99 {r.p99_ms:.1f} ms "
            f"(< {TARGET_P99_MS:.0f}), errors {r.errors}{share}: "
            + ("met" if met else "NOT MET")
        )
    for o in outcomes:
        if o.profile is not None and o.profile.exists():
            print(f"\npy-spy on {o.name} during the measured run:")
            expected = SPY_RATE * profile_seconds(o.seconds)
            print(top_frames(o.profile, expected))
    return all_met


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Inbound-SMS throughput and p50/p99 latency with wrk: a bare "
        "aiohttp handler, signature check + one raw asyncpg insert, and the real "
        "service on SQLite and on PostgreSQL."
    )
    arg = parser.add_argument
    arg("--seconds", type=float, default=10.0, help="measured seconds per server")
    arg("--connections", type=int, default=64)
    arg("--threads", type=int, default=2, help="wrk threads")
    arg(
        "--postgres-url",
        default=os.environ.get("RECOOP_TEST_POSTGRES_URL") or DEFAULT_PG,
        help="server for scratch databases ('' skips the PostgreSQL servers)",
    )
    arg("--requests", type=int, default=0, help="distinct requests (8,000 per s)")
    arg("--senders", type=int, default=5_000, help="distinct phone numbers")
    arg("--runs", type=int, default=1, help="repeat the whole benchmark")
    arg("--seed", type=int, default=1)
    arg("--max-load", type=float, default=1.5, help="wait while the load is above")
    arg("--max-busy", type=float, default=0.5, help="... or others use more cores")
    arg("--max-wait", type=float, default=600.0, help="longest wait per run, s")
    arg("--profile", action="store_true", help="sample every server with py-spy")
    arg("--keep-logs", type=Path, help="copy the servers' logs into this folder")
    arg("--serve", choices=["bare", "minimal-asyncpg"], help=argparse.SUPPRESS)
    arg("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve_reference(args.serve, args.port)
        return 0

    def interrupted(*_: object) -> None:
        raise KeyboardInterrupt  # unwinds through every `with`: servers, databases

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return bench(args)
    except KeyboardInterrupt:
        print(
            "\ninterrupted: servers stopped, scratch databases dropped", file=sys.stderr
        )
        return 130


def bench(args: argparse.Namespace) -> int:
    """Generate the traffic once, then `--runs` runs over every server."""
    wrk_binary = ensure_wrk()
    pg_url: str | None = args.postgres_url or None
    if pg_url and (problem := postgres_reachable(pg_url)):
        print(f"PostgreSQL unreachable ({problem}): its two servers are skipped")
        pg_url = None
    count = args.requests or int(8_000 * (args.seconds + WARMUP_S))
    print(f"generating {count:,} signed inbound SMS from {args.senders:,} numbers")
    traffic = make_traffic(count, args.senders, args.seed)
    print(
        "mix: "
        + ", ".join(f"{k} {v / count:.1%}" for k, v in traffic.mix.most_common())
    )
    all_met = True
    with tempfile.TemporaryDirectory(prefix="recoop-bench-") as tmp:
        workdir = Path(tmp)
        (workdir / "requests.lua").write_text(WRK_LUA)
        wrk = Wrk(wrk_binary, workdir / "requests.lua", args.connections, args.threads)
        for run in range(1, args.runs + 1):
            print(
                f"\n=== run {run}/{args.runs}: {args.seconds:g} s per server after a "
                f"{WARMUP_S:g} s warm-up, {args.connections} connections ===",
                flush=True,
            )
            deadline = time.monotonic() + args.max_wait
            _, busy = wait_for_quiet(deadline, args.max_busy, args.max_load)
            print(f"load average {os.getloadavg()}, {busy:.2f} cores in use elsewhere")
            plan = Plan(wrk, traffic, args.seconds, workdir, secrets.token_hex(16),
                        pg_url, args.max_busy, deadline, args.profile,
                        f"{os.getpid()}_{run}_{secrets.token_hex(3)}")  # fmt: skip
            all_met &= report(run_once(plan))
            if args.keep_logs:
                args.keep_logs.mkdir(parents=True, exist_ok=True)
                for f in workdir.glob("*.log"):
                    shutil.copy(f, args.keep_logs / f"run{run}-{f.name}")
                print(f"\nserver logs: {args.keep_logs}")
            if args.profile:
                kept = Path(tempfile.mkdtemp(prefix="recoop-bench-pyspy-"))
                for f in workdir.glob("*.pyspy.txt"):
                    shutil.move(f, kept / f.name)
                print(f"\npy-spy raw stacks: {kept}")
    return 0 if all_met else 1


if __name__ == "__main__":
    sys.exit(main())
