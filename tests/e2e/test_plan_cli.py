"""`recoop plan --date` and `recoop solve`, run as an operator runs them: the
installed command in its own process, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from service.bootstrap import build
from service.domain.commands import AddBike, AddHub, InboundSms, RegisterCollector
from service.domain.pluscodes import encode
from service.gateways._masking import mask_phone
from service.settings import Settings
from tests.builders import random_phone
from tests.conftest import PG_URL
from tests.support.pg import scratch_database

RECOOP = str(Path(sys.executable).with_name("recoop"))
DATA = Path(__file__).parents[1] / "unit" / "routes_planner" / "data"


async def recoop(
    *args: str, cwd: Path, url: str | None = None, stdin: str = ""
) -> tuple[int, str, str]:
    """Run the `recoop` command (against the database at `url`, if given), with
    ``stdin`` as its input (a pipe: no terminal)."""
    env = {**os.environ, **({"RECOOP_DATABASE_URL": url} if url else {})}
    proc = await asyncio.create_subprocess_exec(
        RECOOP,
        *args,
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@pytest.fixture
async def cli_url(db_kind: str, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database the command can reach by URL, migrated as the runbook says."""
    if db_kind == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/recoop.db"
        return
    async with scratch_database(PG_URL, "recoop_cli") as scratch:
        code, _, err = await recoop("db", "upgrade", url=scratch.url, cwd=tmp_path)
        assert code == 0, err
        yield scratch.url


async def _day_with_two_requests(url: str) -> list[str]:
    """A hub, a bike with its collector, and two households that asked for a pickup."""
    from service.cli import ensure_schema

    settings = Settings.from_env({}, database_url=url)
    await ensure_schema(settings)
    deps = build(settings, background=[])
    try:
        hub = await deps.bus.handle(AddHub("Yaba hub", 6.5095, 3.3711))
        rider = await deps.bus.handle(RegisterCollector("Musa", random_phone()))
        await deps.bus.handle(
            AddBike("bike-1", hub, capacity_kg=80, collector_id=rider)
        )
        phones = []
        for i, (lat, lon) in enumerate([(6.5063, 3.3726), (6.5183, 3.3739)]):
            phone = random_phone()
            for n, body in enumerate(
                [f"JOIN Person {i}, {encode(lat, lon)}", "PICKUP"]
            ):
                await deps.bus.handle(
                    InboundSms("twilio", f"SMcli{i}{n}", phone, body, deps.clock.now())
                )
            phones.append(phone)
        return phones
    finally:
        await deps.close()


async def test_recoop_plan_schedules_the_day_and_sends_the_texts(
    cli_url: str, tmp_path: Path
) -> None:
    """The summary is JSON; every household and the collector get their SMS at once."""
    phones = await _day_with_two_requests(cli_url)
    day = date.today() + timedelta(days=1)
    code, out, err = await recoop(
        "plan", "--date", day.isoformat(), "--seconds", "0.5", url=cli_url, cwd=tmp_path
    )
    assert code == 0, err
    summary = json.loads(out)  # nothing but the summary on stdout
    assert summary["day"] == day.isoformat()
    assert (summary["rounds"], summary["scheduled"], summary["unplanned"]) == (1, 2, [])
    # The console gateway prints each SMS it sends beside the log, numbers masked.
    texts = [line for line in err.splitlines() if line.startswith("SMS to ")]
    assert texts and not any(phone in err for phone in phones)
    for phone in phones:
        [sent] = [t for t in texts if t.startswith(f"SMS to {mask_phone(phone)}:")]
        assert f"pickup: {day.strftime('%a %d %b')}, between" in sent
    assert sum("/collector?round=" in t for t in texts) == 1

    settings = Settings.from_env({}, database_url=cli_url)
    deps = build(settings, background=[])
    try:
        scheduled = (await deps.views.pickups(status="scheduled")).items
        assert sorted(p["phone"] for p in scheduled) == sorted(phones)
        assert await deps.dispatcher.run_once() == 0  # nothing left to send
    finally:
        await deps.close()

    code, out, err = await recoop(
        "plan", "--date", "tomorrow", url=cli_url, cwd=tmp_path
    )
    assert code != 0 and "--date must be YYYY-MM-DD" in err
    yesterday = (date.today() - timedelta(days=2)).isoformat()
    code, out, err = await recoop(
        "plan", "--date", yesterday, url=cli_url, cwd=tmp_path
    )
    assert code != 0 and out == ""
    assert f"recoop plan: {yesterday} has passed" in err and "Traceback" not in err


async def test_recoop_solve_prints_the_contract_json(tmp_path: Path) -> None:
    """`recoop solve FILE --json` visits every customer once, at the cost it prints."""
    from routes_planner.vrplib import read_file

    path = DATA / "X-n101-k25.vrp"
    code, out, err = await recoop(
        "solve", str(path), "--seconds", "1", "--json", cwd=tmp_path
    )
    assert code == 0, err
    answer: dict[str, Any] = json.loads(out)
    assert set(answer) == {"cost", "routes"}
    visited = sorted(c for route in answer["routes"] for c in route)
    assert visited == list(range(1, 101))
    assert answer["cost"] == read_file(path).cost(answer["routes"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--seconds", "0"], "'0' is not a number of seconds above 0"),
        (["--seconds", "-5"], "'-5' is not a number of seconds above 0"),
        (["--seconds", "nan"], "'nan' is not a number of seconds above 0"),
        (["--seconds", "ten"], "'ten' is not a number of seconds above 0"),
    ],
)
async def test_recoop_solve_refuses_a_budget_that_is_not_one(
    tmp_path: Path, args: list[str], message: str
) -> None:
    """A budget of 0, below 0, NaN (which never ran out) or not a number: usage error."""
    code, out, err = await recoop(
        "solve", str(DATA / "X-n101-k25.vrp"), *args, cwd=tmp_path
    )
    assert (code, out) == (2, "") and message in err


async def test_recoop_solve_names_a_file_it_cannot_read(tmp_path: Path) -> None:
    """A missing, empty or garbled file is named with the reason, no traceback."""
    (tmp_path / "empty.vrp").write_text("")
    (tmp_path / "garbled.vrp").write_text("NAME : x\nTYPE : CVRP\nDIMENSION : 3\n")
    cases = {
        "missing.vrp": "cannot read missing.vrp: No such file or directory",
        "empty.vrp": "empty.vrp is not a CVRPLIB/VRPLIB or Solomon instance",
        "garbled.vrp": "garbled.vrp is not a CVRPLIB/VRPLIB or Solomon instance",
    }
    for name, message in cases.items():
        code, out, err = await recoop("solve", name, "--seconds", "1", cwd=tmp_path)
        assert code == 2 and out == "", (name, err)
        assert message in err and "Traceback" not in err, (name, err)


async def test_recoop_operator_create_as_design_says(
    cli_url: str, tmp_path: Path
) -> None:
    """`recoop operator create --name NAME` without a terminal generates a password
    and prints it once; with --password-stdin it takes the one given. Both sign in."""
    code, out, err = await recoop(
        "operator", "create", "--name", "Amaka", url=cli_url, cwd=tmp_path
    )
    assert code == 0, err
    assert "created operator amaka" in out
    generated = out.split("password (shown only now): ")[1].split()[0]
    assert len(generated) >= 16
    code, out, err = await recoop(
        "operator",
        "create",
        "--name",
        "bayo",
        "--password-stdin",
        url=cli_url,
        cwd=tmp_path,
        stdin="a long enough passphrase\n",
    )
    assert code == 0 and "shown only now" not in out, err
    code, out, err = await recoop(
        "operator",
        "create",
        "chidi",
        url=cli_url,
        cwd=tmp_path,
        stdin="piped passphrase 42\npiped passphrase 42\n",
    )
    assert code == 0 and "shown only now" not in out, err  # piped, as getpass reads
    code, out, err = await recoop("operator", "create", url=cli_url, cwd=tmp_path)
    assert code == 2 and "give a name" in err
    deps = build(Settings.from_env({}, database_url=cli_url), background=[])
    try:
        assert await deps.auth.operator_login("amaka", generated)
        assert await deps.auth.operator_login("bayo", "a long enough passphrase")
        assert not await deps.auth.operator_login("bayo", generated)
        assert await deps.auth.operator_login("chidi", "piped passphrase 42")
    finally:
        await deps.close()
