"""Reply templates: complete in every language, one GSM-7 segment, rendered cleanly."""

from __future__ import annotations

import string

import pytest

from service.domain import sms_parser
from service.domain.replies import (
    LANGUAGES,
    TEMPLATES,
    WORST_CASE,
    format_naira,
    render,
)
from service.domain.sms_segments import fits_one_segment, is_gsm7

REQUIRED_KEYS = {
    "welcome", "already_joined", "join_first", "join_usage", "pickup_booked",
    "pickup_already_open", "pickup_cancelled", "no_open_pickup", "balance", "lang_set",
    "menu", "stopped", "started", "usage_amount", "not_available_yet", "collector_only",
    "rate_limited",
}  # fmt: skip
EVERY_TEMPLATE = [(key, lang) for key in sorted(TEMPLATES) for lang in LANGUAGES]


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_languages() -> None:
    """Replies come in English, Pidgin, Yoruba, Hausa and Igbo, as LANG accepts."""
    assert LANGUAGES == ("en", "pcm", "yo", "ha", "ig")
    assert sms_parser.LANGUAGES == LANGUAGES


def test_required_keys_exist() -> None:
    """Every reply the service needs has a template."""
    assert TEMPLATES.keys() >= REQUIRED_KEYS


@pytest.mark.parametrize("key", sorted(TEMPLATES))
def test_every_language_has_every_key(key: str) -> None:
    """Each template is written in exactly the five languages."""
    assert set(TEMPLATES[key]) == set(LANGUAGES)


@pytest.mark.parametrize("key", sorted(TEMPLATES))
def test_translations_use_the_same_placeholders(key: str) -> None:
    """No translation drops or invents a placeholder, and each has a worst case."""
    english = placeholders(TEMPLATES[key]["en"])
    assert english <= WORST_CASE.keys()
    for lang in LANGUAGES:
        assert placeholders(TEMPLATES[key][lang]) == english, lang


@pytest.mark.parametrize(("key", "lang"), EVERY_TEMPLATE)
def test_worst_case_fits_one_gsm7_segment(key: str, lang: str) -> None:
    """With the longest values filled in, every reply is GSM-7 and one segment."""
    text = render(key, lang, **WORST_CASE)
    assert is_gsm7(text), [ch for ch in text if not is_gsm7(ch)]
    assert fits_one_segment(text), len(text)


@pytest.mark.parametrize(("key", "lang"), EVERY_TEMPLATE)
def test_render_leaves_no_braces(key: str, lang: str) -> None:
    """Rendering fills every placeholder: no { or } is left in the text."""
    text = render(key, lang, **WORST_CASE)
    assert "{" not in text
    assert "}" not in text


@pytest.mark.parametrize(("key", "lang"), EVERY_TEMPLATE)
def test_templates_are_tidy(key: str, lang: str) -> None:
    """Templates have no doubled or edge spaces and no naira sign."""
    template = TEMPLATES[key][lang]
    assert template == template.strip()
    assert "  " not in template
    assert "₦" not in template


def test_render_fills_values() -> None:
    """Values appear in the rendered text."""
    assert "K7Q2" in render("pickup_booked", "pcm", code="K7Q2")
    assert "N1,500" in render("balance", "yo", balance="N1,500")
    assert "AIRTIME 500" in render("usage_amount", "ha", command="AIRTIME")


def test_render_unknown_language_falls_back_to_english() -> None:
    """An unknown language code gets the English text."""
    assert render("menu", "fr") == render("menu", "en")


def test_render_unknown_key_raises() -> None:
    """An unknown key is a programming error: KeyError."""
    with pytest.raises(KeyError):
        render("no_such_reply", "en")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_menu_lists_the_main_commands(lang: str) -> None:
    """The menu, in every language, names the main commands as typed."""
    menu = render("menu", lang)
    for command in ("PICKUP", "CANCEL", "BAL", "AIRTIME", "LANG", "STOP"):
        assert command in menu


@pytest.mark.parametrize("lang", LANGUAGES)
def test_welcome_explains_pickup(lang: str) -> None:
    """The welcome tells a new household to text PICKUP for its pickup code."""
    assert "PICKUP" in render("welcome", lang)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_join_first_shows_the_join_format(lang: str) -> None:
    """An unregistered number is shown how to text JOIN name, place."""
    assert "JOIN " in render("join_first", lang)


@pytest.mark.parametrize(
    ("kobo", "text"),
    [
        (0, "N0"),
        (5, "N0.05"),
        (50_000, "N500"),
        (150_000, "N1,500"),
        (150_050, "N1,500.50"),
        (1_000_000_000, "N10,000,000"),
        (999_999_999, "N9,999,999.99"),
        (-150_050, "-N1,500.50"),
    ],
)
def test_format_naira(kobo: int, text: str) -> None:
    """Kobo become naira with thousands commas, and kobo only when there are some."""
    assert format_naira(kobo) == text


def test_worst_case_balance_is_the_longest() -> None:
    """The worst-case balance is as long as any balance below the credit cap."""
    outstanding_credit_cap = 1_000_000_000  # RECOOP_OUTSTANDING_CREDIT_CAP_KOBO default
    longest = format_naira(outstanding_credit_cap - 1)
    assert len(longest) <= len(WORST_CASE["balance"])
