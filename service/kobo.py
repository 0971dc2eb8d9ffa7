"""KoboToolbox REST Services JSON submission -> a checked weighing (pure)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from service.domain.sms_parser import MATERIALS, MAX_ITEM_GRAMS, PICKUP_CODE_ALPHABET

__all__ = [
    "FORM_PATHS",
    "MAX_KG",
    "PICKUP_CODE_LENGTHS",
    "KoboPayloadError",
    "KoboWeighing",
    "parse_submission",
]

# Submission keys of the shipped form (deploy/kobo/recoop_weighing.xlsx): question
# names, with the repeat's name as a path prefix inside it, as Kobo posts them.
PICKUP_CODE = "pickup_code"
ITEMS = "items"
MATERIAL = "items/material"
KG = "items/kg"
LOCATION = "location"
COLLECTED_AT = "collected_at"
END = "end"
FORM_PATHS = frozenset({PICKUP_CODE, ITEMS, MATERIAL, KG, LOCATION, COLLECTED_AT})
# Kobo's own keys.
INSTANCE_ID = "meta/instanceID"
UUID = "_uuid"
SUBMISSION_TIME = "_submission_time"
GEOLOCATION = "_geolocation"

# A date alone is not enough: it would silently mean midnight.
_DATE_AND_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")
MAX_KG = Decimal(1000)  # per line; also the form's constraint on kg
PICKUP_CODE_LENGTHS = range(4, 7)  # 4 to 6 characters, as the form's constraint


class KoboPayloadError(ValueError):
    """A submission that cannot become a weighing; the message says which field and why."""


@dataclass(frozen=True, slots=True)
class KoboWeighing:
    """One weighing from a Kobo submission; `instance_id` deduplicates Kobo's retries."""

    instance_id: str
    pickup_code: str
    items: tuple[tuple[str, int], ...]  # (material code, grams), one per material
    collected_at: datetime  # aware, UTC
    lat: float | None
    lon: float | None


def parse_submission(payload: Mapping[str, Any]) -> KoboWeighing:
    """Map a KoboToolbox REST Services JSON submission onto a weighing.

    Parameters
    ----------
    payload
        The decoded JSON body Kobo posts for one submission of the shipped form.

    Returns
    -------
    KoboWeighing
        ``instance_id`` is ``meta/instanceID`` (``"uuid:..."``), or ``"uuid:"`` +
        ``_uuid`` when Kobo sent no instance id. ``pickup_code`` is upper-cased with
        spaces removed. ``items`` holds grams per material in order of first
        appearance, two lines of one material adding up; kg become grams exactly
        (``Decimal``), rounded half up to the gram. ``collected_at`` is the
        ``collected_at`` question, else the ``end`` metadata, else
        ``_submission_time`` (which Kobo sends in UTC without a zone), in UTC.
        ``lat``/``lon`` come from the ``location`` geopoint
        ("lat lon altitude accuracy"), else ``_geolocation``, else are None.

    Raises
    ------
    KoboPayloadError
        If the payload is not an object, or any field is missing or invalid: no
        instance id, a pickup code outside the code alphabet or 4 to 6 characters,
        no items, an unknown material, kg that is not a number, NaN, zero or less,
        or over 1000 (also as a total per material), a time without a zone (other
        than ``_submission_time``), or a geopoint outside the globe.
    """
    if not isinstance(payload, Mapping):
        raise KoboPayloadError("the submission is not a JSON object")
    lat, lon = _location(payload)
    return KoboWeighing(
        instance_id=_instance_id(payload),
        pickup_code=_pickup_code(payload.get(PICKUP_CODE)),
        items=_items(payload.get(ITEMS)),
        collected_at=_collected_at(payload),
        lat=lat,
        lon=lon,
    )


def _text(value: Any) -> str:
    """A stripped string answer, or "" for an absent or non-string one."""
    return value.strip() if isinstance(value, str) else ""


def _instance_id(payload: Mapping[str, Any]) -> str:
    """The submission's instance id, the same on every retry of one submission."""
    instance_id = _text(payload.get(INSTANCE_ID))
    if instance_id:
        return instance_id
    uuid = _text(payload.get(UUID))
    if uuid:
        return f"uuid:{uuid}"
    raise KoboPayloadError(f"{INSTANCE_ID} and {UUID} are both missing")


def _pickup_code(value: Any) -> str:
    """The pickup code, upper-cased, with spaces removed, checked against the alphabet."""
    if not isinstance(value, str) or not value.strip():
        raise KoboPayloadError(f"{PICKUP_CODE} is missing")
    code = "".join(value.split()).upper()
    if len(code) not in PICKUP_CODE_LENGTHS or any(
        ch not in PICKUP_CODE_ALPHABET for ch in code
    ):
        raise KoboPayloadError(
            f"{PICKUP_CODE} {value!r} is not 4 to 6 characters of "
            f"{PICKUP_CODE_ALPHABET}"
        )
    return code


def _items(value: Any) -> tuple[tuple[str, int], ...]:
    """Grams per material from the `items` repeat, in order of first appearance."""
    if not isinstance(value, list) or not value:
        raise KoboPayloadError(f"{ITEMS} is missing or empty: nothing was weighed")
    totals: dict[str, int] = {}
    for number, entry in enumerate(value, start=1):
        if not isinstance(entry, Mapping):
            raise KoboPayloadError(f"{ITEMS}[{number}] is not an object")
        material = _text(entry.get(MATERIAL)).upper()
        if material not in MATERIALS:
            raise KoboPayloadError(
                f"{ITEMS}[{number}]: {MATERIAL} {entry.get(MATERIAL)!r} is not one "
                f"of {', '.join(sorted(MATERIALS))}"
            )
        grams = _grams(entry.get(KG), f"{ITEMS}[{number}]")
        totals[material] = totals.get(material, 0) + grams  # two bags of PET add up
        if totals[material] > MAX_ITEM_GRAMS:
            raise KoboPayloadError(
                f"{ITEMS}: {material} adds up to more than {MAX_KG} kg"
            )
    return tuple(totals.items())


def _grams(value: Any, where: str) -> int:
    """Exact grams from a kg answer ("2.5" -> 2500), in (0, 1000 kg]."""
    if isinstance(value, str):
        value = value.strip()
    if (
        value == ""
        or isinstance(value, bool)
        or not isinstance(value, str | int | float)
    ):
        raise KoboPayloadError(f"{where}: {KG} is missing")
    try:
        kg = Decimal(value if isinstance(value, str) else str(value))
    except InvalidOperation:
        raise KoboPayloadError(f"{where}: {KG} {value!r} is not a number") from None
    if not kg.is_finite():
        raise KoboPayloadError(f"{where}: {KG} {value!r} is not a number")
    if kg <= 0 or kg > MAX_KG:
        raise KoboPayloadError(
            f"{where}: {KG} {value!r} is not above 0 and at most {MAX_KG}"
        )
    grams = int((kg * 1000).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if grams <= 0:
        raise KoboPayloadError(f"{where}: {KG} {value!r} is less than one gram")
    return grams


def _collected_at(payload: Mapping[str, Any]) -> datetime:
    """When the weighing happened: the question, else the form's end, else receipt."""
    for key in (COLLECTED_AT, END):
        text = _text(payload.get(key))
        if text:
            return _timestamp(text, key, naive_is_utc=False)
    text = _text(payload.get(SUBMISSION_TIME))
    if text:
        return _timestamp(text, SUBMISSION_TIME, naive_is_utc=True)
    raise KoboPayloadError(
        f"{COLLECTED_AT}, {END} and {SUBMISSION_TIME} are all missing"
    )


def _timestamp(text: str, key: str, *, naive_is_utc: bool) -> datetime:
    """An ISO 8601 date and time in UTC; a device time must carry its zone."""
    if not _DATE_AND_TIME.match(text):
        raise KoboPayloadError(f"{key} {text!r} is not an ISO 8601 date and time")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise KoboPayloadError(
            f"{key} {text!r} is not an ISO 8601 date and time"
        ) from None
    if moment.tzinfo is None:
        if not naive_is_utc:
            raise KoboPayloadError(f"{key} {text!r} has no time zone")
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _location(payload: Mapping[str, Any]) -> tuple[float | None, float | None]:
    """(lat, lon) from the geopoint answer, else Kobo's `_geolocation`, else Nones."""
    text = _text(payload.get(LOCATION))
    if text:
        parts = text.split()
        if not 2 <= len(parts) <= 4:
            raise KoboPayloadError(
                f"{LOCATION} {text!r} is not 'lat lon altitude accuracy'"
            )
        return _coordinates(parts[0], parts[1], LOCATION)
    fallback = payload.get(GEOLOCATION)
    if (
        isinstance(fallback, list)
        and len(fallback) == 2
        and all(v is not None for v in fallback)
    ):
        return _coordinates(fallback[0], fallback[1], GEOLOCATION)
    return None, None


def _coordinates(lat_value: Any, lon_value: Any, key: str) -> tuple[float, float]:
    """Latitude and longitude as finite floats inside their ranges."""
    try:
        if isinstance(lat_value, bool) or isinstance(lon_value, bool):
            raise TypeError
        lat, lon = float(lat_value), float(lon_value)
    except (TypeError, ValueError):
        raise KoboPayloadError(
            f"{key}: {lat_value!r} {lon_value!r} are not coordinates"
        ) from None
    if not (math.isfinite(lat) and math.isfinite(lon)):
        raise KoboPayloadError(
            f"{key}: {lat_value!r} {lon_value!r} are not coordinates"
        )
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise KoboPayloadError(f"{key}: ({lat}, {lon}) is outside the globe")
    return lat, lon
