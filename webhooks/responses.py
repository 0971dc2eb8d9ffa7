"""Response helpers: TwiML for Twilio, JSON errors for the API."""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

from aiohttp import web

_EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


def twiml(message: str | None) -> web.Response:
    """A TwiML reply; None sends nothing back (an empty <Response/>)."""
    if not message:
        return web.Response(text=_EMPTY_TWIML, content_type="text/xml")
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<Response><Message>{escape(message)}</Message></Response>"
    )
    return web.Response(text=body, content_type="text/xml")


def json_error(status: int, code: str, message: str, **extra: Any) -> web.Response:
    """The API's one error shape: {"error": {"code": ..., "message": ...}}."""
    return web.json_response(
        {"error": {"code": code, "message": message, **extra}}, status=status
    )
