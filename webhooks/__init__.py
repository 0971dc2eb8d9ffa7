"""aiohttp edges: verify, parse, hand a command to the bus, render. No SQL here."""

from __future__ import annotations

from aiohttp import web

from webhooks import (
    africastalking,
    api_money,
    api_rounds,
    api_v1,
    collector,
    health,
    impact,
    kobo,
    ops,
    pages,
    payouts,
    twilio_sms,
)


def setup_routes(app: web.Application) -> None:
    """Mount every inbound HTTP route."""
    app.router.add_post("/webhooks/twilio/sms", twilio_sms.inbound_sms)
    app.router.add_post("/webhooks/twilio/status", twilio_sms.delivery_status)
    app.router.add_post("/webhooks/africastalking/sms", africastalking.inbound_sms)
    app.router.add_post(
        "/webhooks/africastalking/delivery", africastalking.delivery_report
    )
    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/readyz", health.readyz)
    app.router.add_get("/metrics", health.metrics)
    app.router.add_post("/webhooks/payouts/{provider}", payouts.payout_callback)
    app.router.add_post("/webhooks/kobo/collections", kobo.kobo_collection)
    api_v1.setup(app)
    api_money.setup(app)
    api_rounds.setup(app)
    impact.setup(app)
    ops.setup(app)
    collector.setup(app)
    pages.setup_static(app)
