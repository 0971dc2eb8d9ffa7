"""The SMS gateway and the payout provider down for a minute (issue 6, fault tests).

The same scenario as tests/e2e/test_faults.py::test_gateway_and_payout_provider_outage
(tests/support/outage.py), with the outage that issue 6 names and the service's
production timings: httpx's 10 s timeout, the payout poller's first look after 15 s.
A fake Twilio and a fake MTN MoMo on loopback answer 500s and hang for `--seconds`;
the app runs in this process with real settings on a real port.

    .venv/bin/python tests/bench/faults_minute.py [--seconds 60] [--households 20]
        [--database postgres|sqlite] [--postgres-url URL]

Exit status 0 when nothing was lost, doubled or sent after its expiry.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.support.outage import run_outage  # noqa: E402
from tests.support.pg import scratch_database  # noqa: E402

DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


async def main_async(args: argparse.Namespace) -> int:
    started = time.monotonic()
    if args.database == "postgres":
        async with scratch_database(args.postgres_url, "recoop_bench_faults") as db:
            report = await run_outage(
                db.url,
                outage_s=args.seconds,
                households=args.households,
                http_timeout_s=args.http_timeout,
                first_poll_after_s=None,  # the service's own 15 s
                settle_timeout_s=args.settle_timeout,
            )
    else:
        with tempfile.TemporaryDirectory(prefix="recoop-faults-") as tmp:
            report = await run_outage(
                f"sqlite+aiosqlite:///{tmp}/faults.db",
                outage_s=args.seconds,
                households=args.households,
                http_timeout_s=args.http_timeout,
                first_poll_after_s=None,
                settle_timeout_s=args.settle_timeout,
            )
    print(report.summary())
    print(f"whole run {time.monotonic() - started:.0f} s")
    if report.problems:
        print("PROBLEMS:")
        for problem in report.problems:
            print(f"  - {problem}")
        return 1
    print("nothing lost, nothing doubled, nothing sent after its expiry")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="outage length")
    parser.add_argument("--households", type=int, default=20)
    parser.add_argument(
        "--http-timeout", type=float, default=10.0, help="the service's HTTP timeout"
    )
    parser.add_argument(
        "--settle-timeout",
        type=float,
        default=None,
        help="longest wait after the outage (default 3x the outage, at least 60 s)",
    )
    parser.add_argument(
        "--database", choices=["postgres", "sqlite"], default="postgres"
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("RECOOP_TEST_POSTGRES_URL") or DEFAULT_PG,
    )
    args = parser.parse_args(argv)
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
