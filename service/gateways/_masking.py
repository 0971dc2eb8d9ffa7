"""Masks phone numbers and secrets so gateway errors and logs never carry them."""

from __future__ import annotations

import re

MASK = "•••"

# Seven or more digits in a row (an optional "+" first) look like a phone number;
# provider error texts echo the number we sent ("The 'To' number +234... is not
# valid"), while their error codes (21211, 401) are shorter and stay readable.
_PHONE_LIKE = re.compile(r"\+?\d{7,}")


def mask_phone(e164: str) -> str:
    """Return `e164` with its middle digits hidden: +2348031234567 -> +234803•••4567.

    Parameters
    ----------
    e164
        A phone number, normally E.164. At least three digits are always hidden,
        and anything that is not a plain number is hidden entirely.
    """
    plus = "+" if e164.startswith("+") else ""
    digits = e164[len(plus) :]
    if not digits.isdigit():
        return MASK
    tail = min(4, len(digits) // 3)
    head = max(0, min(6, len(digits) - tail - 3))
    return f"{plus}{digits[:head]}{MASK}{digits[len(digits) - tail :]}"


def redact(text: str, *secrets: str) -> str:
    """Return `text` with every phone-like number masked and each secret removed.

    Parameters
    ----------
    text
        Free text from a provider (an error message, a response body).
    secrets
        Exact strings that must not survive, such as an auth token or API key.
    """
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return _PHONE_LIKE.sub(lambda m: mask_phone(m.group()), text)
