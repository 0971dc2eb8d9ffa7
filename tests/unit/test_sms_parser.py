"""The SMS parser: commands, typos, Pidgin and Yoruba, amounts, weights, totality."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.domain import sms_parser as p
from service.domain.sms_parser import (
    Airtime,
    Balance,
    Cancel,
    Cashout,
    Claim,
    Help,
    Incomplete,
    Intent,
    Join,
    Lang,
    Log,
    Miss,
    Pickup,
    Start,
    Stop,
    Unknown,
    Voucher,
    Wrong,
    normalise_code,
    parse,
)


def bare(intent: Intent) -> Intent:
    """The intent without its language hint, for comparisons that ignore it."""
    return dataclasses.replace(intent, language_hint=None)


PICKUP_TEXTS = [
    "PICKUP", "pickup", "Pickup!!!", "  pickup  ", "pick up", "pick-up", "PICK UP PLS",
    "Pick up please", "pickup tomorrow", "pikup", "pickp", "pickpu", "pik up",
    "please pickup", "abeg pickup", "i want pickup", "I need a pickup",
    "i want to book a pickup", "collect my bottles", "pls come carry my bottles",
    "una fit come carry am", "come pick my waste", "Come and pick my bottles",
    "make una come carry am", "i get bottles", "I get plenty bottles",
    "i have some cans", "e don full", "E don full o", "my bag is full",
    "e wa gbe", "ẹ wá gbé e", "Ẹ WÁ GBÉ E!!", "mo fe ki e wa gbe ike", "e maa wa gbe",
    "mo ni ike", "ku zo ku dauka", "bia buru ya",
]  # fmt: skip


@pytest.mark.parametrize("text", PICKUP_TEXTS)
def test_pickup(text: str) -> None:
    """Keywords, spacing, punctuation, typos and local phrasings ask for a pickup."""
    assert bare(parse(text)) == Pickup()


BALANCE_TEXTS = [
    "BAL", "bal", "bal?", "Balance", "BALANCE!!", "balnce", "blance", "balanse",
    "pls bal", "account", "my balance", "check my balance", "What is my balance?",
    "how much i get", "How much I don get", "how much do i have",
    "how much is in my account", "wetin i get for my account", "wetin i get",
    "wetin dey my account", "elo lo wa ninu account mi", "elo ni mo ni",
    "Ẹlo ni owó mi?", "ego m ole",
]  # fmt: skip


@pytest.mark.parametrize("text", BALANCE_TEXTS)
def test_balance(text: str) -> None:
    """Keywords, typos and Pidgin/Yoruba/Igbo questions ask for the balance."""
    assert bare(parse(text)) == Balance()


@pytest.mark.parametrize(
    ("text", "explicit"),
    [
        ("CANCEL", False),
        ("cancel", False),
        ("Cancel.", False),
        ("cancle", False),
        ("please cancel", False),
        ("cancel pickup", True),
        ("cancel my pickup", True),
        ("CANCEL MY PICK UP", True),
        ("cancel am", True),
        ("cancle it", True),
        ("pickup cancel", True),
        ("abeg make una cancel am", True),
        ("i want to cancel my pickup", True),
        ("help me cancel my pickup", True),
        ("no come again", True),
        ("No come again o", True),
        ("make una no come", True),
        ("please don't come", True),
        ("I don't want pickup again", True),
        ("no need to come", True),
        ("ma wa mo", True),
        ("Ẹ má wá mọ́", True),
        ("fagile", False),
        ("kada ku zo", True),
    ],
)
def test_cancel(text: str, explicit: bool) -> None:
    """Cancel requests say whether they clearly name the pickup."""
    assert bare(parse(text)) == Cancel(explicit_pickup=explicit)


@pytest.mark.parametrize(
    "text",
    ["HELP", "help", "Help!", "hlep", "INFO", "menu", "?", "??", "help me",
     "wetin i go do", "Wetin I fit do?", "how e dey work", "how does this work",
     "iranlowo", "Ìrànlọ́wọ́", "e ran mi lowo", "taimako", "enyemaka"],
)  # fmt: skip
def test_help(text: str) -> None:
    """HELP, INFO, MENU, "?" and local ways of asking what to do get the menu."""
    assert bare(parse(text)) == Help()


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("STOP", "STOP"),
        ("stop", "STOP"),
        ("Stop.", "STOP"),
        (" STOP! ", "STOP"),
        ("STOPALL", "STOPALL"),
        ("stop all", "STOPALL"),
        ("UNSUBSCRIBE", "UNSUBSCRIBE"),
        ("end", "END"),
        ("Quit", "QUIT"),
        ("REVOKE", "REVOKE"),
        ("OPTOUT", "OPTOUT"),
        ("opt out", "OPTOUT"),
        ("opt-out", "OPTOUT"),
    ],
)
def test_stop(text: str, word: str) -> None:
    """Twilio's opt-out words, as the whole message, opt out with that word."""
    assert parse(text) == Stop(word)


def test_bare_cancel_is_not_stop() -> None:
    """Bare CANCEL, though on Twilio's list, is Cancel: the service decides."""
    assert parse("CANCEL") == Cancel(explicit_pickup=False)


@pytest.mark.parametrize(
    "text",
    ["stop it now", "please stop the bottles", "the end of the road", "quitting"],
)
def test_opt_out_words_only_as_whole_message(text: str) -> None:
    """An opt-out word inside a longer message does not opt out."""
    assert not isinstance(parse(text), Stop)


@pytest.mark.parametrize("text", ["START", "start", "Unstop", "YES", "yes!"])
def test_start(text: str) -> None:
    """Twilio's opt-in words, as the whole message, opt back in."""
    assert parse(text) == Start()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("JOIN Ada Obi, 12 Herbert Macaulay Way Yaba",
         Join("Ada Obi", "12 Herbert Macaulay Way Yaba")),
        ("join ada obi,12 herbert macaulay", Join("ada obi", "12 herbert macaulay")),
        ("JOIN: Ada Obi , opposite Yaba market, Lagos",
         Join("Ada Obi", "opposite Yaba market, Lagos")),
        ("join ada 12 herbert macaulay", Join("ada", "12 herbert macaulay")),
        ("join ada obi 12 herbert macaulay", Join("ada obi", "12 herbert macaulay")),
        ("join Ada Obi Okafor No. 5 Allen Avenue",
         Join("Ada Obi Okafor", "No. 5 Allen Avenue")),
        ("join ada obi behind yaba market", Join("ada obi", "behind yaba market")),
        ("join ada yaba market", Join("ada", "yaba market")),
        ("JOIN Ada, 7FG8V4QF+2X", Join("Ada", "7FG8V4QF+2X")),
        ("join ada 7FG8V4QF+2X", Join("ada", "7FG8V4QF+2X")),
        ("join Ada CFGH+JM Yaba", Join("Ada", "CFGH+JM Yaba")),
        ("register Ngozi, 3 Ojo Road", Join("Ngozi", "3 Ojo Road")),
        ("sign up Musa, Sabon Gari", Join("Musa", "Sabon Gari")),
        ("jion Bisi, 4 Ikorodu Road", Join("Bisi", "4 Ikorodu Road")),
        ("JOIN Adébáyọ̀ Ọlá, 4 Ìkòyí", Join("Adébáyọ̀ Ọlá", "4 Ìkòyí")),
    ],
)  # fmt: skip
def test_join(text: str, expected: Join) -> None:
    """JOIN splits name and address at the first comma, or by the no-comma rule."""
    assert bare(parse(text)) == expected


def test_join_trims_name_and_address() -> None:
    """Names are cut to 60 characters and addresses to 160."""
    intent = parse("JOIN " + "A" * 100 + ", " + "12 Long Street " * 30)
    assert isinstance(intent, Join)
    assert len(intent.name) == 60
    assert len(intent.address) <= 160
    assert intent.address.startswith("12 Long Street")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("JOIN", "missing_name"),
        ("join ada", "missing_address"),
        ("JOIN Ada,", "missing_address"),
        ("JOIN , 12 Ojo Road", "missing_name"),
        ("i want to join", "missing_name"),
    ],
)
def test_join_incomplete(text: str, reason: str) -> None:
    """JOIN without a name or an address asks for JOIN's usage."""
    assert bare(parse(text)) == Incomplete("JOIN", reason)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("LANG EN", "en"),
        ("lang pcm", "pcm"),
        ("LANG YO", "yo"),
        ("LANG HA", "ha"),
        ("lang ig", "ig"),
        ("LANG PIDGIN", "pcm"),
        ("LANG YORUBA", "yo"),
        ("LANG HAUSA", "ha"),
        ("LANG IGBO", "ig"),
        ("LANG ENGLISH", "en"),
        ("Lang: Yorùbá", "yo"),
        ("language hausa", "ha"),
        ("Pidgin", "pcm"),
        ("yoruba", "yo"),
    ],
)
def test_lang(text: str, language: str) -> None:
    """LANG takes a code or a language name; a bare language name works too."""
    assert bare(parse(text)) == Lang(language)


@pytest.mark.parametrize("text", ["LANG", "lang klingon", "LANG FR"])
def test_lang_incomplete(text: str) -> None:
    """LANG without a known language asks for LANG's usage."""
    assert bare(parse(text)) == Incomplete("LANG", "missing_language")


AMOUNT_CASES = [
    ("AIRTIME 500", Airtime(50_000)),
    ("airtime N500", Airtime(50_000)),
    ("airtime ₦500", Airtime(50_000)),
    ("airtime #500", Airtime(50_000)),
    ("airtime n 500", Airtime(50_000)),
    ("airtime 500 naira", Airtime(50_000)),
    ("airtime: 500 pls", Airtime(50_000)),
    ("airtime of N500", Airtime(50_000)),
    ("CASHOUT 1,000", Cashout(100_000)),
    ("cashout 1000.00", Cashout(100_000)),
    ("voucher 2k", Voucher(200_000)),
    ("voucher 2K", Voucher(200_000)),
    ("voucher 1.5k", Voucher(150_000)),
    ("cashout N1,500.50", Cashout(150_050)),
    ("cashout 100.5", Cashout(10_050)),
    ("airtime 10,000,000", Airtime(1_000_000_000)),
    ("airtym 500", Airtime(50_000)),
    ("air time 500", Airtime(50_000)),
    ("recharge 200", Airtime(20_000)),
    ("cashot 200", Cashout(20_000)),
    ("cash out 300", Cashout(30_000)),
    ("cash 300", Cashout(30_000)),
    ("withdraw 300", Cashout(30_000)),
    ("vocher 300", Voucher(30_000)),
    ("i want airtime 500", Airtime(50_000)),
    ("AIRTIME ５００", Airtime(50_000)),
]


@pytest.mark.parametrize(("text", "expected"), AMOUNT_CASES)
def test_amounts(text: str, expected: Intent) -> None:
    """Naira amounts in everyday notations become exact kobo."""
    assert bare(parse(text)) == expected


@pytest.mark.parametrize(
    ("text", "command", "reason"),
    [
        ("AIRTIME", "AIRTIME", "missing_amount"),
        ("cashout please", "CASHOUT", "missing_amount"),
        ("voucher five hundred", "VOUCHER", "missing_amount"),
        ("airtime 0", "AIRTIME", "bad_amount"),
        ("airtime N0.00", "AIRTIME", "bad_amount"),
        ("airtime -500", "AIRTIME", "bad_amount"),
        ("airtime 20000000", "AIRTIME", "bad_amount"),
        ("airtime 10,000,000.01", "AIRTIME", "bad_amount"),
        ("airtime 1,00", "AIRTIME", "bad_amount"),
        ("airtime 1.505", "AIRTIME", "bad_amount"),
        ("airtime 500 1000", "AIRTIME", "bad_amount"),
        ("airtime 500abc", "AIRTIME", "bad_amount"),
        ("airtime " + "9" * 40, "AIRTIME", "bad_amount"),
    ],
)
def test_amounts_incomplete(text: str, command: str, reason: str) -> None:
    """Missing, zero, negative, fractional-kobo or absurd amounts are Incomplete."""
    assert bare(parse(text)) == Incomplete(command, reason)


@given(st.integers(min_value=1, max_value=10_000_000), st.booleans())
def test_any_whole_naira_amount_round_trips(naira: int, commas: bool) -> None:
    """Every whole-naira amount up to the cap parses to exactly that many kobo."""
    text = f"{naira:,}" if commas else str(naira)
    assert parse(f"AIRTIME {text}") == Airtime(naira * 100)


@given(st.integers(min_value=1, max_value=999_999))
def test_any_naira_and_kobo_amount_round_trips(kobo: int) -> None:
    """Amounts with kobo parse exactly, with no float rounding."""
    text = f"N{kobo // 100:,}.{kobo % 100:02d}"
    assert parse(f"CASHOUT {text}") == Cashout(kobo)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("LOG K7Q2 PET 2.5 ALU 0.4", Log("K7Q2", (("PET", 2500), ("ALU", 400)))),
        ("log k7q2 pet 2,5 alu 0.4kg", Log("K7Q2", (("PET", 2500), ("ALU", 400)))),
        ("LOG K7Q2 PET:2.5, ALU=0.4", Log("K7Q2", (("PET", 2500), ("ALU", 400)))),
        ("LOG K7Q2 2.5kg PET", Log("K7Q2", (("PET", 2500),))),
        ("LOG K7Q2 bottles 1 cans 500g", Log("K7Q2", (("PET", 1000), ("ALU", 500)))),
        ("LOG K7Q2 nylon 0.3 pure water 0.2", Log("K7Q2", (("SACHET", 500),))),
        ("LOG K7Q2 HDPE 1.25 GLASS 3 SACHET .5",
         Log("K7Q2", (("HDPE", 1250), ("GLASS", 3000), ("SACHET", 500)))),
        ("LOG K7Q2 PET 1 PET 1.5", Log("K7Q2", (("PET", 2500),))),
        ("LOG K7Q2 PET bottles 2", Log("K7Q2", (("PET", 2000),))),
        ("LOG k7q2 pet 0.0015", Log("K7Q2", (("PET", 2),))),  # nearest gram
        ("LOG K7Q2 PET 2.5 and ALU 0.4", Log("K7Q2", (("PET", 2500), ("ALU", 400)))),
    ],
)  # fmt: skip
def test_log(text: str, expected: Log) -> None:
    """LOG reads material codes, synonyms and kg (or g) as exact grams."""
    assert bare(parse(text)) == expected


@given(st.integers(min_value=1, max_value=p.MAX_ITEM_GRAMS))
def test_any_weight_in_kg_becomes_exact_grams(grams: int) -> None:
    """Every weight in kg with up to three decimals becomes exactly that many grams."""
    kg = Decimal(grams) / 1000
    assert parse(f"LOG K7Q2 PET {kg}") == Log("K7Q2", (("PET", grams),))


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("LOG", "missing_code"),
        ("LOG PET 2.5", "missing_code"),
        ("LOG K7O2 PET 2.5", "missing_code"),  # O is not in the code alphabet
        ("LOG K7Q2", "bad_items"),
        ("LOG K7Q2 PET", "bad_items"),
        ("LOG K7Q2 PET 2.5 ALU", "bad_items"),
        ("LOG K7Q2 PET two", "bad_material"),
        ("LOG K7Q2 plastic 2", "bad_material"),
        ("LOG K7Q2 PET 0", "bad_weight"),
        ("LOG K7Q2 PET 0.0001", "bad_weight"),
        ("LOG K7Q2 PET 5000", "bad_weight"),
        ("LOG K7Q2 PET 600 PET 600", "bad_weight"),
        ("LOG K7Q2 PET 2.5 !!", "bad_items"),
        ("LOG K7Q2 PET ALU 2 3", "bad_items"),
        ("LOG K7Q2 PET 2 3 ALU", "bad_items"),
    ],
)
def test_log_incomplete(text: str, reason: str) -> None:
    """LOG with a bad code, material or weight is Incomplete, never guessed."""
    assert bare(parse(text)) == Incomplete("LOG", reason)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("MISS K7Q2 not at home", Miss("K7Q2", "not at home")),
        (
            "miss k7q2 Gate locked, dog barking.",
            Miss("K7Q2", "Gate locked, dog barking"),
        ),
        ("MISS K7Q2: nobody dey house", Miss("K7Q2", "nobody dey house")),
        ("missed K7Q2 road flooded", Miss("K7Q2", "road flooded")),
    ],
)
def test_miss(text: str, expected: Miss) -> None:
    """MISS takes a pickup code and the reason, as the collector typed it."""
    assert bare(parse(text)) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("MISS", "missing_code"),
        ("MISS K7Q2", "missing_reason"),
        ("miss you", "missing_code"),
    ],
)
def test_miss_incomplete(text: str, reason: str) -> None:
    """MISS without a valid code or a reason is Incomplete."""
    assert bare(parse(text)) == Incomplete("MISS", reason)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("CLAIM ABC123", Claim("ABC123")),
        ("claim abc123", Claim("ABC123")),
        ("Claim: ABC-123", Claim("ABC123")),
        ("clam ABC123", Unknown("clam ABC123", "unrecognised")),
        ("CLAIM", Incomplete("CLAIM", "missing_code")),
    ],
)
def test_claim(text: str, expected: Intent) -> None:
    """CLAIM takes a voucher code, upper-cased without separators."""
    assert bare(parse(text)) == expected


@pytest.mark.parametrize(
    ("text", "note"),
    [
        ("WRONG weight is 5kg not 2", "weight is 5kg not 2"),
        ("wrong weight", "weight"),
        ("WRONG", ""),
        ("worng, I gave 3 bags", "I gave 3 bags"),
        ("e no correct", "e no correct"),
        ("The weight is wrong", "The weight is wrong"),
        ("E no complete o", "E no complete o"),
    ],
)
def test_wrong(text: str, note: str) -> None:
    """WRONG and everyday complaints about a receipt become Wrong with the note."""
    assert bare(parse(text)) == Wrong(note)


def test_wrong_number_is_not_a_dispute() -> None:
    """A "wrong number" reply is somebody else's phone, not a disputed receipt."""
    assert parse("Wrong number") == Unknown("Wrong number", "wrong_number")


NOT_UNDERSTOOD = [
    "hello how are you", "I love you", "who is this", "what is your name",
    "call me back", "where are you", "my name is Ada", "I am coming",
    "see you tomorrow", "I will pick up my kids", "stop it now", "yes please",
    "lol", "1234", "😀😀", "john", "long time", "hell no", "cancer",
    "come and see", "why una no come", "e ma wa gbe", "I have no idea",
    "the end of the road", "my account number is 0123456789",
]  # fmt: skip


@pytest.mark.parametrize("text", NOT_UNDERSTOOD)
def test_does_not_over_match(text: str) -> None:
    """Everyday messages that ask for nothing are Unknown, not a command."""
    intent = parse(text)
    assert isinstance(intent, Unknown)
    assert intent.reason == "unrecognised"
    assert intent.text == text


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("hello", None),
        ("good morning", None),
        ("thank you", None),
        ("how far", "pcm"),
        ("e kaaro", "yo"),
        ("Ẹ kú iṣẹ́", "yo"),
        ("sannu", "ha"),
        ("ina kwana", "ha"),
        ("na gode", "ha"),
        ("kedu", "ig"),
        ("ndewo", "ig"),
    ],
)
def test_smalltalk(text: str, hint: str | None) -> None:
    """Greetings and thanks are Unknown smalltalk, with the language they show."""
    assert parse(text) == Unknown(text, "smalltalk", language_hint=hint)


@pytest.mark.parametrize(("text", "reason"), [("", "empty"), ("   \n\t ", "empty")])
def test_empty(text: str, reason: str) -> None:
    """An empty or blank message is Unknown with reason "empty"."""
    assert parse(text) == Unknown("", reason)


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("PICKUP", None),
        ("come pick my waste", None),
        ("pls come carry my bottles", "pcm"),
        ("abeg pickup", "pcm"),
        ("Pickup abeg", "pcm"),
        ("no come again", "pcm"),
        ("how much i get", "pcm"),
        ("wetin i go do", "pcm"),
        ("e don full", "pcm"),
        ("ẹ wá gbé e", "yo"),
        ("elo ni mo ni", "yo"),
        ("ma wa mo", "yo"),
        ("iranlowo", "yo"),
        ("jowo pickup", "yo"),
        ("ku zo ku dauka", "ha"),
        ("taimako", "ha"),
        ("biko pickup", "ig"),
        ("enyemaka", "ig"),
        ("BAL", None),
    ],
)
def test_language_hint(text: str, hint: str | None) -> None:
    """Pidgin, Yoruba, Hausa and Igbo phrasings carry a language hint; English none."""
    assert parse(text).language_hint == hint


@pytest.mark.parametrize(
    ("text", "code"),
    [("k7q2", "K7Q2"), (" K7 Q2 ", "K7Q2"), ("k7-q2.", "K7Q2"), ("Ｋ７Ｑ２", "K7Q2"),
     ("ko2", "KO2"), ("", "")],
)  # fmt: skip
def test_normalise_code(text: str, code: str) -> None:
    """Codes are upper-cased with spaces and separators removed, look-alikes kept."""
    assert normalise_code(text) == code


def test_pickup_code_alphabet_has_no_look_alikes() -> None:
    """The pickup-code alphabet leaves out characters that are easy to confuse."""
    alphabet = p.PICKUP_CODE_ALPHABET
    assert len(set(alphabet)) == len(alphabet) == 24
    assert not set(alphabet) & set("0O1IL5S8BZGU")


INTENT_CLASSES = [
    cls for cls in vars(p).values()
    if isinstance(cls, type) and issubclass(cls, Intent) and cls is not Intent
]  # fmt: skip


@pytest.mark.parametrize("cls", INTENT_CLASSES, ids=lambda cls: cls.__name__)
def test_intents_are_frozen_slotted_dataclasses(cls: type[Intent]) -> None:
    """Every intent is a frozen, slotted dataclass; its hint defaults to None."""
    params = dataclasses.fields(cls)
    assert cls.__dataclass_params__.frozen  # type: ignore[attr-defined]
    assert "__slots__" in vars(cls)
    hint = next(f for f in params if f.name == "language_hint")
    assert hint.default is None
    assert hint.kw_only


def test_intents_cannot_be_changed() -> None:
    """Assigning to an intent's field raises."""
    intent = parse("AIRTIME 500")
    with pytest.raises(dataclasses.FrozenInstanceError):
        intent.amount_kobo = 1  # type: ignore[attr-defined]


def test_public_api() -> None:
    """The module exports exactly the intents, constants and functions it documents."""
    assert sorted(p.__all__) == sorted(
        [cls.__name__ for cls in INTENT_CLASSES]
        + ["Intent", "LANGUAGES", "MATERIALS", "MATERIAL_SYNONYMS", "MAX_AMOUNT_KOBO",
           "MAX_ITEM_GRAMS", "PICKUP_CODE_ALPHABET", "normalise_code", "parse"]
    )  # fmt: skip
    assert set(p.MATERIAL_SYNONYMS.values()) == p.MATERIALS


ANY_CHAR = st.characters(exclude_categories=())  # includes surrogates and controls
PREFIXES = [
    "", "JOIN ", "join ada", "PICKUP ", "CANCEL ", "BAL ", "AIRTIME ", "CASHOUT N",
    "VOUCHER #", "CLAIM ", "LANG ", "HELP ", "help me ", "LOG K7Q2 ", "LOG K7Q2 PET ",
    "MISS K7Q2 ", "WRONG ", "abeg ", "i want to ", "STOP", "e wa gbe ", "how much ",
]  # fmt: skip
NUMBERISH = st.text(alphabet="0123456789.,kK₦#N -+:", max_size=30)


@given(st.text(ANY_CHAR))
def test_parse_never_raises_on_any_text(text: str) -> None:
    """Any string at all, control characters and lone surrogates included, parses."""
    assert isinstance(parse(text), Intent)


@given(st.sampled_from(PREFIXES), st.text(ANY_CHAR, max_size=40), NUMBERISH)
def test_parse_never_raises_after_a_keyword(
    prefix: str, middle: str, tail: str
) -> None:
    """Random arguments after every command parse to an Intent without raising."""
    intent = parse(prefix + middle + tail)
    assert isinstance(intent, Intent)
    assert intent.language_hint in (None, *p.LANGUAGES)


@given(
    st.sampled_from(PREFIXES), NUMBERISH, st.sampled_from(["", " kg", "g", " pet 1"])
)
def test_parse_totality_on_numbers(prefix: str, number: str, suffix: str) -> None:
    """Number-like arguments give valid amounts and weights, or Incomplete."""
    intent = parse(prefix + number + suffix)
    if isinstance(intent, Airtime | Cashout | Voucher):
        assert 0 < intent.amount_kobo <= p.MAX_AMOUNT_KOBO
    if isinstance(intent, Log):
        assert all(0 < grams <= p.MAX_ITEM_GRAMS for _, grams in intent.items)
        assert all(material in p.MATERIALS for material, _ in intent.items)


@given(st.text(ANY_CHAR, max_size=300), st.text(ANY_CHAR, max_size=300))
def test_join_fields_are_bounded(name: str, address: str) -> None:
    """Whatever is typed, a Join's name is at most 60 characters and its address 160."""
    intent = parse(f"JOIN {name}, {address}")
    if isinstance(intent, Join):
        assert 0 < len(intent.name) <= 60
        assert 0 < len(intent.address) <= 160
