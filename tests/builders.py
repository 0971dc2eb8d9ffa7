"""Builders for test inputs: signed Twilio requests, phone numbers, message ids."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import random
import uuid
from collections.abc import Mapping

# Unique within a run; the random start keeps separate runs apart on a shared database.
_numbers = itertools.count(random.Random().randrange(1_000_000, 8_000_000))

AUTH_TOKEN = "test-auth-token-0123456789abcdef"
BASE_URL = "https://recoop.example.org"


def twilio_signature(
    url: str, params: Mapping[str, str], token: str = AUTH_TOKEN
) -> str:
    """Twilio's published algorithm, written out independently of the twilio library:
    base64(HMAC-SHA1(token, url + each key and value, keys sorted))."""
    payload = url + "".join(k + params[k] for k in sorted(params))
    digest = hmac.new(token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def message_sid() -> str:
    return "SM" + uuid.uuid4().hex


def random_phone() -> str:
    """A Nigerian MTN-style mobile number in E.164."""
    return f"+234803{next(_numbers):07d}"


def sms_form(
    body: str, phone: str, sid: str | None = None, **extra: str
) -> dict[str, str]:
    """The form fields Twilio posts for an inbound SMS."""
    return {
        "MessageSid": sid or message_sid(),
        "SmsSid": sid or "",
        "AccountSid": "AC" + "0" * 32,
        "From": phone,
        "To": "+2349010000000",
        "Body": body,
        "NumMedia": "0",
        "NumSegments": "1",
        **extra,
    }
