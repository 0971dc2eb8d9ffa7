"""Command handlers: small async functions whose dependencies are parameters."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from service import phones
from service.clock import Clock
from service.domain import model
from service.domain import sms_parser as parser
from service.domain.commands import (
    CreateApiToken,
    InboundSms,
    RecordDeliveryStatus,
    SendSms,
)
from service.domain.errors import Conflict, InvalidInput
from service.domain.events import (
    HouseholdJoined,
    NumberOptedOut,
    PickupCancelled,
    PickupRequested,
    SmsQueued,
)
from service.metrics import Metrics
from service.persistence import outbox
from service.persistence.tables import api_tokens
from service.settings import Settings
from service.unit_of_work import UnitOfWork


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
    async with uow:
        state = await uow.households.sender_state(
            phone,
            now - timedelta(hours=1),
            provider=cmd.provider,
            message_id=cmd.message_id,
        )
        if state.seen:  # a retried webhook: the first answer, and nothing else
            metrics.inbound_sms.labels(intent="duplicate").inc()
            reply_text = state.seen_reply if cmd.reply_by == "twiml" else None
            return SmsReply(reply_text, duplicate=True, intent="duplicate")
        intent = parser.parse(cmd.body)
        if not valid_phone:
            intent = parser.Unknown(cmd.body, "sender is not a phone number")
        decision = model.decide(
            intent, state.household, state.open_pickup, opted_out=state.opted_out
        )
        reply: str | None = decision.reply
        intent_label = decision.intent
        if state.recent_inbound >= settings.inbound_per_number_per_hour:
            # A flood from one number gets recorded but neither acted on nor
            # answered: every answer costs us money (SMS pumping).
            decision = model.Decision("throttled", "", decision.language, ())
            reply, intent_label = None, "throttled"

        household_id = state.household.id if state.household else None
        message_row = await uow.inbox.claim(
            provider=cmd.provider,
            message_id=cmd.message_id,
            phone=phone,
            body=cmd.body,
            intent=intent_label,
            household_id=household_id,
            reply=reply,
            received_at=cmd.received_at,
        )
        if message_row is None:
            await uow.rollback()
            _, first_reply = await _stored_reply(uow, cmd)
            metrics.inbound_sms.labels(intent="duplicate").inc()
            return SmsReply(first_reply, duplicate=True, intent="duplicate")

        for change in decision.changes:
            household_id = await _apply(
                change,
                uow,
                phone=phone,
                household_id=household_id,
                now=now,
                message_row=message_row,
            )
        if reply and cmd.reply_by == "outbox":
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
    now: datetime,
    message_row: int,
) -> int | None:
    """Apply one decided change; returns the (possibly new) household id."""
    match change:
        case model.CreateHousehold(name=name, address=address, language=language):
            household_id = await uow.households.add(
                phone=phone, name=name, address=address, language=language, now=now
            )
            uow.emit(HouseholdJoined(household_id, phone))
        case model.CreatePickup(code=code):
            assert household_id is not None
            pickup_id = await uow.pickups.add(
                household_id=household_id,
                code=code,
                now=now,
                source_message_id=message_row,
            )
            uow.emit(PickupRequested(pickup_id, household_id, code))
        case model.CancelPickup(pickup_id=pickup_id):
            assert household_id is not None
            await uow.pickups.cancel(pickup_id, now)
            uow.emit(PickupCancelled(pickup_id, household_id))
        case model.SetLanguage(language=language):
            assert household_id is not None
            await uow.households.set_language(household_id, language, now)
        case model.OptOut(word=word):
            await uow.opt_outs.add(phone, word, now)
            await uow.households.set_status_by_phone(phone, "opted_out", now)
            uow.emit(NumberOptedOut(phone))
        case model.OptIn():
            await uow.opt_outs.remove(phone)
            await uow.households.set_status_by_phone(phone, "active", now)
    return household_id


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
