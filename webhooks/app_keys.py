"""Typed app keys owned by the webhooks package."""

from __future__ import annotations

from aiohttp import web

from webhooks.signatures import TwilioVerifier

TWILIO_VERIFIER: web.AppKey[TwilioVerifier] = web.AppKey(
    "twilio_verifier", TwilioVerifier
)
