"""Open Location Codes ("plus codes"): the public algorithm, encode and decode, 10 digits."""

from __future__ import annotations

import math
import re

ALPHABET = "23456789CFGHJMPQRVWX"
_PAIR_RESOLUTION = 8000  # 10-digit codes resolve 1/8000 of a degree (about 14 m)
_FULL = re.compile(r"^[23456789CFGHJMPQRVWX]{8}\+[23456789CFGHJMPQRVWX]{2}$")


def encode(lat: float, lon: float) -> str:
    """The 10-digit plus code of a point, e.g. Yaba -> "6FR5GJ5C+..."."""
    lat = min(max(lat, -90.0), 90.0 - 1e-9) + 90.0
    lon = (lon + 180.0) % 360.0
    lat_v, lon_v = (
        math.floor(lat * _PAIR_RESOLUTION),
        math.floor(lon * _PAIR_RESOLUTION),
    )
    digits: list[str] = []
    for _ in range(5):
        digits += [ALPHABET[lon_v % 20], ALPHABET[lat_v % 20]]
        lat_v //= 20
        lon_v //= 20
    code = "".join(reversed(digits))
    return code[:8] + "+" + code[8:]


def is_full_code(text: str) -> bool:
    return bool(_FULL.match(text.strip().upper()))


def decode(code: str) -> tuple[float, float]:
    """The centre (lat, lon) of a full 10-digit plus code."""
    code = code.strip().upper()
    if not is_full_code(code):
        raise ValueError(f"not a full 10-digit plus code: {code!r}")
    digits = code.replace("+", "")
    lat_v = lon_v = 0
    for i in range(0, 10, 2):
        lat_v = lat_v * 20 + ALPHABET.index(digits[i])
        lon_v = lon_v * 20 + ALPHABET.index(digits[i + 1])
    half = 0.5 / _PAIR_RESOLUTION
    return lat_v / _PAIR_RESOLUTION - 90 + half, lon_v / _PAIR_RESOLUTION - 180 + half


_SHORT = re.compile(r"^[23456789CFGHJMPQRVWX]{2,8}\+[23456789CFGHJMPQRVWX]{2}$")
_IN_TEXT = re.compile(
    r"[23456789CFGHJMPQRVWX]{2,8}\+[23456789CFGHJMPQRVWX]{2}", re.IGNORECASE
)
# Lagos Island, the reference for short codes people type ("G95C+RC Yaba").
LAGOS = (6.4550, 3.3941)


def recover_nearest(code: str, ref_lat: float, ref_lon: float) -> tuple[float, float]:
    """The centre of a short code ("G95C+RC"), taken as the cell nearest the reference."""
    code = code.strip().upper()
    if is_full_code(code):
        return decode(code)
    if not _SHORT.match(code) or code.index("+") % 2:
        raise ValueError(f"not a plus code: {code!r}")
    padding = 8 - code.index("+")
    resolution = 20.0 ** (2 - padding / 2)
    lat, lon = decode(encode(ref_lat, ref_lon)[:padding] + code)
    half = resolution / 2
    if ref_lat + half < lat and lat - resolution >= -90:
        lat -= resolution
    elif ref_lat - half > lat and lat + resolution <= 90:
        lat += resolution
    if ref_lon + half < lon:
        lon -= resolution
    elif ref_lon - half > lon:
        lon += resolution
    return lat, lon


def find_in_text(
    text: str, near: tuple[float, float] = LAGOS
) -> tuple[float, float] | None:
    """The location of the first plus code in an address, or None."""
    for match in _IN_TEXT.finditer(text):
        try:
            return recover_nearest(match.group(0), *near)
        except ValueError:
            continue
    return None
