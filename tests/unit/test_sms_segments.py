"""GSM-7 detection, segment counting and GSM-7 look-alikes."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.domain.sms_segments import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    fits_one_segment,
    is_gsm7,
    segment_count,
    to_gsm7,
)

NIGERIAN_LETTERS = "ẹọṣịụṅɓɗƙƴẸỌṢỊỤṄƁƊƘáàéèíìóòúùńǹāēīōū"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", True),
        ("PICKUP booked, code K7Q2. Text CANCEL to cancel.", True),
        ("Ada's {bottles} [2] ~ ^ | \\ €5", True),
        ("@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà\n\r", True),
        ("₦500", False),
        ("ẹ wá", False),
        ("ç", False),  # GSM 03.38 has only the capital Ç
        ("tab\there", False),
        ("“quoted”", False),
        ("♻️", False),
    ],
)
def test_is_gsm7(text: str, expected: bool) -> None:
    """Only the GSM 03.38 basic set and extension table count as GSM-7."""
    assert is_gsm7(text) is expected


def test_alphabet_sizes() -> None:
    """The basic set has 127 characters (128 less the escape) and the extension 10."""
    assert len(GSM7_BASIC) == 127
    assert len(GSM7_EXTENSION) == 10
    assert not GSM7_BASIC & GSM7_EXTENSION


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("", 1),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("{" * 80, 1),  # extension characters cost two septets each
        ("{" * 81, 2),
        ("a" * 159 + "€", 2),
        ("a" * 152 + "{" + "a" * 152, 3),  # an escape pair is never split across parts
        ("ẹ" * 70, 1),
        ("ẹ" * 71, 2),
        ("ẹ" * 134, 2),
        ("ẹ" * 135, 3),
        ("a" * 69 + "₦", 1),  # one non-GSM character switches to UCS-2
        ("a" * 70 + "₦", 2),
        ("😀" * 35, 1),  # astral characters take two UTF-16 code units
        ("😀" * 36, 2),
        ("😀" * 67, 3),  # 33 pairs per part: a surrogate pair is never split
    ],
)
def test_segment_count(text: str, segments: int) -> None:
    """Segments follow 160/153 septets for GSM-7 and 70/67 code units for UCS-2."""
    assert segment_count(text) == segments


def test_fits_one_segment_boundaries() -> None:
    """A single segment holds 160 GSM-7 characters or 70 UCS-2 ones."""
    assert fits_one_segment("x" * 160)
    assert not fits_one_segment("x" * 161)
    assert fits_one_segment("ọ" * 70)
    assert not fits_one_segment("ọ" * 71)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("“Hi” ‘there’", "\"Hi\" 'there'"),
        ("₦1,500", "N1,500"),
        ("9–11am — today", "9-11am - today"),
        ("Wait…", "Wait..."),
        ("Ẹ wá gbé e", "E wa gbe e"),  # é is GSM-7, but tones go all or nothing
        ("ọ̀rọ̀ ṣe ị ụ ṅ", "oro se i u n"),
        ("ɓ ɗ ƙ ƴ Ɓ Ɗ Ƙ", "b d k y B D K"),
        ("Ìbàdàn, Ọ̀yọ́", "Ibadan, Oyo"),
        ("Kaduna ĩ ç ō", "Kaduna i c o"),
        ("non\u00a0breaking\u200bspace", "non breakingspace"),
        ("tab\tstop", "tab stop"),
        ("♻️ recycle", "♻️ recycle"),  # no look-alike: kept, the text stays UCS-2
        ("Plain GSM {text} € £ Δ Ø ß", "Plain GSM {text} € £ Δ Ø ß"),
    ],
)
def test_to_gsm7(text: str, expected: str) -> None:
    """Common non-GSM characters become GSM-7 look-alikes; the rest is untouched."""
    assert to_gsm7(text) == expected


def test_to_gsm7_makes_yoruba_sentence_gsm7() -> None:
    """A fully tone-marked Yoruba sentence becomes pure GSM-7."""
    text = "Ẹ ṣé o! Ẹ wá gbé ìkó yín ní ọ̀la, ₦1,500 – “ọjà” …"
    assert is_gsm7(to_gsm7(text))


@given(st.text(alphabet=NIGERIAN_LETTERS + "abc XYZ.,'’“”–—…₦\u0300\u0301\u0323"))
def test_to_gsm7_of_nigerian_text_is_gsm7(text: str) -> None:
    """Nigerian Latin letters, tone marks and common punctuation end up GSM-7."""
    assert is_gsm7(to_gsm7(text))


@given(st.text())
def test_to_gsm7_is_idempotent(text: str) -> None:
    """Applying to_gsm7 twice changes nothing more than applying it once."""
    once = to_gsm7(text)
    assert to_gsm7(once) == once


UNACCENTED_GSM7 = sorted(
    ch for ch in GSM7_BASIC | GSM7_EXTENSION if unicodedata.normalize("NFKD", ch) == ch
)


@given(st.text(alphabet=UNACCENTED_GSM7))
def test_to_gsm7_keeps_unaccented_gsm7_text(text: str) -> None:
    """GSM-7 text without accented letters comes back unchanged."""
    assert to_gsm7(text) == text


@given(st.text())
def test_segment_count_is_monotonic(text: str) -> None:
    """Adding a character never lowers the segment count, and there is always one."""
    assert 1 <= segment_count(text) <= segment_count(text + "x")
