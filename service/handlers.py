"""Command handlers: small async functions whose dependencies are parameters."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from service import money, phones
from service.clock import Clock
from service.domain import model, pluscodes
from service.domain import sms_parser as parser
from service.domain.commands import (
    CreateApiToken,
    InboundSms,
    LogWeights,
    RecordDeliveryStatus,
    SendSms,
)
from service.domain.errors import Conflict, DomainError, InvalidInput
from service.domain.events import (
    HouseholdJoined,
    NumberOptedOut,
    PickupCancelled,
    PickupRequested,
    SmsQueued,
)
from service.domain.replies import format_naira, render
from service.ledger.postings import LedgerError
from service.metrics import Metrics
from service.persistence import money as money_db
from service.persistence import outbox
from service.persistence.tables import api_tokens
from service.settings import Settings
from service.unit_of_work import UnitOfWork

# 24^6 codes: a collision at this length is left to the bus's retry.
LONG_CODE = 6


@dataclass(frozen=True, slots=True)
class SmsReply:
    """The answer to an inbound SMS; `text` None means reply with nothing."""

    text: str | None
    duplicate: bool = False
    intent: str = ""


async def inbound_sms(
    cmd: InboundSms,
    uow: UnitOfWork,
    *,
    clock: Clock,
    settings: Settings,
    metrics: Metrics,
) -> SmsReply:
    """Understand one SMS, apply what it asks, and return the reply, exactly once.

    The reply is decided from the sender's state first; then the inbox row is
    inserted, and a duplicate MessageSid stops there with the first reply.
    """
    now = clock.now()
    try:
        phone = phones.to_e164(cmd.from_phone, settings.default_region)
    except phones.BadPhoneNumber:
        phone = cmd.from_phone.strip()[:32]
        valid_phone = False
    else:
        valid_phone = True
    # A pickup code, in case this message books one. Codes stay unique for good,
    # so as the 4-character space fills, a taken one is swapped for a longer one
    # (the same read tells us); a race on the longer one is retried by the bus.
    code = model.new_pickup_code()
    async with uow:
        state = await uow.households.sender_state(
            phone,
            now - timedelta(hours=1),
            provider=cmd.provider,
            message_id=cmd.message_id,
            candidate_code=code,
            count_up_to=settings.inbound_per_number_per_hour,
        )
        if state.seen:  # a retried webhook: the first answer, and nothing else
            metrics.inbound_sms.labels(intent="duplicate").inc()
            reply_text = state.seen_reply if cmd.reply_by == "twiml" else None
            return SmsReply(reply_text, duplicate=True, intent="duplicate")
        intent = parser.parse(cmd.body)
        if not valid_phone:
            intent = parser.Unknown(cmd.body, "sender is not a phone number")
        decision = model.decide(
            intent,
            state.household,
            state.open_pickup,
            opted_out=state.opted_out,
            available_kobo=state.available_kobo,
            make_code=lambda: (
                model.new_pickup_code(LONG_CODE) if state.code_taken else code
            ),
        )
        reply: str | None = decision.reply
        intent_label = decision.intent
        if state.recent_inbound >= settings.inbound_per_number_per_hour:
            # A flood from one number gets recorded but neither acted on nor
            # answered: every answer costs us money (SMS pumping).
            decision = model.Decision("throttled", "", decision.language, ())
            reply, intent_label = None, "throttled"

        # Changes first, then the inbox row with the final reply: a duplicate that
        # slipped past the check above is rolled back whole at the inbox insert.
        household_id = state.household.id if state.household else None
        for change in decision.changes:
            household_id, override = await _apply(
                change,
                uow,
                phone=phone,
                household_id=household_id,
                language=decision.language,
                now=now,
                message_id=f"{cmd.provider}:{cmd.message_id}",
                clock=clock,
                settings=settings,
            )
            if override is not None:
                reply = override
        queue_reply = bool(reply) and cmd.reply_by == "outbox"
        message_row = await uow.inbox.claim(
            provider=cmd.provider,
            message_id=cmd.message_id,
            phone=phone,
            body=cmd.body,
            intent=intent_label,
            household_id=household_id,
            reply=reply,
            received_at=cmd.received_at,
            final=not (queue_reply or uow.queues_sms()),
        )
        if message_row is None:
            # The first delivery committed while we worked: its reply, and none of
            # our changes.
            _, first_reply = await _stored_reply(uow, cmd)
            await uow.rollback()
            metrics.inbound_sms.labels(intent="duplicate").inc()
            return SmsReply(first_reply, duplicate=True, intent="duplicate")
        if queue_reply:
            assert reply is not None
            uow.emit(
                SmsQueued(
                    to_phone=phone,
                    body=reply,
                    key=f"reply:{cmd.provider}:{cmd.message_id}",
                    expires_at=now + timedelta(hours=1),
                    is_reply=True,
                )
            )
        await uow.commit()
    metrics.inbound_sms.labels(intent=intent_label).inc()
    return SmsReply(reply if cmd.reply_by == "twiml" else None, intent=intent_label)


async def _stored_reply(uow: UnitOfWork, cmd: InboundSms) -> tuple[bool, str | None]:
    found, reply = await uow.inbox.stored_reply(cmd.provider, cmd.message_id)
    if not found:  # rolled back under us; the bus runs the command again
        raise Conflict("duplicate message vanished")
    return found, reply if cmd.reply_by == "twiml" else None


async def _apply(
    change: model.Change,
    uow: UnitOfWork,
    *,
    phone: str,
    household_id: int | None,
    language: str,
    now: datetime,
    message_id: str,
    clock: Clock,
    settings: Settings,
) -> tuple[int | None, str | None]:
    """Apply one decided change; returns the household id and a reply override."""
    match change:
        case model.CreateHousehold(name=name, address=address, language=lang):
            household_id = await uow.households.add(
                phone=phone,
                name=name,
                address=address,
                language=lang,
                now=now,
                location=pluscodes.find_in_text(address),
            )
            uow.emit(HouseholdJoined(household_id, phone))
        case model.CreatePickup(code=code):
            assert household_id is not None
            pickup_id = await uow.pickups.add(
                household_id=household_id, code=code, now=now, source_message_id=None
            )
            uow.emit(PickupRequested(pickup_id, household_id, code))
        case model.CancelPickup(pickup_id=pickup_id):
            assert household_id is not None
            await uow.pickups.cancel(pickup_id, now)
            uow.emit(PickupCancelled(pickup_id, household_id))
        case model.UpdateAddress(address=address):
            assert household_id is not None
            await uow.households.set_address(
                household_id, address, pluscodes.find_in_text(address), now
            )
        case model.SetLanguage(language=lang):
            assert household_id is not None
            await uow.households.set_language(household_id, lang, now)
        case model.SetWeekly(weekday=weekday):
            assert household_id is not None
            await uow.households.set_weekly(household_id, weekday, now)
        case model.OptOut(word=word):
            await uow.opt_outs.add(phone, word, now)
            await uow.households.set_status_by_phone(phone, "opted_out", now)
            uow.emit(NumberOptedOut(phone))
        case model.OptIn():
            await uow.opt_outs.remove(phone)
            await uow.households.set_status_by_phone(phone, "active", now)
        case model.Redeem(kind=kind, amount_kobo=amount):
            assert household_id is not None
            result = await money.redeem(
                uow,
                household_id=household_id,
                phone=phone,
                language=language,
                kind=kind,
                amount_kobo=amount,
                clock=clock,
                settings=settings,
            )
            return household_id, result.reply
        case model.ClaimVoucher(code=code):
            return household_id, await money.claim_voucher(
                uow, phone=phone, code=code, clock=clock
            )
        case model.OpenDispute(note=note):
            assert household_id is not None
            return household_id, await money.open_dispute(
                uow,
                household_id=household_id,
                language=language,
                note=note,
                clock=clock,
            )
        case model.CollectorLog(code=code, items=items):
            return household_id, await _collector_log(
                uow, phone, code, items, message_id, clock=clock, settings=settings
            )
        case model.CollectorMiss(code=code, reason=reason):
            return household_id, await _collector_miss(uow, phone, code, reason, now)
    return household_id, None


async def _collector_log(
    uow: UnitOfWork,
    phone: str,
    code: str,
    items: tuple[tuple[str, int], ...],
    message_id: str,
    *,
    clock: Clock,
    settings: Settings,
) -> str:
    """LOG by SMS: the same weighing as the API, keyed by the SMS's own id."""
    collector = await money_db.collector_by_phone(uow.conn, phone)
    if collector is None:
        return render("collector_only", "en")
    cmd = LogWeights(
        pickup_code=code,
        items=items,
        collected_at=clock.now(),
        idempotency_key=message_id,
        scope="sms",
        source="sms",
        collector=collector.name,
    )
    # A savepoint: a refused weighing leaves nothing behind (not even its key),
    # while the inbound message itself is still recorded with the refusal reply.
    savepoint = await uow.conn.begin_nested()
    try:
        answer = await money.weigh(uow, cmd, clock=clock, settings=settings)
    except (DomainError, LedgerError) as exc:
        await savepoint.rollback()
        return render("log_problem", "en", code=code, problem=str(exc)[:60])
    await savepoint.commit()
    kg = money.kg_text(answer.body["total_grams"])
    if answer.body["status"] == "capped":
        return render("logged_capped", "en", code=code, kg=kg)
    return render(
        "logged",
        "en",
        code=code,
        kg=kg,
        amount=format_naira(answer.body["credited_kobo"]),
    )


async def _collector_miss(
    uow: UnitOfWork, phone: str, code: str, reason: str, now: datetime
) -> str:
    if await money_db.collector_by_phone(uow.conn, phone) is None:
        return render("collector_only", "en")
    pickup = await money_db.pickup_by_code(uow.conn, code)
    if pickup is None or pickup.status not in ("open", "scheduled"):
        return render(
            "log_problem", "en", code=code, problem="no open pickup has that code"
        )
    await uow.pickups.mark_missed(pickup.id, reason[:160], now)
    return render("missed_ok", "en", code=code)


async def record_delivery_status(
    cmd: RecordDeliveryStatus, uow: UnitOfWork, *, clock: Clock
) -> None:
    """Store a delivery report; a late, lower status never overwrites a later one."""
    async with uow:
        await outbox.record_delivery(
            uow.conn, cmd.provider_id, cmd.status.lower(), clock.now(), cmd.error_code
        )
        await uow.commit()


async def send_sms(
    cmd: SendSms, uow: UnitOfWork, *, clock: Clock, settings: Settings
) -> bool:
    """Queue a message the service starts; False when its key was already queued."""
    try:
        phone = phones.to_e164(cmd.to_phone, settings.default_region)
    except phones.BadPhoneNumber as exc:
        raise InvalidInput(str(exc)) from exc
    now = clock.now()
    async with uow:
        queued = await outbox.enqueue(
            uow.conn,
            key=cmd.key,
            to_phone=phone,
            body=cmd.body,
            now=now,
            expires_at=cmd.expires_at
            or now + timedelta(seconds=settings.sms_default_ttl_s),
            max_attempts=settings.sms_max_attempts,
        )
        await uow.commit()
    return queued


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_api_token(
    cmd: CreateApiToken, uow: UnitOfWork, *, clock: Clock
) -> str:
    """Store the hash of a new random token and return the token itself, once."""
    if cmd.role not in ("operator", "collector"):
        raise InvalidInput("role must be operator or collector")
    token = f"rk_{cmd.role[:3]}_{secrets.token_urlsafe(32)}"
    async with uow:
        await uow.conn.execute(
            api_tokens.insert().values(
                token_hash=hash_token(token),
                role=cmd.role,
                name=cmd.name[:80],
                created_at=clock.now(),
            )
        )
        await uow.commit()
    return token
