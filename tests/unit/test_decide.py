"""The pure decision for one SMS: reply and changes, per household state."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from service.domain import model
from service.domain import sms_parser as p
from service.domain.replies import render
from service.domain.sms_segments import fits_one_segment

ADA = model.Household(1, "+2348031234567", "Ada", "en", "active")
OPEN = model.OpenPickup(7, "K7Q2")


def decide(text: str, household=ADA, pickup=None, opted_out=False) -> model.Decision:
    return model.decide(
        p.parse(text), household, pickup, opted_out=opted_out, make_code=lambda: "HJ3K"
    )


def test_pickup_books_with_a_fresh_code() -> None:
    """PICKUP with nothing open creates one pickup and tells its code."""
    d = decide("PICKUP")
    assert d.changes == (model.CreatePickup("HJ3K"),)
    assert "HJ3K" in d.reply


def test_repeat_pickup_confirms_the_open_one() -> None:
    """PICKUP with one open creates nothing and repeats the open code."""
    d = decide("pickup", pickup=OPEN)
    assert d.changes == () and "K7Q2" in d.reply


def test_cancel_with_open_pickup_cancels_it() -> None:
    """Bare CANCEL with an open pickup cancels the pickup, not the subscription."""
    d = decide("CANCEL", pickup=OPEN)
    assert d.changes == (model.CancelPickup(7),)


def test_bare_cancel_without_pickup_is_an_opt_out() -> None:
    """Bare CANCEL with nothing open is Twilio's opt-out word: we stop messaging."""
    d = decide("cancel")
    assert d.changes == (model.OptOut("CANCEL"),)
    assert d.reply == render("stopped", "en")


def test_explicit_cancel_pickup_never_opts_out() -> None:
    """'cancel pickup' with nothing open only says there is nothing to cancel."""
    d = decide("cancel pickup")
    assert d.changes == ()
    assert d.reply == render("no_open_pickup", "en")


def test_stop_words_opt_out() -> None:
    """Twilio's opt-out words all opt the number out."""
    for word in ["STOP", "stopall", "Unsubscribe", "END", "quit", "REVOKE", "optout"]:
        assert decide(word).changes == (model.OptOut(word.upper()),), word


def test_start_opts_back_in() -> None:
    """START after STOP re-enables messages."""
    assert decide("START", opted_out=True).changes == (model.OptIn(),)


def test_reply_uses_household_language() -> None:
    """A household that chose Yoruba is answered in Yoruba."""
    yoruba = model.Household(1, "+2348031234567", "Ada", "yo", "active")
    d = model.decide(p.parse("BAL"), yoruba, None, opted_out=False)
    assert d.language == "yo" and d.reply == render("balance", "yo", balance="N0")


def test_lang_sets_and_answers_in_new_language() -> None:
    """LANG PCM stores Pidgin and answers in Pidgin."""
    d = decide("LANG PCM")
    assert d.changes == (model.SetLanguage("pcm"),)
    assert d.reply == render("lang_set", "pcm")


def test_unknown_number_must_join_first() -> None:
    """PICKUP, BAL and LANG from an unregistered number explain JOIN."""
    for text in ["PICKUP", "BAL"]:
        d = decide(text, household=None)
        assert d.changes == () and d.reply == render("join_first", "en")


def test_join_registers_once() -> None:
    """JOIN creates a household; a second JOIN says it exists already."""
    d = decide("JOIN Ada Obi, 12 Herbert Macaulay Way", household=None)
    assert d.changes == (
        model.CreateHousehold("Ada Obi", "12 Herbert Macaulay Way", "en"),
    )
    assert decide("JOIN Ada Obi, Yaba").changes == ()


def test_not_understood_gets_the_menu() -> None:
    """Unknown text gets the menu and changes nothing."""
    d = decide("I love you")
    assert d.intent == "unknown" and d.reply == render("menu", "en") and d.changes == ()


def test_pickup_codes_avoid_look_alikes() -> None:
    """Codes never contain 0/O/1/I/L/5/S/8/B/Z/G/U (6 and 2 stay; G and Z go)."""
    codes = {model.new_pickup_code() for _ in range(2000)}
    assert all(len(c) == 4 for c in codes)
    assert not set("".join(codes)) & set("0O1IL5S8BZGU")


_households = st.one_of(
    st.none(),
    st.builds(
        model.Household,
        id=st.integers(1, 10**9),
        phone=st.just("+2348031234567"),
        name=st.text(max_size=80),
        language=st.sampled_from(["en", "pcm", "yo", "ha", "ig", "xx"]),
        status=st.sampled_from(["active", "opted_out"]),
    ),
)
_pickups = st.one_of(
    st.none(), st.builds(model.OpenPickup, id=st.integers(1), code=st.just("KQ7X"))
)
_texts = st.one_of(
    st.text(max_size=400),
    st.sampled_from(
        ["JOIN", "PICKUP", "CANCEL", "BAL", "LANG", "AIRTIME", "LOG", "MISS", "STOP"]
    ).flatmap(lambda word: st.text(max_size=60).map(lambda rest: f"{word} {rest}")),
)


@settings(max_examples=400, deadline=None)
@given(text=_texts, household=_households, pickup=_pickups, opted_out=st.booleans())
def test_any_text_gets_a_one_segment_reply(text, household, pickup, opted_out) -> None:
    """Whatever arrives, from whoever, parsing never raises and the reply fits one SMS."""
    if household is None:
        pickup = None
    decision = model.decide(p.parse(text), household, pickup, opted_out=opted_out)
    assert decision.reply and fits_one_segment(decision.reply), decision.reply


def test_incomplete_commands_get_their_own_usage() -> None:
    """A known command with missing arguments is answered with that command's usage."""
    assert decide("JOIN", household=None).reply == render("join_usage", "en")
    assert decide("LANG").reply == render("lang_usage", "en")
    assert decide("AIRTIME").reply == render("usage_amount", "en", command="AIRTIME")
    assert decide("LOG K7Q2").reply == render("log_usage", "en")
