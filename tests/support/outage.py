"""The SMS gateway and a payout provider down at once: 500s and timeouts for a while.

One in-process `recoop serve --role all` (the app from service.bootstrap.build with
real settings, on a real port, with its dispatchers and scheduler running) sends SMS
through a fake Twilio and pays mobile money through a fake MTN MoMo. Both fakes
answer 500 or hang (past the client's timeout) for `outage_s` seconds; MoMo also
sometimes records a transfer and then hangs, so the service cannot know it was
received. Meanwhile households' weighings are logged and they cash out, and the
operator queues messages with long, short and borderline expiry times.

`run_outage` returns what happened; `problems` lists every broken promise:
nothing lost (every SMS sent or expired as it should be, every payout settled),
nothing doubled (each SMS accepted once, one transfer per payout, each hold settled
once), nothing sent after its expiry, and retries spaced by backoff, not hammered.
The default suite runs a few seconds of outage; tests/bench/faults_minute.py runs
the minute that issue 6 names.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import httpx
import sqlalchemy as sa
from aiohttp import web

from service.app import create_app
from service.bootstrap import build
from service.dispatcher import Backoff
from service.domain.commands import RegisterCollector, SendSms, SetRate
from service.domain.replies import format_naira, render
from service.persistence import tables
from service.persistence.migrate import upgrade
from service.settings import Settings
from tests.support.fake_momo import FakeMomo
from tests.support.fake_twilio import FakeTwilio
from tests.support.pg import free_port
from tests.support.sms_client import SmsClient

RATES = {"PET": 5000}
CREDIT_KOBO = 10_000  # LOG <code> PET 2: N100
CASHOUT_KOBO = 6_000  # CASHOUT 60


@dataclass
class OutageReport:
    outage_s: float
    households: int
    twilio: FakeTwilio
    momo: FakeMomo
    outbox: list[dict[str, Any]] = field(default_factory=list)
    payouts: list[dict[str, Any]] = field(default_factory=list)
    holds: dict[str, str] = field(default_factory=dict)  # reference -> transfer state
    trial_total: int | None = None
    groups: dict[str, list[str]] = field(default_factory=dict)  # group -> outbox keys
    drained_s: float = 0.0
    drained: bool = False
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        status = Counter(r["status"] for r in self.outbox)
        attempts = Counter(r["attempts"] for r in self.outbox if r["status"] == "sent")
        return (
            f"outage {self.outage_s:g} s: twilio refused {dict(self.twilio.refused)}, "
            f"momo refused {dict(self.momo.refused)}; outbox {dict(status)}, "
            f"attempts of sent rows {dict(sorted(attempts.items()))}; payouts "
            f"{dict(Counter(p['status'] for p in self.payouts))}, transfer POSTs "
            f"{sum(self.momo.posts.values())} for {len(self.momo.transfers)} transfers; "
            f"all settled {self.drained_s:.1f} s after the outage ended"
        )


def max_failed_tries(outage_s: float, backoff: Backoff | None = None) -> int:
    """Most tries one SMS can fail during the outage if retries follow the backoff.

    The n-th retry comes at least 0.5 * base * (2^n - 1) seconds after the first try
    (jitter is 50-100% of each step), so only the first few fit in the outage.
    """
    backoff = backoff or Backoff()
    tries, elapsed = 1, 0.0
    for n in range(1, 64):
        elapsed += 0.5 * min(backoff.cap_s, backoff.base_s * 2 ** (n - 1))
        if elapsed > outage_s:
            break
        tries += 1
    return tries


async def run_outage(
    database_url: str,
    *,
    outage_s: float,
    households: int = 20,
    http_timeout_s: float = 1.5,
    first_poll_after_s: float | None = 1.0,
    settle_timeout_s: float | None = None,
    seed: int = 1,
    log: Any = print,
) -> OutageReport:
    """Run the scenario on `database_url` (an empty database; migrated here)."""
    rng = random.Random(seed)
    token = "outage-auth-token-" + uuid.uuid4().hex
    account = "AC" + uuid.uuid4().hex
    twilio = FakeTwilio(account, token, hang_s=http_timeout_s * 2, rng=rng)
    momo = FakeMomo(
        subscription_key="sub-" + uuid.uuid4().hex,
        api_user=str(uuid.uuid4()),
        api_key=uuid.uuid4().hex,
        hang_s=http_timeout_s * 2,
        lost_callback_rate=0.3,
        rng=rng,
    )
    report = OutageReport(outage_s, households, twilio, momo)
    await twilio.start()
    await momo.start()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = Settings.from_env(
        {},
        database_url=database_url,
        public_base_url=base,
        sms_gateway="twilio",
        twilio_account_sid=account,
        twilio_auth_token=token,
        twilio_from="+2342017001234",
        twilio_api_base=twilio.api_base,
        payout_provider="momo",
        payout_callback_token="cb-" + uuid.uuid4().hex,
        momo_base_url=momo.base_url,
        momo_subscription_key=momo.subscription_key,
        momo_api_user=momo.api_user,
        momo_api_key=momo.api_key,
        momo_target_environment="sandbox",
        dispatcher_interval_s=0.1,
        leader_check_s=0.5,
        leader_lock_id=uuid.uuid4().int >> 65,
        db_pool_size=5,
    )
    # The real client, with a shorter timeout so a hung provider costs seconds.
    http = httpx.AsyncClient(timeout=httpx.Timeout(http_timeout_s))
    deps = build(settings, http=http)
    await upgrade(deps.db.writer)
    if first_poll_after_s is not None:
        deps.payout_dispatcher.first_poll_after = timedelta(seconds=first_poll_after_s)
    runner = web.AppRunner(create_app(deps, role="all"), access_log=None)
    session = aiohttp.ClientSession()
    try:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        await _scenario(report, deps, session, base, token, rng, settle_timeout_s, log)
    finally:
        await session.close()
        await momo.stop()  # after its last callbacks reached the app
        await runner.cleanup()  # stops the loops, then closes the database and client
        await twilio.stop()
    return report


async def _scenario(
    report: OutageReport,
    deps: Any,
    session: aiohttp.ClientSession,
    base: str,
    token: str,
    rng: random.Random,
    settle_timeout_s: float | None,
    log: Any,
) -> None:
    twilio, momo, outage_s = report.twilio, report.momo, report.outage_s
    client = SmsClient(session, [base], token, base, concurrency=8, rng=rng)
    today = deps.clock.today()
    await deps.bus.handle(SetRate("PET", RATES["PET"], today - timedelta(days=1)))
    collector = "+2348120000001"
    await deps.bus.handle(RegisterCollector("Outage collector", collector))
    phones = [f"+234803{9_000_000 + i:07d}" for i in range(report.households)]

    async def text(phone: str, body: str, key: str, **values: str) -> str | None:
        got = await client.deliver(body, phone)
        reply = got.replies[0]
        if got.status != 200:
            report.problems.append(f"{phone} {body!r}: HTTP {got.status}")
        elif key and reply != render(key, "en", **values):
            report.problems.append(f"{phone} {body!r}: unexpected reply {reply!r}")
        return reply

    # Before the outage: households join and ask for a pickup (no SMS queued yet).
    codes: dict[str, str] = {}
    for phone in phones:
        await text(phone, f"JOIN Outage {phone[-4:]}, Akoka Road", "welcome")
        reply = await text(phone, "PICKUP", "")
        codes[phone] = (reply or "").split("code is ")[-1].split(":")[0]

    amount = format_naira(CREDIT_KOBO)

    async def weigh_and_cash_out(phone: str) -> None:
        body = f"LOG {codes[phone]} PET 2"
        await text(collector, body, "logged", code=codes[phone], kg="2", amount=amount)
        await text(
            phone, "CASHOUT 60", "redeem_cashout",
            amount=format_naira(CASHOUT_KOBO),
            balance=format_naira(CREDIT_KOBO - CASHOUT_KOBO),
        )  # fmt: skip

    # One payout before the outage: the service holds a MoMo access token, as a
    # running service does, so the outage hits the transfers themselves.
    await weigh_and_cash_out(phones[0])
    waited = time.monotonic()
    while not momo.transfers and time.monotonic() - waited < 30:
        await asyncio.sleep(0.1)

    # The outage begins. Messages are queued before and during it.
    started = time.monotonic()
    wall = datetime.now(UTC)
    twilio.outage("mixed")
    momo.outage("mixed")
    groups: dict[str, list[str]] = {"long": [], "short": [], "edge": []}
    for i in range(10):
        for group, ttl in (
            ("long", 3600.0),
            ("short", outage_s / 2),  # expires during the outage: never sent
            ("edge", outage_s + 2.0),  # sent just in time, or expired: never late
        ):
            key = f"{group}-{i}-{uuid.uuid4().hex[:6]}"
            await deps.bus.handle(
                SendSms(
                    rng.choice(phones),
                    f"Recoop notice {key}",
                    key=key,
                    expires_at=wall + timedelta(seconds=ttl),
                )
            )
            groups[group].append(key)
    report.groups = groups
    for phone in phones[1:]:
        await weigh_and_cash_out(phone)
    remaining = outage_s - (time.monotonic() - started)
    if remaining > 0:
        await asyncio.sleep(remaining)
    else:
        report.problems.append(
            f"setting up took {outage_s - remaining:.1f} s, longer than the outage"
        )
    twilio.restore()
    momo.restore()
    ended = time.monotonic()
    log(f"outage of {outage_s:g} s over; waiting for the service to catch up")

    # After it: everything must go out by itself.
    limit = settle_timeout_s or max(60.0, outage_s * 3)
    while time.monotonic() - ended < limit:
        outbox, payouts = await _read(deps)
        if all(
            r["status"] in ("sent", "expired", "failed", "suppressed") for r in outbox
        ) and (
            len(payouts) == report.households
            and all(p["status"] in ("succeeded", "failed", "released") for p in payouts)
            and len(outbox) == 30 + 2 * report.households
        ):
            report.drained = True
            break
        await asyncio.sleep(0.25)
    report.drained_s = time.monotonic() - ended
    await asyncio.sleep(0.5)  # a send in flight lands, so a duplicate would show
    report.outbox, report.payouts = await _read(deps)
    report.holds = await _holds(deps)
    report.trial_total = (await deps.money.trial_balance())["total_kobo"]
    _check(report, phones)


async def _read(deps: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    o, p = tables.outbox.c, tables.payouts.c
    async with deps.db.reader.connect() as conn:
        outbox = await conn.execute(
            sa.select(o.key, o.to_phone, o.body, o.status, o.attempts, o.expires_at)
        )
        outbox_rows = [dict(r._mapping) for r in outbox]
        payouts = await conn.execute(
            sa.select(p.reference, p.destination, p.amount_kobo, p.status, p.kind)
        )
        return outbox_rows, [dict(r._mapping) for r in payouts]


async def _holds(deps: Any) -> dict[str, str]:
    p, t = tables.payouts, tables.transfers
    async with deps.db.reader.connect() as conn:
        rows = await conn.execute(
            sa.select(p.c.reference, t.c.state).join(t, t.c.id == p.c.transfer_id)
        )
        return {r.reference: r.state for r in rows}


def _check(report: OutageReport, phones: list[str]) -> None:
    problems = report.problems
    twilio, momo = report.twilio, report.momo
    if not report.drained:
        problems.append(f"not settled {report.drained_s:.0f} s after the outage")
    if not twilio.refused:
        problems.append("the SMS gateway outage refused nothing")
    if not any(k.startswith("transfer") for k in momo.refused):
        problems.append("the payout provider outage refused no transfer")

    by_key = {r["key"]: r for r in report.outbox}
    accepted = twilio.pairs()
    when: dict[tuple[str, str], list[float]] = {}
    for m in twilio.accepted:
        when.setdefault((m.to, m.body), []).append(m.at_wall)
    # Nothing doubled: each message accepted at most once, and only rows marked sent.
    for pair, n in accepted.items():
        if n > 1:
            problems.append(f"SMS to {pair[0]} sent {n} times: {pair[1]!r}")
    sent = Counter(
        (r["to_phone"], r["body"]) for r in report.outbox if r["status"] == "sent"
    )
    if set(accepted) != set(sent):
        problems.append(
            f"gateway and outbox disagree: {len(set(accepted) - set(sent))} accepted"
            f" but not marked sent, {len(set(sent) - set(accepted))} marked sent but"
            " never accepted"
        )
    # Nothing sent after its expiry.
    for r in report.outbox:
        for at in when.get((r["to_phone"], r["body"]), []):
            if datetime.fromtimestamp(at, UTC) > r["expires_at"]:
                problems.append(f"{r['key']} sent after it expired")
    # Nothing lost: what should go out went out, once; what expired never went out.
    for key in report.groups.get("long", []):
        if by_key[key]["status"] != "sent":
            problems.append(f"{key} (1 h to live) ended {by_key[key]['status']}")
    for key in report.groups.get("short", []):
        if by_key[key]["status"] != "expired":
            problems.append(
                f"{key} (expired in the outage) ended {by_key[key]['status']}"
            )
    for key in report.groups.get("edge", []):
        if by_key[key]["status"] not in ("sent", "expired"):
            problems.append(f"{key} ended {by_key[key]['status']}")
    receipts = [r for r in report.outbox if r["key"].startswith("receipt:")]
    notices = [r for r in report.outbox if r["key"].startswith("payout-")]
    if len(receipts) != report.households or len(notices) != report.households:
        problems.append(f"{len(receipts)} receipts and {len(notices)} payout notices")
    for r in receipts + notices:
        if r["status"] != "sent":
            problems.append(f"{r['key']} ended {r['status']}")
    # Retries with backoff: no SMS was tried more often than the backoff allows.
    bound = max_failed_tries(report.outage_s) + 1
    tried = max((r["attempts"] for r in report.outbox), default=0)
    if tried > bound:
        problems.append(f"an SMS was tried {tried} times; backoff allows {bound}")
    if not any(r["attempts"] > 1 for r in report.outbox if r["status"] == "sent"):
        problems.append("no SMS needed a retry: the outage did not bite")

    # Payouts: one transfer per payout at the provider, settled once in the ledger.
    references = {p["reference"] for p in report.payouts}
    if len(report.payouts) != report.households or {
        p["destination"] for p in report.payouts
    } != set(phones):
        problems.append(
            f"{len(report.payouts)} payouts for {report.households} cash-outs"
        )
    if set(momo.transfers) != references:
        problems.append(
            f"provider has {len(momo.transfers)} transfers for {len(references)} payouts"
        )
    for p in report.payouts:
        if p["status"] != "succeeded":
            problems.append(f"payout {p['reference'][:8]} ended {p['status']}")
        if report.holds.get(p["reference"]) != "posted":
            problems.append(
                f"hold of {p['reference'][:8]} is {report.holds.get(p['reference'])}"
            )
    for ref, transfer in momo.transfers.items():
        if transfer.amount != str(CASHOUT_KOBO // 100):
            problems.append(f"transfer {ref[:8]} for {transfer.amount}")
    if report.trial_total != 0:
        problems.append(f"trial balance is {report.trial_total}, not 0")
    notices_sent = Counter(r["to_phone"] for r in notices if r["status"] == "sent")
    if notices_sent != Counter(phones):
        problems.append("payout notices do not match the households, one each")
