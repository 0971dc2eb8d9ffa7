"""Money handlers: weighings credit households; redemptions hold, then post or void once."""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from service import phones
from service.clock import Clock
from service.domain.commands import (
    ExpireHolds,
    LogWeights,
    RecordPayoutResult,
    RegisterCollector,
    RegisterShop,
    RequestRedemption,
    ReverseWeighing,
    SetRate,
)
from service.domain.errors import Conflict, DomainError, InvalidInput, NotFound
from service.domain.events import SmsQueued
from service.domain.replies import format_naira, render
from service.domain.sms_parser import MATERIALS, PICKUP_CODE_ALPHABET
from service.ledger import accounts as acc
from service.ledger.postings import (
    IdempotencyConflict,
    InsufficientFunds,
    Kobo,
    Transfer,
    credit_for,
    fingerprint,
)
from service.persistence import money as db
from service.persistence.ledger import Ledger
from service.persistence.planning import pin_first_visits
from service.settings import Settings
from service.unit_of_work import UnitOfWork

PAYOUT_HOLD_TTL = timedelta(hours=24)
VOUCHER_TTL = timedelta(days=7)


class AlreadyCollected(DomainError):
    """The pickup was weighed already (under another key)."""


@dataclass(frozen=True, slots=True)
class WeighingAnswer:
    """The API answer for a weighing; a replay carries the first answer unchanged."""

    status_code: int
    body: dict[str, Any]
    replayed: bool = False


def kg_text(grams: int) -> str:
    """Grams as kg for an SMS: 3200 -> "3.2", 250 -> "0.25"."""
    text = f"{Decimal(grams) / 1000:,.3f}".rstrip("0").rstrip(".")
    return text or "0"


def local_midnight(clock: Clock, now: datetime) -> datetime:
    day = now.astimezone(clock.tz).date()
    return datetime.combine(day, time.min, tzinfo=clock.tz)


# --- rates -------------------------------------------------------------------------


async def set_rate(cmd: SetRate, uow: UnitOfWork, *, clock: Clock) -> None:
    """Add or replace the rate version for (material, date)."""
    if cmd.material not in MATERIALS:
        raise InvalidInput(f"material must be one of {', '.join(sorted(MATERIALS))}")
    if not isinstance(cmd.kobo_per_kg, int) or not 0 <= cmd.kobo_per_kg <= 10_000_000:
        raise InvalidInput("kobo_per_kg must be an integer from 0 to 10,000,000")
    async with uow:
        await db.upsert_rate(
            uow.conn,
            material=cmd.material,
            day=cmd.effective_from,
            kobo_per_kg=cmd.kobo_per_kg,
            set_by=cmd.set_by,
            now=clock.now(),
        )
        await uow.commit()


# --- weighing ----------------------------------------------------------------------


def weighing_fingerprint(cmd: LogWeights) -> str:
    return fingerprint(
        {
            "pickup_code": cmd.pickup_code,
            "items": [list(item) for item in cmd.items],
            "collected_at": cmd.collected_at.isoformat(),
            "lat": cmd.lat,
            "lon": cmd.lon,
        }
    )


async def log_weights(
    cmd: LogWeights, uow: UnitOfWork, *, clock: Clock, settings: Settings
) -> WeighingAnswer:
    """Record a weighing, credit the household and queue its receipt, exactly once."""
    async with uow:
        answer = await weigh(uow, cmd, clock=clock, settings=settings)
        await uow.commit()
    return answer


def check_items(cmd: LogWeights) -> None:
    """Refuse a weighing with no items, an unknown material or an impossible weight."""
    if not cmd.items:
        raise InvalidInput("a weighing needs at least one item")
    for material, grams in cmd.items:
        if material not in MATERIALS:
            raise InvalidInput(
                f"material must be one of {', '.join(sorted(MATERIALS))}"
            )
        if grams <= 0 or grams > 1_000_000:
            raise InvalidInput("each item weighs more than 0 and at most 1,000 kg")


def replay(seen: db.Seen, fp: str) -> WeighingAnswer:
    """The first answer for a key seen before, or why there is none."""
    if seen.fingerprint != fp:
        raise IdempotencyConflict(
            "this idempotency_key was already used for a different weighing"
        )
    if seen.response is None or seen.status_code is None:
        raise Conflict("the first request with this key has no answer yet")
    return WeighingAnswer(seen.status_code, json.loads(seen.response), replayed=True)


def missing_rates(cmd: LogWeights, rates: dict[str, int], day: date) -> str | None:
    missing = sorted({m for m, _ in cmd.items} - rates.keys())
    if not missing:
        return None
    return f"no rate is set for {', '.join(missing)} on {day.isoformat()}"


def weighing_body(
    cmd: LogWeights, weighing_id: int, household_id: int, credited: int, capped: bool
) -> dict[str, Any]:
    return {
        "id": weighing_id,
        "credited_kobo": credited,
        "household_id": household_id,
        "pickup_code": cmd.pickup_code,
        "status": "capped" if capped else "credited",
        "total_grams": sum(g for _, g in cmd.items),
    }


def receipt_text(language: str, grams: int, credited: int, balance: int) -> str:
    return render(
        "receipt",
        language,
        kg=kg_text(grams),
        amount=format_naira(credited),
        balance=format_naira(balance),
    )


def credit_key(pickup_id: int) -> str:
    """The credit transfer's key: one per pickup, so the ledger too credits it once."""
    return f"weighing:pickup:{pickup_id}"


def credit_fingerprint(household: str, amount: int) -> str:
    return Transfer(
        "weighing", acc.CREDIT_EXPENSE, household, Kobo(amount), "weighing"
    ).fingerprint()


async def weigh(
    uow: UnitOfWork, cmd: LogWeights, *, clock: Clock, settings: Settings
) -> WeighingAnswer:
    """The weighing inside the caller's transaction (API, Kobo and SMS share it).

    Every refusal comes before the first write but the key claim. The households'
    total (the outstanding-credit cap) is the last statement, so its hot row is
    locked only until the commit; past the cap the credit made a moment earlier in
    this transaction is taken back before anyone can see it.
    """
    now = clock.now()
    conn = uow.conn
    fp = weighing_fingerprint(cmd)
    seen = await db.claim_key(
        conn, scope=cmd.scope, key=cmd.idempotency_key, fingerprint=fp, now=now
    )
    if seen is not None:
        return replay(seen, fp)
    check_items(cmd)
    day = cmd.collected_at.astimezone(clock.tz).date()
    rates = await db.rates_in_force(conn, {m for m, _ in cmd.items}, day)
    no_rate = missing_rates(cmd, rates, day)
    pickup = None
    if no_rate is None:
        pickup = await db.close_pickup(conn, cmd.pickup_code, now)
    if pickup is None:
        existing = await db.pickup_by_code(conn, cmd.pickup_code)
        if existing is None:
            raise NotFound(f"no pickup has the code {cmd.pickup_code}")
        if existing.status == "done":
            raise AlreadyCollected(f"pickup {cmd.pickup_code} was already weighed")
        raise InvalidInput(no_rate) if no_rate else Conflict("the pickup changed")

    credit = int(credit_for([(grams, rates[m]) for m, grams in cmd.items]))
    total_grams = sum(g for _, g in cmd.items)
    ledger = Ledger(conn)
    household_account = acc.household(pickup.household_id)
    transfer_id = None
    if credit:
        transfer_id, balance = await ledger.credit_household(
            key=credit_key(pickup.id),
            household=household_account,
            amount=credit,
            fingerprint=credit_fingerprint(household_account, credit),
            kind="weighing",
            now=now,
        )
    else:
        balance = await ledger.balance(household_account)
    weighing_id = await db.add_weighing(
        conn,
        pickup_id=pickup.id,
        household_id=pickup.household_id,
        collected_at=cmd.collected_at,
        lat=cmd.lat,
        lon=cmd.lon,
        total_grams=total_grams,
        credited_kobo=credit,
        credit_status="credited",
        transfer_id=transfer_id,
        source=cmd.source,
        collector=cmd.collector[:80],
        created_at=now,
        items=[(m, g, rates[m]) for m, g in cmd.items],
    )
    await pin_first_visits(conn, [(pickup.household_id, cmd.lat, cmd.lon)], now)
    body = weighing_body(cmd, weighing_id, pickup.household_id, credit, False)
    receipt_key = f"receipt:{weighing_id}"
    text = receipt_text(pickup.language, total_grams, credit, balance.available)
    await db.save_answer_and_queue(
        conn,
        scope=cmd.scope,
        key=cmd.idempotency_key,
        status_code=201,
        response=json.dumps(body),
        sms=db.sms_row(
            key=receipt_key,
            to_phone=pickup.phone,
            body=text,
            now=now,
            ttl=timedelta(seconds=settings.sms_default_ttl_s),
            attempts=settings.sms_max_attempts,
        ),
    )
    if transfer_id is None or await ledger.add_to_total(
        household_account,
        credit=credit,
        now=now,
        cap=settings.outstanding_credit_cap_kobo,
    ):
        return WeighingAnswer(201, body)
    # Past the cap: record the weighing, credit nothing, tell the household plainly.
    await db.cap_weighing(conn, weighing_id)
    await ledger.undo_credit(transfer_id, household_account, credit)
    body = weighing_body(cmd, weighing_id, pickup.household_id, 0, True)
    await db.save_answer(
        conn,
        scope=cmd.scope,
        key=cmd.idempotency_key,
        status_code=201,
        response=json.dumps(body),
    )
    await db.set_sms_body(
        conn,
        receipt_key,
        render("receipt_capped", pickup.language, kg=kg_text(total_grams)),
    )
    return WeighingAnswer(201, body)


# --- redemption (inside the inbound SMS transaction) -------------------------------


def _provider_for(kind: str, settings: Settings) -> str:
    return settings.airtime_provider if kind == "airtime" else settings.payout_provider


@dataclass(frozen=True, slots=True)
class Redemption:
    """What a redemption request came to; `reply` is the household's SMS."""

    status: str  # accepted | below_minimum | paused | insufficient
    reply: str
    kind: str
    amount_kobo: int
    reference: str | None = None
    voucher_code: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "kind": self.kind,
            "amount_kobo": self.amount_kobo,
            "reference": self.reference,
            "voucher_code": self.voucher_code,
            "message": self.reply,
        }


async def redeem(
    uow: UnitOfWork,
    *,
    household_id: int,
    phone: str,
    language: str,
    kind: str,
    amount_kobo: int,
    clock: Clock,
    settings: Settings,
) -> Redemption:
    """Hold the amount and queue the payout (or issue a voucher).

    Payouts go only to the number enrolled at JOIN: nothing in an SMS can redirect one.
    """
    now = clock.now()
    conn = uow.conn
    ledger = Ledger(conn)
    account = acc.household(household_id)
    if amount_kobo < settings.min_redemption_kobo:
        text = render(
            "below_minimum", language, amount=format_naira(settings.min_redemption_kobo)
        )
        return Redemption("below_minimum", text, kind, amount_kobo)
    if kind != "voucher":
        spent_today = await db.paid_out_since(conn, local_midnight(clock, now))
        if spent_today + amount_kobo > settings.payout_daily_cap_kobo:
            return Redemption(
                "paused", render("payouts_paused", language), kind, amount_kobo
            )
    reference = str(uuid.uuid4())
    destination = acc.VOUCHERS_OUTSTANDING
    if kind != "voucher":
        destination = acc.provider_float(_provider_for(kind, settings))
    try:
        recorded = await ledger.record(
            Transfer(
                f"hold:{reference}", account, destination, Kobo(amount_kobo), kind
            ),
            now=now,
            pending=True,
        )
    except InsufficientFunds:
        balance = await ledger.balance(account)
        text = render("insufficient", language, balance=format_naira(balance.available))
        return Redemption("insufficient", text, kind, amount_kobo)
    after = recorded.balance or await ledger.balance(account)
    left = format_naira(after.available)
    amount = format_naira(amount_kobo)
    if kind == "voucher":
        code = "".join(secrets.choice(PICKUP_CODE_ALPHABET) for _ in range(6))
        expires = now + VOUCHER_TTL
        await db.add_voucher(
            conn,
            code=code,
            household_id=household_id,
            amount_kobo=amount_kobo,
            transfer_id=recorded.id,
            status="issued",
            expires_at=expires,
            created_at=now,
        )
        date_text = expires.astimezone(clock.tz).strftime("%d %b")
        text = render(
            "redeem_voucher",
            language,
            code=code,
            amount=amount,
            date=date_text,
            balance=left,
        )
        return Redemption("accepted", text, kind, amount_kobo, voucher_code=code)
    await db.add_payout(
        conn,
        reference=reference,
        household_id=household_id,
        kind=kind,
        provider=_provider_for(kind, settings),
        amount_kobo=amount_kobo,
        destination=phone,
        status="held",
        transfer_id=recorded.id,
        attempts=0,
        next_attempt_at=now,
        expires_at=now + PAYOUT_HOLD_TTL,
        created_at=now,
    )
    key = "redeem_airtime" if kind == "airtime" else "redeem_cashout"
    text = render(key, language, amount=amount, balance=left)
    return Redemption("accepted", text, kind, amount_kobo, reference=reference)


async def request_redemption(
    cmd: RequestRedemption, uow: UnitOfWork, *, clock: Clock, settings: Settings
) -> Redemption:
    """A redemption through the operator API, idempotent by the client's key."""
    if cmd.kind not in ("airtime", "mobile_money", "voucher"):
        raise InvalidInput("kind must be airtime, mobile_money or voucher")
    if cmd.amount_kobo <= 0:
        raise InvalidInput("amount_kobo must be positive")
    content = fingerprint(
        {"household": cmd.household_id, "kind": cmd.kind, "amount": cmd.amount_kobo}
    )
    async with uow:
        seen = await db.claim_key(
            uow.conn,
            scope="redeem",
            key=cmd.idempotency_key,
            fingerprint=content,
            now=clock.now(),
        )
        if seen is not None:
            if seen.fingerprint != content:
                raise IdempotencyConflict(
                    "this idempotency_key was used for another request"
                )
            if seen.response is None:
                raise Conflict("the first request with this key has no answer yet")
            stored = json.loads(seen.response)
            return Redemption(
                stored["status"],
                stored["message"],
                stored["kind"],
                stored["amount_kobo"],
                stored["reference"],
                stored["voucher_code"],
            )
        household = await db.household(uow.conn, cmd.household_id)
        if household is None:
            raise NotFound(f"no household {cmd.household_id}")
        result = await redeem(
            uow,
            household_id=household.id,
            phone=household.phone,
            language=household.language,
            kind=cmd.kind,
            amount_kobo=cmd.amount_kobo,
            clock=clock,
            settings=settings,
        )
        uow.emit(
            SmsQueued(
                household.phone, result.reply, key=f"redeem-api:{cmd.idempotency_key}"
            )
        )
        await db.save_answer(
            uow.conn,
            scope="redeem",
            key=cmd.idempotency_key,
            status_code=201,
            response=json.dumps(result.to_json()),
        )
        await uow.commit()
    return result


async def claim_voucher(uow: UnitOfWork, *, phone: str, code: str, clock: Clock) -> str:
    """A shop takes a voucher: post the hold and owe the shop; returns the shop's reply."""
    now = clock.now()
    conn = uow.conn
    shop = await db.shop_by_phone(conn, phone)
    if shop is None:
        return render("claim_not_shop", "en")
    voucher = await db.voucher_by_code(conn, code)
    if voucher is None or voucher.status != "issued" or voucher.expires_at <= now:
        return render("claim_bad", "en", code=code)
    if not await db.move_voucher(
        conn, voucher.id, from_="issued", to="claimed", shop_id=shop.id, claimed_at=now
    ):
        return render("claim_bad", "en", code=code)
    ledger = Ledger(conn)
    await ledger.settle(voucher.transfer_id, "posted", now)
    await ledger.record(
        Transfer(
            f"voucher-claim:{voucher.id}",
            acc.VOUCHERS_OUTSTANDING,
            acc.shop(shop.id),
            Kobo(voucher.amount_kobo),
            "voucher_claim",
        ),
        now=now,
    )
    amount = format_naira(voucher.amount_kobo)
    uow.emit(
        SmsQueued(
            voucher.phone,
            render("voucher_used", voucher.language, code=code, amount=amount),
            key=f"voucher-used:{voucher.id}",
        )
    )
    return render("claim_ok", "en", code=code, amount=amount)


async def open_dispute(
    uow: UnitOfWork, *, household_id: int, language: str, note: str, clock: Clock
) -> str:
    """A WRONG reply: queue the household's last weighing for an operator."""
    weighing_id = await db.last_weighing_id(uow.conn, household_id)
    if weighing_id is None:
        return render("no_receipt", language)
    await db.add_dispute(
        uow.conn,
        household_id=household_id,
        weighing_id=weighing_id,
        note=note[:400],
        status="open",
        created_at=clock.now(),
    )
    return render("dispute_received", language)


# --- payouts: results, expiry --------------------------------------------------------


async def record_payout_result(
    cmd: RecordPayoutResult, uow: UnitOfWork, *, clock: Clock
) -> bool:
    """Apply a provider's word on a payout; True only for the call that settled it.

    Callback and poller may race, and either may repeat: the status change from
    held/submitted is the gate, so the hold is posted or voided exactly once.
    """
    now = clock.now()
    async with uow:
        conn = uow.conn
        payout = await db.find_payout(
            conn,
            provider=cmd.provider,
            reference=cmd.reference,
            provider_txn=cmd.provider_txn,
        )
        if payout is None:
            raise NotFound("no payout matches that reference")
        if cmd.state == "pending":
            await db.move_payout(
                conn,
                payout.id,
                from_=("held",),
                to="submitted",
                submitted_at=now,
                provider_txn=cmd.provider_txn or payout.provider_txn,
            )
            await uow.commit()
            return False
        if cmd.state == "unknown":
            return False
        outcome = "succeeded" if cmd.state == "succeeded" else "failed"
        moved = await db.move_payout(
            conn,
            payout.id,
            from_=("held", "submitted"),
            to=outcome,
            completed_at=now,
            lease_until=None,
            provider_txn=cmd.provider_txn or payout.provider_txn,
            failure_reason=(cmd.reason or None) if outcome == "failed" else None,
        )
        if not moved:
            return False
        ledger = Ledger(conn)
        await ledger.settle(
            payout.transfer_id, "posted" if outcome == "succeeded" else "voided", now
        )
        amount = format_naira(payout.amount_kobo)
        if outcome == "succeeded":
            text = render(
                "payout_done", payout.language, amount=amount, ref=payout.reference[:8]
            )
        else:
            text = render("payout_failed", payout.language, amount=amount)
        uow.emit(
            SmsQueued(payout.destination, text, key=f"payout-{outcome}:{payout.id}")
        )
        await uow.commit()
        return True


async def release_payout(
    uow: UnitOfWork, payout: Any, *, now: datetime, reason: str
) -> bool:
    """Void the hold of a payout that never reached a provider (inside a transaction)."""
    if not await db.move_payout(
        uow.conn,
        payout.id,
        from_=("held", "submitted"),
        to="released",
        completed_at=now,
        lease_until=None,
        failure_reason=reason,
    ):
        return False
    await Ledger(uow.conn).settle(payout.transfer_id, "voided", now)
    language = getattr(payout, "language", "en")
    text = render("payout_failed", language, amount=format_naira(payout.amount_kobo))
    uow.emit(SmsQueued(payout.destination, text, key=f"payout-released:{payout.id}"))
    return True


async def expire_holds(cmd: ExpireHolds, uow: UnitOfWork, *, clock: Clock) -> int:
    """Release expired holds that never reached a provider, and unclaimed vouchers.

    A held payout that was ever tried may have reached the provider: it goes to
    'submitted' so the poller asks the provider before anything is released.
    """
    released = 0
    async with uow:
        conn = uow.conn
        for payout_id in await db.expired_payouts(conn, cmd.now):
            payout = await db.payout_by_id(conn, payout_id)
            if payout.attempts == 0:
                released += await release_payout(
                    uow, payout, now=cmd.now, reason="expired"
                )
            else:
                await db.move_payout(
                    conn,
                    payout.id,
                    from_=("held",),
                    to="submitted",
                    next_attempt_at=cmd.now,
                )
        for voucher_id, transfer_id in await db.expired_vouchers(conn, cmd.now):
            if await db.move_voucher(conn, voucher_id, from_="issued", to="expired"):
                await Ledger(conn).settle(transfer_id, "voided", cmd.now)
                released += 1
        await uow.commit()
    return released


# --- operator corrections, shops, collectors -------------------------------------------


async def reverse_weighing(
    cmd: ReverseWeighing, uow: UnitOfWork, *, clock: Clock
) -> int:
    """Take back (part of) a weighing's credit with a reversing transfer; returns its id."""
    now = clock.now()
    async with uow:
        conn = uow.conn
        weighing = await db.weighing(conn, cmd.weighing_id)
        if weighing is None:
            raise NotFound(f"no weighing {cmd.weighing_id}")
        if not 0 < cmd.amount_kobo <= weighing.credited_kobo:
            raise InvalidInput(
                f"a correction takes back between 1 and {weighing.credited_kobo} kobo"
            )
        ledger = Ledger(conn)
        account = acc.household(weighing.household_id)
        try:
            recorded = await ledger.record(
                Transfer(
                    f"reversal:w{cmd.weighing_id}:d{cmd.dispute_id or 0}",
                    account,
                    acc.CREDIT_EXPENSE,
                    Kobo(cmd.amount_kobo),
                    "reversal",
                ),
                now=now,
                reverses_id=weighing.transfer_id,
            )
        except InsufficientFunds:
            raise Conflict(
                "the household has already spent that credit; the balance cannot go below zero"
            ) from None
        if cmd.dispute_id is not None:
            await db.resolve_dispute(
                conn,
                cmd.dispute_id,
                resolution=cmd.note[:400],
                reversal_transfer_id=recorded.id,
                resolved_at=now,
            )
        if not recorded.replayed:
            balance = await ledger.balance(account)
            uow.emit(
                SmsQueued(
                    weighing.phone,
                    render(
                        "correction",
                        weighing.language,
                        amount=format_naira(cmd.amount_kobo),
                        balance=format_naira(balance.available),
                    ),
                    key=f"correction:{recorded.id}",
                )
            )
        await uow.commit()
    return recorded.id


def _contact(name: str, raw: str, settings: Settings, who: str) -> tuple[str, str]:
    """A shop's or collector's name and phone as stored: the name at most 80
    characters, the phone E.164 and one the service may text
    (RECOOP_SMS_ALLOWED_COUNTRIES: elsewhere it would never get a text or a
    sign-in code)."""
    name = name.strip()
    if len(name) > 80:
        raise InvalidInput("the name must be at most 80 characters")
    try:
        phone = phones.to_e164(raw, settings.default_region)
    except phones.BadPhoneNumber as exc:
        raise InvalidInput(str(exc)) from None
    allowed = settings.sms_allowed_countries
    if allowed and phones.region_of(phone) not in allowed:
        raise InvalidInput(
            f"{who}'s phone must be in {', '.join(allowed)} "
            "(RECOOP_SMS_ALLOWED_COUNTRIES): the service texts no other country"
        )
    return name, phone


async def register_shop(
    cmd: RegisterShop, uow: UnitOfWork, *, clock: Clock, settings: Settings
) -> int:
    name, phone = _contact(cmd.name, cmd.phone, settings, "a shop")
    async with uow:
        shop_id = await db.add_shop(uow.conn, name=name, phone=phone, now=clock.now())
        await uow.commit()
    return shop_id


async def register_collector(
    cmd: RegisterCollector, uow: UnitOfWork, *, clock: Clock, settings: Settings
) -> int:
    name, phone = _contact(cmd.name, cmd.phone, settings, "a collector")
    async with uow:
        collector_id = await db.add_collector(
            uow.conn, name=name, phone=phone, now=clock.now()
        )
        await uow.commit()
    return collector_id
