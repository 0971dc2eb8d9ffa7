"""Request ids from webhook to SMS, JSON logs, /metrics figures and SMS abuse guards."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from service.domain.commands import SendSms
from service.logs import JsonFormatter, RequestIdFilter, ScrubFilter
from service.persistence.tables import outbox

AT_FORM = {
    "from": "+2348035550000",
    "to": "32123",
    "text": "JOIN Musa Bello, Sabo Yaba",
    "id": "ATXid_obs",
    "linkId": "",
    "date": "2026-11-23 08:00:00",
}


async def _outbox_rows(deps: Any) -> list[Any]:
    async with deps.db.reader.connect() as conn:
        return list((await conn.execute(sa.select(outbox).order_by(outbox.c.id))).all())


async def test_request_id_follows_a_webhook_to_the_sms_it_causes(
    client: Any, deps: Any, fake_sms: Any, caplog: Any
) -> None:
    resp = await client.post(
        "/webhooks/africastalking/sms?token=at-secret",
        data=AT_FORM,
        headers={"X-Request-Id": "edge-7f3a9c01"},
    )
    assert resp.status == 200
    assert resp.headers["X-Request-Id"] == "edge-7f3a9c01"
    [row] = await _outbox_rows(deps)
    assert row.request_id == "edge-7f3a9c01"

    caplog.set_level(logging.INFO, logger="service.dispatcher")
    handler = logging.Handler()
    lines: list[str] = []
    handler.emit = lambda record: lines.append(JsonFormatter().format(record))  # type: ignore[method-assign]
    handler.addFilter(ScrubFilter())
    handler.addFilter(RequestIdFilter())
    logging.getLogger("service.dispatcher").addHandler(handler)
    try:
        await deps.dispatcher.run_once()
    finally:
        logging.getLogger("service.dispatcher").removeHandler(handler)
    assert len(fake_sms.to("+2348035550000")) == 1
    [entry] = [json.loads(line) for line in lines if "sent SMS" in line]
    assert entry["request_id"] == "edge-7f3a9c01"
    assert entry["level"] == "info"
    assert "+2348035550000" not in entry["msg"]  # masked, never the full number


async def test_a_request_without_an_id_gets_one(client: Any) -> None:
    first = await client.get("/healthz")
    second = await client.get("/healthz", headers={"X-Request-Id": "bad id; drop"})
    assert len(first.headers["X-Request-Id"]) == 16
    assert second.headers["X-Request-Id"] not in (
        "bad id; drop",
        first.headers["X-Request-Id"],
    )


async def test_metrics_show_outbox_payouts_segments_and_leadership(
    client: Any, deps: Any, clock: Any
) -> None:
    await deps.bus.handle(SendSms("+2348031234567", "hello there", key="m1"))
    await deps.bus.handle(SendSms("+2348031234568", "later", key="m2"))
    clock.advance(seconds=90)
    await deps.dispatcher.run_once(limit=1)
    text = await (await client.get("/metrics")).text()
    assert 'recoop_outbox_rows{status="pending"} 1.0' in text
    assert 'recoop_outbox_rows{status="sent"} 1.0' in text
    assert "recoop_outbox_oldest_pending_seconds 90.0" in text
    assert 'recoop_sms_segments_total{gateway="fake"} 1.0' in text
    assert 'recoop_payouts{state="held"} 0.0' in text
    assert "recoop_scheduler_leader 0.0" in text


def test_json_log_lines_scrub_numbers_and_tokens() -> None:
    record = logging.LogRecord(
        "x",
        logging.ERROR,
        __file__,
        1,
        "to %s with Bearer %s",
        ("+2348031234567", "rk_ope_abcdefghijkl"),
        None,
    )
    ScrubFilter().filter(record)
    RequestIdFilter().filter(record)
    entry = json.loads(JsonFormatter().format(record))
    assert "+2348031234567" not in entry["msg"] and "abcdefghijkl" not in entry["msg"]
    assert entry["level"] == "error" and "request_id" not in entry


async def test_prefix_cap_holds_back_a_run_of_numbers(
    deps: Any, fake_sms: Any, caplog: Any
) -> None:
    """SMS pumping: many numbers in one range; the range's hourly cap defers the rest."""
    capped = deps.settings.model_copy(update={"sms_per_prefix_per_hour": 3})
    deps.dispatcher.settings = capped
    for n in range(5):
        await deps.bus.handle(SendSms(f"+23480312345{n:02d}", "promo", key=f"p{n}"))
    await deps.bus.handle(SendSms("+2348099999999", "other range", key="other"))
    with caplog.at_level(logging.WARNING, logger="service.dispatcher"):
        await deps.dispatcher.run_once()
    assert len(fake_sms.sent) == 4  # three in the range, one elsewhere
    rows = {r.key: r for r in await _outbox_rows(deps)}
    held = [r for r in rows.values() if r.status == "pending"]
    assert len(held) == 2
    assert all(r.last_error == "hourly cap for this prefix" for r in held)
    assert all(
        r.next_attempt_at > deps.clock.now() + timedelta(minutes=59) for r in held
    )
    assert deps.metrics.sms_cap_trips.labels("prefix")._value.get() == 2
    assert "SMS guard tripped: prefix limit" in caplog.text
    assert "+2348031234500" not in caplog.text


async def test_replies_are_not_counted_against_the_prefix_cap(
    client: Any, deps: Any, fake_sms: Any
) -> None:
    deps.dispatcher.settings = deps.settings.model_copy(
        update={"sms_per_prefix_per_hour": 1}
    )
    for n in range(3):
        form = dict(AT_FORM, id=f"ATXid_{n}", **{"from": f"+23480355500{n:02d}"})
        await client.post("/webhooks/africastalking/sms?token=at-secret", data=form)
    await deps.dispatcher.run_once()
    assert len(fake_sms.sent) == 3


async def test_only_allowed_countries_get_sms(
    deps: Any, fake_sms: Any, caplog: Any
) -> None:
    await deps.bus.handle(SendSms("+233241234567", "hello GH", key="uk"))
    await deps.bus.handle(SendSms("+2348031234567", "hello NG", key="ng"))
    with caplog.at_level(logging.WARNING, logger="service.dispatcher"):
        await deps.dispatcher.run_once()
    assert [m.to for m in fake_sms.sent] == ["+2348031234567"]
    rows = {r.key: r for r in await _outbox_rows(deps)}
    assert rows["uk"].status == "failed"
    assert "country not allowed" in rows["uk"].last_error
    assert deps.metrics.sms_cap_trips.labels("country")._value.get() == 1
    assert "SMS guard tripped: country" in caplog.text

    deps.dispatcher.settings = deps.settings.model_copy(
        update={"sms_allowed_countries": ("NG", "GH")}
    )
    await deps.bus.handle(SendSms("+233241234567", "hello again", key="uk2"))
    await deps.dispatcher.run_once()
    assert fake_sms.to("+233241234567") == ["hello again"]
