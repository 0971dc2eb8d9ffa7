"""Composition root: picks real or fake classes and binds handler dependencies."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial

import httpx

from service import handlers
from service.bus import MessageBus
from service.clock import Clock, SystemClock
from service.dispatcher import Dispatcher
from service.domain.commands import (
    CreateApiToken,
    InboundSms,
    RecordDeliveryStatus,
    SendSms,
)
from service.gateways import SmsGateway
from service.metrics import Metrics
from service.persistence.db import Database, create_database
from service.settings import Settings
from service.unit_of_work import SqlUnitOfWork, UnitOfWork
from service.views import Views


@dataclass
class Deps:
    """Everything the app, the CLI and the scheduler need, built once."""

    settings: Settings
    clock: Clock
    db: Database
    bus: MessageBus
    views: Views
    metrics: Metrics
    sms: SmsGateway
    dispatcher: Dispatcher
    http: httpx.AsyncClient | None = None
    background: list[str] = field(default_factory=lambda: ["dispatcher"])

    async def close(self) -> None:
        await self.db.dispose()
        if self.http is not None:
            await self.http.aclose()


def make_sms_gateway(settings: Settings, http: httpx.AsyncClient) -> SmsGateway:
    """The SMS gateway named by RECOOP_SMS_GATEWAY."""
    if settings.sms_gateway == "twilio":
        from service.gateways.twilio_sms import TwilioSms

        return TwilioSms(
            http,
            account_sid=settings.twilio_account_sid,
            auth_token=settings.twilio_auth_token.get_secret_value(),
            from_=settings.twilio_from,
            base_url=settings.twilio_api_base,
        )
    if settings.sms_gateway == "africastalking":
        from service.gateways.africastalking_sms import AfricasTalkingSms

        return AfricasTalkingSms(
            http,
            username=settings.africastalking_username,
            api_key=settings.africastalking_api_key.get_secret_value(),
            sender_id=settings.africastalking_sender_id or None,
        )
    from service.gateways.console_sms import ConsoleSms

    return ConsoleSms()


def build(
    settings: Settings,
    *,
    clock: Clock | None = None,
    sms: SmsGateway | None = None,
    db: Database | None = None,
    http: httpx.AsyncClient | None = None,
    background: list[str] | None = None,
) -> Deps:
    """Wire the service; pass fakes for any port to replace the real one."""
    clock = clock or SystemClock(settings.timezone)
    db = db or create_database(settings.database_url)
    metrics = Metrics()
    if sms is None:
        http = http or httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=5.0))
        sms = make_sms_gateway(settings, http)

    def uow_factory() -> UnitOfWork:
        return SqlUnitOfWork(
            db,
            now=clock.now(),
            sms_ttl=timedelta(seconds=settings.sms_default_ttl_s),
            max_attempts=settings.sms_max_attempts,
        )

    bus = MessageBus(
        uow_factory,
        {
            InboundSms: partial(
                handlers.inbound_sms, clock=clock, settings=settings, metrics=metrics
            ),
            RecordDeliveryStatus: partial(handlers.record_delivery_status, clock=clock),
            SendSms: partial(handlers.send_sms, clock=clock, settings=settings),
            CreateApiToken: partial(handlers.create_api_token, clock=clock),
        },
    )
    status_callback = (
        settings.public_base_url.rstrip("/") + "/webhooks/twilio/status"
        if settings.sms_gateway == "twilio"
        else None
    )
    dispatcher = Dispatcher(
        db, sms, clock, settings, metrics, status_callback=status_callback
    )
    return Deps(
        settings=settings,
        clock=clock,
        db=db,
        bus=bus,
        views=Views(db),
        metrics=metrics,
        sms=sms,
        dispatcher=dispatcher,
        http=http,
        background=["dispatcher"] if background is None else background,
    )
