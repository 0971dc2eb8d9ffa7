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
