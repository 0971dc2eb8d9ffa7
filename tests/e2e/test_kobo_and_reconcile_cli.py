"""KoboToolbox submissions become weighings once; `recoop reconcile` reports and exits right."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from service.domain.commands import SetRate
from tests.builders import random_phone

DATA = Path(__file__).parents[1] / "data" / "kobo"


@pytest.fixture
def kobo_auth() -> dict[str, str]:
    """Basic auth matching the settings below."""
    return {"Authorization": "Basic " + base64.b64encode(b"kobo:pw-123").decode()}


@pytest.fixture
def settings(settings: Any) -> Any:
    """Kobo credentials configured."""
    from pydantic import SecretStr

    return settings.model_copy(
        update={"kobo_username": "kobo", "kobo_password": SecretStr("pw-123")}
    )


async def test_kobo_submission_weighs_once(
    client: Any, text: Any, deps: Any, clock: Any, kobo_auth: dict[str, str]
) -> None:
    """A Kobo submission credits the pickup; Kobo's retries of it change nothing."""
    phone = random_phone()
    await text("JOIN Ada, Yaba", phone)
    await text("PICKUP", phone)
    code = (await deps.views.pickups(status="open")).items[0]["code"]
    await deps.bus.handle(SetRate("PET", 5000, clock.today() - timedelta(days=3)))
    await deps.bus.handle(SetRate("ALU", 12000, clock.today() - timedelta(days=3)))
    payload = json.loads((DATA / "weighing_web.json").read_text())
    payload["pickup_code"] = code
    for key in ("collected_at", "end", "start"):
        payload[key] = clock.now().isoformat()
    for _ in range(3):
        resp = await client.post(
            "/webhooks/kobo/collections", json=payload, headers=kobo_auth
        )
        assert resp.status == 201
    body = await resp.json()
    assert body["credited_kobo"] == (2500 + 1250) * 5 + 400 * 12
    assert (await deps.money.money_summary())["weighings"] == 1


async def test_kobo_refusals(client: Any, kobo_auth: dict[str, str]) -> None:
    """No auth 401, bad JSON 400, unknown code 422 (so Kobo stops retrying)."""
    payload = json.loads((DATA / "weighing_web.json").read_text())
    assert (await client.post("/webhooks/kobo/collections", json=payload)).status == 401
    bad = {"Authorization": "Basic " + base64.b64encode(b"kobo:wrong").decode()}
    assert (
        await client.post("/webhooks/kobo/collections", json=payload, headers=bad)
    ).status == 401
    resp = await client.post(
        "/webhooks/kobo/collections", data=b"{nope", headers=kobo_auth
    )
    assert resp.status == 400
    resp = await client.post(
        "/webhooks/kobo/collections", json=payload, headers=kobo_auth
    )
    assert resp.status == 422


def test_reconcile_cli_exit_codes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """`recoop reconcile --json` prints the contract shape; exit 0 clean, 1 with differences."""
    import asyncio

    from service.bootstrap import build
    from service.cli import main
    from service.ledger import accounts as acc
    from service.ledger.postings import Kobo, Transfer
    from service.persistence.ledger import Ledger
    from service.persistence.tables import households, payouts
    from service.settings import Settings

    url = f"sqlite+aiosqlite:///{tmp_path}/cli.db"
    monkeypatch.setenv("RECOOP_DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)

    async def seed() -> None:
        from datetime import UTC, datetime

        from service.cli import ensure_schema

        settings = Settings()
        await ensure_schema(settings)
        deps = build(settings, background=[])
        now = datetime(2026, 11, 23, tzinfo=UTC)
        async with deps.db.writer.begin() as conn:
            await conn.execute(
                households.insert().values(
                    id=1,
                    phone="+2348030000001",
                    name="A",
                    address="B",
                    language="en",
                    status="active",
                    created_at=now,
                    updated_at=now,
                )
            )
            ledger = Ledger(conn)
            await ledger.record(
                Transfer(
                    "c1", acc.CREDIT_EXPENSE, acc.household(1), Kobo(100000), "weighing"
                ),
                now=now,
            )
            for i, (ref, status) in enumerate(
                [("ref-a", "succeeded"), ("ref-b", "failed")]
            ):
                rec = await ledger.record(
                    Transfer(
                        f"h{i}",
                        acc.household(1),
                        acc.provider_float("sandbox"),
                        Kobo(5000),
                        "airtime",
                    ),
                    now=now,
                    pending=True,
                )
                await ledger.settle(
                    rec.id, "posted" if status == "succeeded" else "voided", now
                )
                await conn.execute(
                    payouts.insert().values(
                        reference=ref,
                        household_id=1,
                        kind="airtime",
                        provider="sandbox",
                        amount_kobo=5000,
                        destination="+2348030000001",
                        status=status,
                        transfer_id=rec.id,
                        next_attempt_at=now,
                        expires_at=now,
                        created_at=now,
                    )
                )
        await deps.close()

    asyncio.run(seed())
    good = tmp_path / "good.csv"
    good.write_text(
        "reference,amount_kobo,currency,status,completed_at\nref-a,5000,NGN,succeeded,2026-11-23T09:00:00Z\nref-b,5000,NGN,failed,2026-11-23T09:00:00Z\n"
    )
    assert main(["reconcile", "--provider", "sandbox", str(good), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["matched"] == 2
    assert set(report) >= {
        "matched",
        "missing_in_ledger",
        "missing_in_statement",
        "amount_mismatch",
        "duplicate_reference",
        "status_mismatch",
    }
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "reference,amount_kobo,currency,status,completed_at\nref-a,5000,NGN,failed,x\nref-x,100,NGN,succeeded,x\n"
    )
    assert main(["reconcile", "--provider", "sandbox", str(bad), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["status_mismatch"] == ["ref-a"] and report["missing_in_ledger"] == [
        "ref-x"
    ]
    assert report["missing_in_statement"] == ["ref-b"]
    assert main(["reconcile", "--provider", "sandbox", str(bad)]) == 1
    assert "ref-x" in capsys.readouterr().out
    (tmp_path / "junk.csv").write_text("what,is,this\n")
    with pytest.raises(SystemExit) as exc:
        main(["reconcile", "--provider", "sandbox", str(tmp_path / "junk.csv")])
    assert "line 1" in str(exc.value.code)
    # MoMo and AT publish no statement file: ask their status API instead.
    with pytest.raises(SystemExit) as exc:
        main(["reconcile", "--provider", "momo", str(good)])
    assert "--from-provider" in str(exc.value.code)
    with pytest.raises(SystemExit) as exc:
        main(["reconcile", "--provider", "momo"])
    assert "statement file or --from-provider" in str(exc.value.code)
    with pytest.raises(SystemExit) as exc:
        main(["reconcile", "--provider", "momo", "--from-provider"])
    assert "not configured" in str(exc.value.code)
    # The sandbox answers status calls too; these payouts were written straight into
    # the ledger, so the sandbox never received them: all missing from its side.
    capsys.readouterr()
    assert (
        main(["reconcile", "--provider", "sandbox", "--from-provider", "--json"]) == 1
    )
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert report["matched"] == 0 and report["missing_in_statement"]
    assert "never received by the provider" in err
