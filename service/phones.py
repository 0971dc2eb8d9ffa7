"""Phone numbers: normalise to E.164 and mask for logs."""

from __future__ import annotations

from functools import lru_cache

import phonenumbers


class BadPhoneNumber(ValueError):
    """The text is not a phone number we can reach."""


@lru_cache(maxsize=16_384)  # every inbound SMS parses its sender: most repeat
def to_e164(raw: str, region: str = "NG") -> str:
    """Return `raw` as E.164; "0803 123 4567", "2348031234567" and "+234803..." agree.

    Raises BadPhoneNumber for text that is not a possible number (not cached).
    """
    text = raw.strip()
    if not text:
        raise BadPhoneNumber("empty phone number")
    # Twilio and Africa's Talking send +E.164; people type local or 234-prefixed forms.
    digits = "".join(ch for ch in text if ch.isdigit())
    if not text.startswith("+") and digits.startswith("234") and len(digits) == 13:
        text = "+" + digits
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise BadPhoneNumber(f"not a phone number: {mask(raw)}") from exc
    if not phonenumbers.is_possible_number(number):
        raise BadPhoneNumber(f"not a possible phone number: {mask(raw)}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask(phone: str) -> str:
    """Keep the first 7 and last 2 characters: "+2348031234567" -> "+234803•••67"."""
    phone = phone.strip()
    if len(phone) <= 6:
        return "•••"
    return phone[:7] + "•••" + phone[-2:]


def region_of(e164: str) -> str | None:
    """The ISO country of an E.164 number ("NG"), or None when unknown."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return None
    region: str | None = phonenumbers.region_code_for_number(number)
    return region if region and region != "ZZ" else None
