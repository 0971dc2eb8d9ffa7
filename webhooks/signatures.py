"""Twilio request signatures, checked against the public URL Twilio called."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from aiohttp import web
from twilio.request_validator import RequestValidator

from service.settings import Settings


class TwilioVerifier:
    """Checks X-Twilio-Signature with the twilio library's validator.

    Behind a TLS-terminating proxy the app sees http:// and the wrong host, so the
    URL is rebuilt from RECOOP_PUBLIC_BASE_URL; X-Forwarded-* headers count only
    when the request comes from a proxy listed in RECOOP_TRUSTED_PROXIES.
    """

    def __init__(self, settings: Settings) -> None:
        token = settings.twilio_auth_token.get_secret_value()
        self._validator = RequestValidator(token) if token else None
        self._base = settings.public_base_url.rstrip("/")
        self._trusted = [
            ipaddress.ip_network(p, strict=False) for p in settings.trusted_proxies
        ]

    @property
    def enabled(self) -> bool:
        return self._validator is not None

    def url_for(self, request: web.Request) -> str:
        if self._trusted and self._from_trusted_proxy(request):
            proto = request.headers.get("X-Forwarded-Proto")
            host = request.headers.get("X-Forwarded-Host")
            if proto and host:
                return f"{proto.split(',')[0].strip()}://{host.split(',')[0].strip()}{request.path_qs}"
        return self._base + request.path_qs

    def _from_trusted_proxy(self, request: web.Request) -> bool:
        try:
            peer = ipaddress.ip_address(request.remote or "")
        except ValueError:
            return False
        return any(peer in net for net in self._trusted)

    def verify(self, request: web.Request, params: Mapping[str, str]) -> bool:
        """True when the signature matches the URL and every parameter received."""
        if self._validator is None:
            return False
        signature = request.headers.get("X-Twilio-Signature", "")
        if not signature:
            return False
        return bool(self._validator.validate(self.url_for(request), params, signature))
