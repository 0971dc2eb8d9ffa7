"""SMS segment arithmetic: GSM-7 or UCS-2, segment counts, and GSM-7 look-alikes."""

from __future__ import annotations

import unicodedata

__all__ = [
    "GSM7_BASIC",
    "GSM7_EXTENSION",
    "fits_one_segment",
    "is_gsm7",
    "segment_count",
    "to_gsm7",
]

# GSM 03.38 default alphabet (the 0x1B escape itself is not a character).
GSM7_BASIC: frozenset[str] = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Extension table: each costs two septets (escape + code).
GSM7_EXTENSION: frozenset[str] = frozenset("\f^{}\\[~]|€")
_GSM7_ALL = GSM7_BASIC | GSM7_EXTENSION

_GSM7_SINGLE, _GSM7_PART = 160, 153  # a split message loses 7 septets to the UDH
_UCS2_SINGLE, _UCS2_PART = 70, 67

# Characters NFKD cannot take to GSM-7 on its own.
_LOOKALIKES: dict[str, str] = {
    "‘": "'",
    "’": "'",
    "‚": "'",
    "‛": "'",
    "′": "'",
    "ʼ": "'",
    "ˈ": "'",
    "`": "'",
    "´": "'",
    "‹": "'",
    "›": "'",
    "“": '"',
    "”": '"',
    "„": '"',
    "‟": '"',
    "″": '"',
    "«": '"',
    "»": '"',
    "‐": "-",
    "‑": "-",
    "‒": "-",
    "–": "-",
    "—": "-",
    "―": "-",
    "−": "-",
    "₦": "N",
    "¢": "c",
    "×": "x",
    "÷": "/",
    "•": "*",
    "·": ".",
    "\t": " ",
    "\u00a0": " ",
    "\u00ad": "",
    "\u200b": "",
    "\u200c": "",
    "\u200d": "",
    "\u2060": "",
    "\ufeff": "",
    # Hausa hooked letters and other letters with no decomposition.
    "ɓ": "b",
    "Ɓ": "B",
    "ɗ": "d",
    "Ɗ": "D",
    "ƙ": "k",
    "Ƙ": "K",
    "ƴ": "y",
    "Ƴ": "Y",
    "ŋ": "n",
    "Ŋ": "N",
    "ı": "i",
    "ł": "l",
    "Ł": "L",
    "đ": "d",
    "Đ": "D",
    "ð": "d",
    "þ": "th",
    "Þ": "Th",
    "œ": "oe",
    "Œ": "OE",
    "ç": "c",
}


def is_gsm7(text: str) -> bool:
    """Whether every character is in the GSM 03.38 basic set or its extension table."""
    return all(ch in _GSM7_ALL for ch in text)


def segment_count(text: str) -> int:
    """How many SMS segments `text` takes; an empty message still takes one.

    GSM-7 holds 160 septets in one segment and 153 per part when split; UCS-2 holds 70
    UTF-16 code units, 67 per part. Phones never split an escape sequence or a
    surrogate pair across parts, so a part may carry one unit less than its maximum.
    """
    if is_gsm7(text):
        costs = [2 if ch in GSM7_EXTENSION else 1 for ch in text]
        single, part = _GSM7_SINGLE, _GSM7_PART
    else:
        costs = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
        single, part = _UCS2_SINGLE, _UCS2_PART
    if sum(costs) <= single:
        return 1
    parts, used = 1, 0
    for cost in costs:
        if used + cost > part:
            parts, used = parts + 1, 0
        used += cost
    return parts


def fits_one_segment(text: str) -> bool:
    """Whether `text` goes out as a single SMS segment."""
    return segment_count(text) == 1


def to_gsm7(text: str) -> str:
    """Replace common non-GSM characters with GSM-7 look-alikes.

    Curly quotes become straight, ₦ becomes "N", dashes "-", the ellipsis "...", and
    letters with dots, tones or accents (ẹ ọ ṣ ị ụ ṅ ɓ ɗ ƙ á é...) their base letter,
    even where GSM-7 has the accented form, so tone marks never half-survive
    ("gbé" next to "wa"). Characters with no look-alike (emoji, other scripts) are
    kept, so the result may still need UCS-2.
    """
    out: list[str] = []
    for ch in unicodedata.normalize("NFC", text):
        if ch.isascii() and ch in _GSM7_ALL:
            out.append(ch)
        elif ch in _LOOKALIKES:
            out.append(_LOOKALIKES[ch])
        else:
            out.append(_decompose(ch))
    return "".join(out)


def _decompose(ch: str) -> str:
    """`ch` without its combining marks, if that lands in GSM-7; else `ch` itself."""
    base = "".join(
        c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c)
    )
    if base == "":  # a stray combining mark (tone, dot below): drop it
        return ""
    return base if is_gsm7(base) else ch
