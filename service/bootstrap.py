"""Composition root: picks real or fake classes and binds handler dependencies."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial

import httpx

from service import (
    collector_round,
    fleet,
    handlers,
    money,
    money_batch,
    planning,
    review,
)
from service.auth import Auth
from service.bus import MessageBus
from service.clock import Clock, SystemClock
from service.dispatcher import Dispatcher
from service.domain.commands import (
    ActOnOwnStop,
    AddBike,
    AddHub,
    CloseDispute,
    Command,
    CreateApiToken,
    ExpireHolds,
    InboundSms,
    LocateHouseholds,
    LogWeights,
    MarkMessageReviewed,
    PinLocation,
    PlanDay,
    RecordDeliveryStatus,
    RecordPayoutResult,
    RegisterCollector,
    RegisterShop,
    RequestRedemption,
    ReverseWeighing,
    SendReminders,
    SendSms,
    SetRate,
    SetWeeklyDay,
    UpdateBike,
    UpdateCollector,
    UpdateHub,
)
from service.gateways import PayoutProvider, SmsGateway
from service.gateways.geocoding import Geocoder, GeopyGeocoder, NoGeocoder
from service.metrics import Metrics
from service.money_batch import LogWeightsBatch
from service.payout_dispatcher import PayoutDispatcher
from service.persistence.db import Database, create_database
from service.settings import Settings
from service.unit_of_work import DriverUnitOfWork, SqlUnitOfWork, UnitOfWork
from service.views import MoneyViews, PlanningViews, Views

ALL_BACKGROUND = ("dispatcher", "payouts", "scheduler", "sandbox")


@dataclass
class Deps:
    """Everything the app, the CLI and the scheduler need, built once."""

    settings: Settings
    clock: Clock
    db: Database
    bus: MessageBus
    views: Views
    money: MoneyViews
    planning: PlanningViews
    metrics: Metrics
    sms: SmsGateway
    dispatcher: Dispatcher
    payouts: dict[str, PayoutProvider]
    payout_dispatcher: PayoutDispatcher
    auth: Auth
    http: httpx.AsyncClient | None = None
    background: list[str] = field(default_factory=lambda: list(ALL_BACKGROUND))

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

    # Beside the log (stderr, numbers masked like the log's), so that a command's
    # own output (`recoop plan` prints JSON) stays clean.
    return ConsoleSms(sys.stderr, mask_numbers=True)


def make_payout_providers(
    settings: Settings, db: Database, clock: Clock, http: httpx.AsyncClient
) -> dict[str, PayoutProvider]:
    """The providers named by RECOOP_PAYOUT_PROVIDER and RECOOP_AIRTIME_PROVIDER."""
    from service.gateways.sandbox_payouts import SandboxPayouts

    async def deliver(url: str, body: bytes, headers: dict[str, str]) -> int:
        response = await http.post(url, content=body, headers=headers)
        return response.status_code

    providers: dict[str, PayoutProvider] = {
        "sandbox": SandboxPayouts(
            db,
            clock,
            secret=settings.sandbox_secret.get_secret_value() or "sandbox-dev-secret",
            deliver=deliver,
            failure_rate=settings.sandbox_failure_rate,
            lost_callback_rate=settings.sandbox_lost_callback_rate,
            timeout_rate=settings.sandbox_timeout_rate,
            max_settle_s=settings.sandbox_max_settle_s,
        )
    }
    wanted = {settings.payout_provider, settings.airtime_provider}
    if "momo" in wanted:
        from service.gateways.momo import MomoDisbursement

        providers["momo"] = MomoDisbursement(
            http,
            base_url=settings.momo_base_url,
            subscription_key=settings.momo_subscription_key.get_secret_value(),
            api_user=settings.momo_api_user,
            api_key=settings.momo_api_key.get_secret_value(),
            target_environment=settings.momo_target_environment,
            callback_token=settings.payout_callback_token.get_secret_value(),
        )
    if "africastalking" in wanted:
        from service.gateways.africastalking_airtime import AfricasTalkingAirtime

        providers["africastalking"] = AfricasTalkingAirtime(
            http,
            username=settings.africastalking_username,
            api_key=settings.africastalking_api_key.get_secret_value(),
            callback_token=settings.payout_callback_token.get_secret_value(),
        )
    return providers


def build(
    settings: Settings,
    *,
    clock: Clock | None = None,
    sms: SmsGateway | None = None,
    db: Database | None = None,
    http: httpx.AsyncClient | None = None,
    payouts: dict[str, PayoutProvider] | None = None,
    geocoder: Geocoder | None = None,
    background: list[str] | None = None,
) -> Deps:
    """Wire the service; pass fakes for any port to replace the real one."""
    clock = clock or SystemClock(settings.timezone)
    db = db or create_database(settings.database_url, pool_size=settings.db_pool_size)
    metrics = Metrics()
    http = http or httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=5.0))
    if sms is None:
        sms = make_sms_gateway(settings, http)
    if payouts is None:
        payouts = make_payout_providers(settings, db, clock, http)
    if geocoder is None:
        geocoder = (
            NoGeocoder()
            if settings.geocoder == "none"
            else GeopyGeocoder(
                settings.geocoder, user_agent=settings.geocoder_user_agent
            )
        )

    def uow_factory() -> UnitOfWork:
        return SqlUnitOfWork(
            db,
            now=clock.now(),
            sms_ttl=timedelta(seconds=settings.sms_default_ttl_s),
            max_attempts=settings.sms_max_attempts,
        )

    lean: dict[type[Command], Callable[[], UnitOfWork]] = {}
    if db.driver is not None:
        driver = db.driver

        def lean_uow_factory() -> UnitOfWork:
            return DriverUnitOfWork(
                driver,
                now=clock.now(),
                sms_ttl=timedelta(seconds=settings.sms_default_ttl_s),
                max_attempts=settings.sms_max_attempts,
            )

        # The hot path: every inbound SMS. Money intents fall back to SQLAlchemy.
        lean[InboundSms] = lean_uow_factory

    bus = MessageBus(
        uow_factory,
        {
            InboundSms: partial(
                handlers.inbound_sms, clock=clock, settings=settings, metrics=metrics
            ),
            RecordDeliveryStatus: partial(handlers.record_delivery_status, clock=clock),
            SendSms: partial(handlers.send_sms, clock=clock, settings=settings),
            CreateApiToken: partial(handlers.create_api_token, clock=clock),
            SetRate: partial(money.set_rate, clock=clock),
            LogWeights: partial(money.log_weights, clock=clock, settings=settings),
            RecordPayoutResult: partial(money.record_payout_result, clock=clock),
            ExpireHolds: partial(money.expire_holds, clock=clock),
            ReverseWeighing: partial(money.reverse_weighing, clock=clock),
            RegisterShop: partial(money.register_shop, clock=clock, settings=settings),
            PlanDay: partial(
                planning.plan_day,
                clock=clock,
                settings=settings,
                db=db,
                uow_factory=uow_factory,
                metrics=metrics,
            ),
            SendReminders: partial(planning.send_reminders, clock=clock),
            LocateHouseholds: partial(
                planning.locate_households,
                clock=clock,
                settings=settings,
                geocoder=geocoder,
            ),
            AddHub: partial(fleet.add_hub, clock=clock),
            AddBike: partial(fleet.add_bike, clock=clock),
            UpdateHub: partial(fleet.update_hub, clock=clock),
            UpdateBike: partial(fleet.update_bike, clock=clock, settings=settings),
            UpdateCollector: partial(fleet.update_collector, clock=clock),
            PinLocation: partial(planning.pin_location, clock=clock),
            SetWeeklyDay: partial(planning.set_weekly_day, clock=clock),
            LogWeightsBatch: partial(
                money_batch.log_weights_batch, clock=clock, settings=settings
            ),
            RequestRedemption: partial(
                money.request_redemption, clock=clock, settings=settings
            ),
            RegisterCollector: partial(
                money.register_collector, clock=clock, settings=settings
            ),
            CloseDispute: partial(review.close_dispute, clock=clock),
            MarkMessageReviewed: review.mark_message_reviewed,
            ActOnOwnStop: partial(
                collector_round.act_on_own_stop, clock=clock, settings=settings
            ),
        },
        lean=lean,
    )
    status_callback = (
        settings.public_base_url.rstrip("/") + "/webhooks/twilio/status"
        if settings.sms_gateway == "twilio"
        else None
    )
    dispatcher = Dispatcher(
        db, sms, clock, settings, metrics, status_callback=status_callback
    )
    payout_dispatcher = PayoutDispatcher(db, bus, payouts, clock, settings, uow_factory)
    return Deps(
        settings=settings,
        clock=clock,
        db=db,
        bus=bus,
        views=Views(db),
        money=MoneyViews(db),
        planning=PlanningViews(db),
        metrics=metrics,
        sms=sms,
        dispatcher=dispatcher,
        payouts=payouts,
        payout_dispatcher=payout_dispatcher,
        auth=Auth(db, clock, settings),
        http=http,
        background=list(ALL_BACKGROUND) if background is None else background,
    )
