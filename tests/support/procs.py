"""`recoop` subprocesses for process-level tests: start, wait ready, scrape, kill."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

VENV_BIN = Path(sys.executable).parent
RECOOP = str(VENV_BIN / "recoop")
HOSTNAME = socket.gethostname()


def clean_env(settings: Mapping[str, str]) -> dict[str, str]:
    """The environment without any RECOOP_* of ours, plus `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECOOP_")}
    env.update(settings)
    return env


def db_upgrade(env: Mapping[str, str], cwd: Path) -> None:
    result = subprocess.run(
        [RECOOP, "db", "upgrade"],
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"recoop db upgrade failed:\n{result.stderr[-3000:]}")


class RecoopServer:
    """One `recoop serve` process on 127.0.0.1:port; its output goes to `log`."""

    def __init__(
        self,
        name: str,
        role: str,
        port: int,
        env: Mapping[str, str],
        workdir: Path,
    ) -> None:
        self.name, self.role, self.port = name, role, port
        self.env = dict(env)
        self.workdir = workdir
        self.log = workdir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.killed_at: float | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def owner(self) -> str:
        """How the scheduler names this process in job_runs (hostname:pid)."""
        return f"{HOSTNAME}:{self.pid}"[:80]

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        cmd = [RECOOP, "serve", "--role", self.role, "--host", "127.0.0.1",
               "--port", str(self.port)]  # fmt: skip
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                cmd,
                env=self.env,
                cwd=self.workdir,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    async def wait_ready(
        self, session: aiohttp.ClientSession, timeout: float = 90
    ) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive:
                raise RuntimeError(f"{self.name} exited at start:\n{self.tail()}")
            try:
                async with session.get(
                    self.base + "/readyz", timeout=aiohttp.ClientTimeout(total=2)
                ) as resp:
                    if resp.status == 200:
                        return
            except (TimeoutError, aiohttp.ClientError):
                pass
            await asyncio.sleep(0.2)
        raise RuntimeError(f"{self.name} not ready in {timeout:g} s:\n{self.tail()}")

    async def status(self, session: aiohttp.ClientSession, path: str) -> int:
        try:
            async with session.get(
                self.base + path, timeout=aiohttp.ClientTimeout(total=5)
            ) as resp:
                await resp.read()
                return resp.status
        except (TimeoutError, aiohttp.ClientError):
            return 0

    async def metrics(self, session: aiohttp.ClientSession) -> dict[str, float]:
        """Every sample as 'name{label="v",...}' -> value (labels sorted)."""
        async with session.get(
            self.base + "/metrics", timeout=aiohttp.ClientTimeout(total=10)
        ) as resp:
            resp.raise_for_status()
            text = await resp.text()
        return parse_metrics(text)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no cleanup, as a crash or an OOM kill."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.killed_at = time.monotonic()
        self.proc.wait(timeout=10)

    def stop(self, timeout: float = 20) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        else:
            self.proc.wait()

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])


def parse_metrics(text: str) -> dict[str, float]:
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = (
                sample.value
            )
    return samples


def rss_kib(pid: int) -> int | None:
    """Resident set size of `pid` in KiB (VmRSS), None when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of `pid` so far."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
