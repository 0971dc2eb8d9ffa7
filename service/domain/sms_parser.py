"""Inbound SMS text -> Intent: a pure, total parser tolerant of typos and Pidgin."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

__all__ = [
    "LANGUAGES",
    "MATERIALS",
    "MATERIAL_SYNONYMS",
    "MAX_AMOUNT_KOBO",
    "MAX_ITEM_GRAMS",
    "PICKUP_CODE_ALPHABET",
    "Airtime",
    "Balance",
    "Cancel",
    "Cashout",
    "Claim",
    "Help",
    "Incomplete",
    "Intent",
    "Join",
    "Lang",
    "Log",
    "Miss",
    "Pickup",
    "Start",
    "Stop",
    "Unknown",
    "Voucher",
    "Weekly",
    "Wrong",
    "normalise_code",
    "parse",
]

LANGUAGES: tuple[str, ...] = ("en", "pcm", "yo", "ha", "ig")
# Pickup codes avoid look-alikes: no 0 O 1 I L 5 S 8 B Z G U (6 stays; G went).
PICKUP_CODE_ALPHABET = "ACDEFHJKMNPQRTVWXY234679"
MATERIALS: frozenset[str] = frozenset({"PET", "HDPE", "ALU", "SACHET", "GLASS"})
MATERIAL_SYNONYMS: dict[str, str] = {
    "pet": "PET",
    "bottle": "PET",
    "bottles": "PET",
    "hdpe": "HDPE",
    "alu": "ALU",
    "aluminium": "ALU",
    "aluminum": "ALU",
    "can": "ALU",
    "cans": "ALU",
    "sachet": "SACHET",
    "sachets": "SACHET",
    "nylon": "SACHET",
    "nylons": "SACHET",
    "purewater": "SACHET",
    "glass": "GLASS",
}
MAX_AMOUNT_KOBO = 1_000_000_000  # ₦10,000,000: anything above is a typo, not a wish
MAX_ITEM_GRAMS = 1_000_000  # one tonne per material is beyond any cargo bike
_MAX_NAME, _MAX_ADDRESS, _MAX_NOTE, _MAX_UNKNOWN = 60, 160, 160, 320
_MAX_INPUT = 2000  # an SMS body is at most 1600 characters; this bounds the work


# --- intents ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Intent:
    """What an SMS asks for; `language_hint` is set when the phrasing shows it."""

    language_hint: str | None = field(default=None, kw_only=True)


@dataclass(frozen=True, slots=True)
class Join(Intent):
    """Register the sending number as a household."""

    name: str
    address: str


@dataclass(frozen=True, slots=True)
class Pickup(Intent):
    """Ask for a pickup (or confirm the open one)."""


@dataclass(frozen=True, slots=True)
class Cancel(Intent):
    """Cancel the open pickup; `explicit_pickup` is False for a bare CANCEL."""

    explicit_pickup: bool


@dataclass(frozen=True, slots=True)
class Balance(Intent):
    """Ask for the credit balance."""


@dataclass(frozen=True, slots=True)
class Airtime(Intent):
    """Redeem credit as airtime to the sending number."""

    amount_kobo: int


@dataclass(frozen=True, slots=True)
class Cashout(Intent):
    """Redeem credit to the enrolled mobile-money wallet."""

    amount_kobo: int


@dataclass(frozen=True, slots=True)
class Voucher(Intent):
    """Turn credit into a one-time code for a partner shop."""

    amount_kobo: int


@dataclass(frozen=True, slots=True)
class Claim(Intent):
    """A partner shop takes a household's voucher code."""

    code: str


@dataclass(frozen=True, slots=True)
class Lang(Intent):
    """Choose the reply language: one of LANGUAGES."""

    language: str


@dataclass(frozen=True, slots=True)
class Weekly(Intent):
    """A standing pickup every week on one day (0 = Monday); None stops it."""

    weekday: int | None


@dataclass(frozen=True, slots=True)
class Help(Intent):
    """Ask for the menu."""


@dataclass(frozen=True, slots=True)
class Stop(Intent):
    """Opt out of all messages; `word` is the opt-out keyword, upper-case."""

    word: str


@dataclass(frozen=True, slots=True)
class Start(Intent):
    """Opt back in."""


@dataclass(frozen=True, slots=True)
class Log(Intent):
    """Collector fallback: weights per material code, in grams, for one pickup."""

    pickup_code: str
    items: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class Miss(Intent):
    """Collector fallback: the stop was missed, and why."""

    pickup_code: str
    reason: str


@dataclass(frozen=True, slots=True)
class Wrong(Intent):
    """The household disputes its last receipt."""

    note: str


@dataclass(frozen=True, slots=True)
class Incomplete(Intent):
    """A recognised `command` (e.g. "AIRTIME") with missing or invalid arguments."""

    command: str
    reason: str


@dataclass(frozen=True, slots=True)
class Unknown(Intent):
    """Not understood; `reason`: empty, smalltalk, wrong_number or unrecognised."""

    text: str
    reason: str


# --- normalisation ---------------------------------------------------------------

_ASCII_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
_NO_FOLD = {
    "ɓ": "b",
    "ɗ": "d",
    "ƙ": "k",
    "ƴ": "y",
    "ŋ": "n",
    "ı": "i",
    "ł": "l",
    "đ": "d",
    "’": "'",
    "‘": "'",
    "ʼ": "'",
    "´": "'",
}


def normalise_code(text: str) -> str:
    """A pickup or voucher code as stored: upper-case ASCII letters and digits only.

    Look-alike letters are not remapped (an O stays an O), so a mistyped code is
    rejected rather than silently matched to somebody else's.
    """
    folded = unicodedata.normalize("NFKC", text).upper()
    return "".join(ch for ch in folded if "A" <= ch <= "Z" or "0" <= ch <= "9")


def _clean(text: str) -> str:
    """NFC, no control or format characters, single spaces, trimmed."""
    if text.isascii():
        return " ".join(_ASCII_CONTROL.sub(" ", text).split())
    kept = []
    for ch in unicodedata.normalize("NFC", text):
        category = unicodedata.category(ch)
        if category in ("Cc", "Zl", "Zp"):
            kept.append(" ")
        elif category not in ("Cf", "Cs"):
            kept.append(ch)
    return " ".join("".join(kept).split())


@lru_cache(maxsize=2048)
def _fold_char(ch: str) -> str:
    """One lower-case character with tones and dots removed (ẹ́ -> e, Ƙ -> k, ₂ -> 2)."""
    lower = ch.lower()
    if len(lower) != 1:  # e.g. İ lowers to two characters; keep offsets aligned
        lower = ch
    if lower in _NO_FOLD:
        return _NO_FOLD[lower]
    base = unicodedata.normalize("NFKD", lower)
    if base and base[0].isascii() and base[0].isalnum():
        return base[0].lower()
    return lower


def _fold(cleaned: str) -> str:
    """`cleaned` lower-cased and stripped of diacritics, one character per character."""
    if cleaned.isascii():
        return cleaned.lower()
    return "".join(_fold_char(ch) for ch in cleaned)


@dataclass(frozen=True, slots=True)
class _Text:
    """One message in its three views, sharing character offsets."""

    cleaned: str  # as typed, tidied: used for names, addresses and notes
    folded: str  # lower-case ASCII-ish: used for amounts, weights and codes
    words: tuple[str, ...]  # folded words, apostrophes dropped ("don't" -> "dont")
    ends: tuple[int, ...]  # offset just after each word
    phrase: str  # the words joined by single spaces: what phrase patterns read

    def rest(self, index: int, *, folded: bool = False) -> str:
        """The text after word `index - 1` (the whole text for index 0)."""
        start = self.ends[index - 1] if index > 0 else 0
        return (self.folded if folded else self.cleaned)[start:]


def _split(cleaned: str) -> _Text:
    folded = _fold(cleaned)
    words: list[str] = []
    ends: list[int] = []
    for match in _WORD.finditer(folded):
        words.append(match.group().replace("'", ""))
        ends.append(match.end())
    return _Text(cleaned, folded, tuple(words), tuple(ends), " ".join(words))


# --- keywords --------------------------------------------------------------------

# keyword -> (command, edit distance tolerated, language hint). Four-letter keywords
# with distance 1 only tolerate swapped letters ("hlep"), since one substitution
# turns them into everyday words (hell, john, long).
_KEYWORDS: dict[str, tuple[str, int, str | None]] = {
    "join": ("JOIN", 1, None),
    "register": ("JOIN", 2, None),
    "signup": ("JOIN", 1, None),
    "enrol": ("JOIN", 0, None),
    "enroll": ("JOIN", 1, None),
    "reg": ("JOIN", 0, None),
    "pickup": ("PICKUP", 1, None),
    "pickups": ("PICKUP", 0, None),
    "collect": ("PICKUP", 0, None),
    "collection": ("PICKUP", 0, None),
    "cancel": ("CANCEL", 1, None),
    "fagile": ("CANCEL", 1, "yo"),
    "bal": ("BALANCE", 0, None),
    "balance": ("BALANCE", 2, None),
    "account": ("BALANCE", 0, None),
    "acct": ("BALANCE", 0, None),
    "airtime": ("AIRTIME", 2, None),
    "recharge": ("AIRTIME", 2, None),
    "cashout": ("CASHOUT", 2, None),
    "cash": ("CASHOUT", 0, None),
    "withdraw": ("CASHOUT", 2, None),
    "voucher": ("VOUCHER", 2, None),
    "claim": ("CLAIM", 1, None),
    "lang": ("LANG", 1, None),
    "language": ("LANG", 2, None),
    "help": ("HELP", 1, None),
    "info": ("HELP", 0, None),
    "menu": ("HELP", 0, None),
    "iranlowo": ("HELP", 1, "yo"),
    "taimako": ("HELP", 1, "ha"),
    "enyemaka": ("HELP", 1, "ig"),
    "log": ("LOG", 0, None),
    "miss": ("MISS", 0, None),
    "missed": ("MISS", 0, None),
    "wrong": ("WRONG", 1, None),
}
# Real words one edit away from a keyword: never read them as that keyword.
_NOT_KEYWORDS = frozenset({"cancer", "airline", "airlines", "clam", "clams", "wring"})
_FUZZY_BY_INITIAL: dict[str, tuple[str, ...]] = {
    initial: tuple(kw for kw, spec in _KEYWORDS.items() if spec[1] and kw[0] == initial)
    for initial in {kw[0] for kw in _KEYWORDS}
}

_OPT_OUT = {
    w.lower(): w
    for w in ("STOP", "STOPALL", "UNSUBSCRIBE", "END", "QUIT", "REVOKE", "OPTOUT")
}
_OPT_IN = frozenset({"start", "unstop", "yes"})
_LANGUAGE_NAMES: dict[str, str] = {
    "en": "en",
    "eng": "en",
    "english": "en",
    "oyinbo": "en",
    "turanci": "en",
    "bekee": "en",
    "pcm": "pcm",
    "pidgin": "pcm",
    "pidgen": "pcm",
    "pigin": "pcm",
    "naija": "pcm",
    "broken": "pcm",
    "yo": "yo",
    "yor": "yo",
    "yoruba": "yo",
    "yarbanci": "yo",
    "ha": "ha",
    "hau": "ha",
    "hausa": "ha",
    "ig": "ig",
    "ibo": "ig",
    "igbo": "ig",
}
_FULL_LANGUAGE_NAMES = frozenset({"english", "pidgin", "yoruba", "hausa", "igbo"})

# Openers skipped before looking for a keyword ("abeg pickup", "i want to join").
_FILLERS: tuple[tuple[tuple[str, ...], str | None], ...] = (
    (("i", "would", "like", "to"), None),
    (("i", "want", "to"), None),
    (("i", "need", "to"), None),
    (("i", "wan", "to"), "pcm"),
    (("id", "like", "to"), None),
    (("good", "morning"), None),
    (("good", "afternoon"), None),
    (("good", "evening"), None),
    (("i", "want"), None),
    (("i", "need"), None),
    (("i", "wan"), "pcm"),
    (("can", "you"), None),
    (("can", "i"), None),
    (("could", "you"), None),
    (("make", "una"), "pcm"),
    (("make", "i"), "pcm"),
    (("make", "you"), "pcm"),
    (("e", "jowo"), "yo"),
    (("don", "allah"), "ha"),
    (("please",), None),
    (("pls",), None),
    (("plz",), None),
    (("plis",), None),
    (("kindly",), None),
    (("abeg",), "pcm"),
    (("biko",), "ig"),
    (("jowo",), "yo"),
    (("ejowo",), "yo"),
    (("hi",), None),
    (("hello",), None),
    (("hey",), None),
    (("sir",), None),
    (("madam",), None),
    (("oga",), "pcm"),
)
_FILLERS_BY_FIRST: dict[str, tuple[tuple[tuple[str, ...], str | None], ...]] = {
    first: tuple(f for f in _FILLERS if f[0][0] == first)  # longest first, as listed
    for first in {f[0][0] for f in _FILLERS}
}
# Words that give the language away when nothing more specific did.
_MARKERS: dict[str, str] = {
    "abeg": "pcm",
    "una": "pcm",
    "wetin": "pcm",
    "wahala": "pcm",
    "dey": "pcm",
    "sabi": "pcm",
    "oga": "pcm",
    "abi": "pcm",
    "wan": "pcm",
    "comot": "pcm",
    "jowo": "yo",
    "ejowo": "yo",
    "jare": "yo",
    "owo": "yo",
    "ninu": "yo",
    "sannu": "ha",
    "nagode": "ha",
    "gode": "ha",
    "yauwa": "ha",
    "biko": "ig",
    "daalu": "ig",
    "kedu": "ig",
    "ndewo": "ig",
    "nnoo": "ig",
}
_PICKUP_NOUNS = frozenset(
    {
        "pickup",
        "pick",
        "collection",
        "request",
        "booking",
        "visit",
        "order",
        "it",
        "am",
        "dem",
        "them",
        "come",
        "coming",
        "bottles",
        "waste",
    }
)


def _osa_distance(a: str, b: str, limit: int) -> int:
    """Edit distance counting a swap of neighbours as one edit; > limit means far."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], prev2[j - 2] + 1)
        if min(row) > limit:
            return limit + 1
        prev2, prev = prev, row
    return prev[-1]


@lru_cache(maxsize=4096)
def _fuzzy_keyword(word: str) -> str | None:
    """The keyword `word` is a likely misspelling of, if any (same first letter)."""
    if len(word) < 4 or word in _NOT_KEYWORDS or not word.isalpha():
        return None
    for keyword in _FUZZY_BY_INITIAL.get(word[0], ()):
        limit = _KEYWORDS[keyword][1]
        if len(keyword) == 4 and sorted(word) != sorted(keyword):
            continue  # short keywords: only swapped letters
        if _osa_distance(word, keyword, limit) <= limit:
            return keyword
    return None


def _find_keyword(words: tuple[str, ...], at: int) -> tuple[str, int] | None:
    """(keyword, index of the first word after it) for the words starting at `at`."""
    first = words[at]
    joined = first + words[at + 1] if at + 1 < len(words) else None
    if joined in _KEYWORDS:  # "pick up", "cash out", "sign up"
        return joined, at + 2
    if first in _KEYWORDS:
        return first, at + 1
    fuzzy = _fuzzy_keyword(first)
    if fuzzy is not None:
        return fuzzy, at + 1
    if joined is not None and (fuzzy := _fuzzy_keyword(joined)) is not None:
        return fuzzy, at + 2
    return None


def _skip_fillers(words: tuple[str, ...]) -> tuple[int, str | None]:
    """Index of the first word after any openers, and the language they reveal."""
    at, hint = 0, None
    while at < len(words):
        for filler, lang in _FILLERS_BY_FIRST.get(words[at], ()):
            if words[at : at + len(filler)] == filler:
                at += len(filler)
                hint = hint or lang
                break
        else:
            return at, hint
    return at, hint


def _marker_hint(words: tuple[str, ...]) -> str | None:
    for word in words:
        if word in _MARKERS:
            return _MARKERS[word]
    return None


# --- phrases ---------------------------------------------------------------------

_MATERIAL_WORDS = (
    r"(?:bottles?|cans?|sachets?|nylons?|waste|plastics?|pet|recyclables?|rubbers?"
    r"|pure ?water|trash|refuse|ike|igo)"
)


@dataclass(frozen=True, slots=True)
class _Phrases:
    """Phrasings of one intent, each with the language it gives away."""

    patterns: tuple[tuple[re.Pattern[str], str | None], ...]

    def search(self, text: str) -> tuple[bool, str | None]:
        # Separate patterns beat one big alternation here: each has a literal
        # prefix the regex engine scans for quickly.
        for pattern, lang in self.patterns:
            if pattern.search(text):
                return True, lang
        return False, None


def _phrases(*pairs: tuple[str, str | None]) -> _Phrases:
    return _Phrases(tuple((re.compile(pattern), lang) for pattern, lang in pairs))


# Phrase patterns read `_Text.phrase`: lower-case words, single spaces, no punctuation.
_CANCEL_PHRASES = _phrases(
    (r"\bno come again\b", "pcm"),
    (r"\bmake (?:una|you|u) no (?:come|carry)\b", "pcm"),
    (r"\b(?:dont|do not) come\b", None),
    (r"\bno need (?:to |for |make una )?(?:come|the pickup|pickup|pick up)\b", None),
    (r"\b(?:dont|do not|no) (?:want|need|wan) (?:the |my |a |any )?pick ?up\b", None),
    (r"\bma wa mo\b", "yo"),
    (r"\b(?:kada|kar) (?:ku|ka|ki) zo\b", "ha"),
)
_WRONG_PHRASES = _phrases(
    (r"\be no (?:correct|complete|reach)\b", "pcm"),
    (r"\bwrong (?:weight|kg|kilo|amount|receipt|credit|reading|money)\b", None),
    (
        r"\b(?:weight|kg|kilo|receipt|amount|credit) (?:is |dey |be )?"
        r"(?:wrong|not correct|no correct|incorrect)\b",
        None,
    ),
)
_HELP_PHRASES = _phrases(
    (r"\bwetin (?:i|we) (?:go|fit|suppose|get to|for|wan) do\b", "pcm"),
    (r"\bhow (?:e|dis|dis thing|this thing) dey work\b", "pcm"),
    (r"\bhow (?:this|this thing|it) works?\b", None),
    (r"\bhow (?:does|do) (?:it|this|dis|you|una) work\b", None),
    (r"\bhow (?:do|can) i (?:use|start|begin)\b", None),
    (r"\bwhat (?:can|do|should) i (?:do|text|send|type)\b", None),
    (r"\be ran mi lowo\b", "yo"),
    (r"\bnyere m aka\b", "ig"),
    (r"\ba taimaka (?:min|mani|mana)\b", "ha"),
)
_BALANCE_PHRASES = _phrases(
    (r"\bhow much (?:money |naira )?(?:i|we) (?:don )?(?:get|gat|make|gain)\b", "pcm"),
    (
        r"\bhow much (?:money |naira |credit )?(?:do|did|have) (?:i|we) "
        r"(?:have|got|get|earn|earned|make|made)\b",
        None,
    ),
    (r"\bhow much (?:e )?(?:remain|dey)\b", "pcm"),
    (
        r"\bhow much (?:is |dey )?(?:in |for |inside )?my "
        r"(?:account|acct|balance|wallet)\b",
        None,
    ),
    (
        r"\bwetin (?:i (?:don )?get|dey|remain) (?:(?:for|inside|in) )?(?:my )?"
        r"(?:account|acct|wallet)\b",
        "pcm",
    ),
    (r"\bwetin i (?:don )?get$", "pcm"),
    (r"\bmy (?:account )?(?:balance|bal)\b", None),
    (r"\bcheck (?:my )?(?:balance|bal|account)\b", None),
    (r"\belo (?:lo|ni)\b", "yo"),
    (r"\bowo (?:mi|temi)\b", "yo"),
    (r"\bego (?:m )?ole\b", "ig"),
    (r"\bole ka m nwere\b", "ig"),
    (r"\bkudi ?na nawa\b", "ha"),
)
_PICKUP_PHRASES = _phrases(
    (r"\b(?:come|cum|kam) (?:and |to )?(?:carry|pack|evacuate)\b", "pcm"),
    (r"\b(?:come|cum) (?:and |to )?(?:pick|collect)\b", None),
    (r"\b(?:carry|pack|evacuate) (?:my|am|dem|these|dis|our|all)\b", "pcm"),
    (
        r"\b(?:pick|collect) (?:up )?(?:my|these|this|our|all|all my) "
        + _MATERIAL_WORDS,
        None,
    ),
    (
        r"\bi (?:don )?get (?:(?:some|plenty|many|more|small|big|\d+|am) )*"
        + _MATERIAL_WORDS
        + r"\b",
        "pcm",
    ),
    (
        r"\bi (?:have|got) (?:(?:some|plenty|many|more|small|big|\d+) )*"
        + _MATERIAL_WORDS
        + r"\b",
        None,
    ),
    (r"\b(?:e|it|am|bag|sack|bin|everything) (?:don|done) (?:full|fill)\b", "pcm"),
    (r"\b(?:my |the )?(?:bag|sack|bin) (?:is|has) (?:full|filled)\b", None),
    (r"\bmake (?:una|you|u) come\b", "pcm"),
    (
        r"\b(?:want|need|wan|book|request|order|schedule|arrange) "
        r"(?:a |my |one |another |for )?pick ?up\b",
        None,
    ),
    (r"(?<!\bma )\bwa (?:gbe|ko|gba)\b", "yo"),
    (r"\bmo ni (?:ike|igo)\b", "yo"),
    (r"\bzo (?:ku |ka |ki )?(?:dauka|dauke|kwashe|karba)\b", "ha"),
    (r"\bbia (?:buru|bulu|were)\b", "ig"),
)
_COMPLAINT = re.compile(r"^(?:why|how come|wetin happen)\b")

_TAILS = r"(?: (?:sir|ma|madam|oga|dear|o+|all|una|everyone|recoop|bro|sis))*"
_SMALLTALK: tuple[tuple[re.Pattern[str], str | None], ...] = tuple(
    (re.compile(rf"^(?:{words}){_TAILS}(?: (?:{words}){_TAILS})*$"), lang)
    for words, lang in (
        (
            r"how far|how you dey|how body|how una dey|wetin dey happen|wetin dey sup"
            r"|i hail",
            "pcm",
        ),
        (
            r"e ?kaaro|e ?kaasan|e ?kaale|bawo(?: ni)?|e ?se(?: o)?|o ?se|e ?pele|pele"
            r"|e ?ku ise|e ?nle|o ?dabo",
            "yo",
        ),
        (
            r"sannu(?: da zuwa)?|ina kwana|ina wuni|barka da "
            r"(?:safiya|safe|rana|yamma|dare|warhaka|war haka)|na ?gode|yaya dai"
            r"|sai an jima",
            "ha",
        ),
        (r"ndewo|kedu(?: ka i mere)?|daalu|dalu|i bola chi|ututu oma", "ig"),
        (
            r"hi|hello|hey|hallo|good (?:morning|afternoon|evening|day|night)"
            r"|thanks?(?: you)?|thank u|thx|ok|okay|alright|bye|goodbye",
            None,
        ),
    )
)


# --- arguments -------------------------------------------------------------------

_LEADING_SEPARATORS = re.compile(r"^(?:[\s:;=,]|-\s|of\b|for\b|worth\b)*")
_AMOUNT = re.compile(
    r"(?:ngn|naira|n|₦|#)?\s*"
    r"(?P<num>[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?|[0-9]+(?:\.[0-9]+)?|\.[0-9]+)"
    r"(?:\s*(?P<k>k))?(?:\s*(?:naira|ngn|n))?(?![a-z0-9])"
)
_DIGIT = re.compile(r"[0-9]")
_ITEM_TOKEN = re.compile(
    r"\s*(?:"
    r"(?P<qty>[0-9]+(?:[.,][0-9]+)?|[.,][0-9]+)"
    r"(?:\s*(?P<unit>kgs?|kilos?|kilograms?|kilogrammes?|grams?|grammes?|gr?))?"
    r"(?![a-z0-9])"
    r"|(?P<mat>pure\s*water|[a-z]+)"
    r"|(?P<sep>[,;:=+&/-])"
    r")"
)
_ADDRESS_STARTERS = frozenset(
    {
        "no",
        "number",
        "plot",
        "block",
        "flat",
        "house",
        "behind",
        "near",
        "opposite",
        "opp",
        "beside",
        "off",
        "along",
        "by",
        "after",
        "before",
        "inside",
        "at",
        "in",
    }
)
_PLUS_CODE = re.compile(r"[23456789cfghjmpqrvwx]{2,8}\+[23456789cfghjmpqrvwx]{0,3}")
_EDGE_PUNCTUATION = " \t,;:.-_/"


def _amount_kobo(rest: str) -> int | str:
    """Naira text after AIRTIME/CASHOUT/VOUCHER -> kobo, or the reason it is no good."""
    rest = _LEADING_SEPARATORS.sub("", rest)
    if not _DIGIT.search(rest):
        return "missing_amount"
    match = _AMOUNT.match(rest)
    if match is None or _DIGIT.search(rest, match.end()):
        return "bad_amount"  # a sign, words before the number, or two numbers
    digits = match["num"].replace(",", "")
    if len(digits) > 20:
        return "bad_amount"
    kobo = Decimal(digits) * (1000 if match["k"] else 1) * 100
    if kobo != kobo.to_integral_value() or not 0 < kobo <= MAX_AMOUNT_KOBO:
        return "bad_amount"
    return int(kobo)


def _grams(qty: str, unit: str | None) -> int | None:
    """Exact grams from "2.5" / "2,5" kg or "400" g, rounded to the nearest gram."""
    if len(qty) > 20:
        return None
    value = Decimal(qty.replace(",", "."))
    if not (unit and unit.startswith("g")):
        value *= 1000
    grams = int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return grams if 0 < grams <= MAX_ITEM_GRAMS else None


def _log_items(text: str) -> tuple[tuple[str, int], ...] | str:
    """("PET", 2500)... from "pet 2.5 alu 0.4kg" (either order), or why it failed."""
    tokens: list[str | int] = []  # material codes and weights in grams, as typed
    pos = 0
    while pos < len(text):
        match = _ITEM_TOKEN.match(text, pos)
        if match is None:
            if text[pos:].strip() == "":
                break
            return "bad_items"
        pos = match.end()
        if match["qty"]:
            grams = _grams(match["qty"], match["unit"])
            if grams is None:
                return "bad_weight"
            tokens.append(grams)
        elif match["mat"]:
            word = match["mat"].replace(" ", "")
            if word == "and":
                continue
            material = MATERIAL_SYNONYMS.get(word)
            if material is None:
                return "bad_material"
            if tokens and tokens[-1] == material:
                continue  # "pet bottles 2.5"
            tokens.append(material)
    if not tokens or len(tokens) % 2:
        return "bad_items"
    material_first = isinstance(tokens[0], str)
    totals: dict[str, int] = {}
    for a, b in zip(tokens[0::2], tokens[1::2], strict=True):
        code, weight = (a, b) if material_first else (b, a)
        if not isinstance(code, str) or not isinstance(weight, int):
            return "bad_items"  # "PET ALU 2 3" or a switch of order midway
        totals[code] = totals.get(code, 0) + weight  # two bags of PET add up
    if any(total > MAX_ITEM_GRAMS for total in totals.values()):
        return "bad_weight"
    return tuple(totals.items())


_FIRST_CHUNK = re.compile(r"[\s:;=,]*([^\s:;=,]+)[\s:;=,]*")


def _pickup_code(text: str) -> tuple[str, int] | None:
    """(code, offset of what follows it) if `text` starts with a pickup code."""
    match = _FIRST_CHUNK.match(text)
    if match is None:
        return None
    code = normalise_code(match.group(1))
    if not code or len(code) > 12 or any(ch not in PICKUP_CODE_ALPHABET for ch in code):
        return None
    return code, match.end()


def _trim(text: str, limit: int) -> str:
    return text.strip(_EDGE_PUNCTUATION)[:limit].strip(_EDGE_PUNCTUATION)


def _join(rest: str) -> Intent:
    """JOIN arguments: "name, address", or the no-comma rule in `parse`."""
    rest = rest.strip(_EDGE_PUNCTUATION)
    if "," in rest:
        name, address = rest.split(",", 1)
        name, address = _trim(name, _MAX_NAME), _trim(address, _MAX_ADDRESS)
    else:
        words = rest.split()
        if words and (_DIGIT.search(words[0]) or _PLUS_CODE.search(_fold(words[0]))):
            return Incomplete("JOIN", "missing_name")  # "JOIN , 12 Ojo Road"
        split = 1
        for i in range(1, min(4, len(words))):
            if _looks_like_address(words[i]):
                split = i
                break
        name = _trim(" ".join(words[:split]), _MAX_NAME)
        address = _trim(" ".join(words[split:]), _MAX_ADDRESS)
    if not name:
        return Incomplete("JOIN", "missing_name")
    if not address:
        return Incomplete("JOIN", "missing_address")
    return Join(name, address)


def _looks_like_address(word: str) -> bool:
    folded = _fold(word).strip(_EDGE_PUNCTUATION)
    return (
        bool(_DIGIT.search(folded))
        or folded in _ADDRESS_STARTERS
        or bool(_PLUS_CODE.search(folded))
    )


def _command(keyword: str, text: _Text, after: int, *, nested: bool) -> Intent:
    """The intent for a recognised keyword, given the words after it."""
    command = _KEYWORDS[keyword][0]
    rest_words = text.words[after:]
    if command == "PICKUP":
        if rest_words and rest_words[0] in ("cancel", "cancle"):
            return Cancel(explicit_pickup=True)
        return Pickup()
    if command == "CANCEL":
        return Cancel(explicit_pickup=any(w in _PICKUP_NOUNS for w in rest_words))
    if command == "BALANCE":
        return Balance()
    if command in ("AIRTIME", "CASHOUT", "VOUCHER"):
        amount = _amount_kobo(text.rest(after, folded=True))
        if isinstance(amount, str):
            return Incomplete(command, amount)
        kind = {"AIRTIME": Airtime, "CASHOUT": Cashout, "VOUCHER": Voucher}[command]
        return kind(amount)
    if command == "CLAIM":
        chunk = _FIRST_CHUNK.match(text.rest(after, folded=True))
        code = normalise_code(chunk.group(1)) if chunk else ""
        if not code or len(code) > 16:
            return Incomplete("CLAIM", "missing_code")
        return Claim(code)
    if command == "LANG":
        language = _LANGUAGE_NAMES.get(rest_words[0]) if rest_words else None
        return Lang(language) if language else Incomplete("LANG", "missing_language")
    if command == "HELP":
        return Help() if nested else _help(text, after)
    if command == "JOIN":
        return _join(text.rest(after))
    if command in ("LOG", "MISS"):
        return _collector(command, text, after)
    # WRONG
    if rest_words[:1] == ("number",):
        return Unknown(text.cleaned[:_MAX_UNKNOWN], "wrong_number")
    return Wrong(_trim(text.rest(after), _MAX_NOTE))


def _collector(command: str, text: _Text, after: int) -> Intent:
    """LOG <code> <material> <kg>... or MISS <code> <reason>."""
    start = text.ends[after - 1]
    found = _pickup_code(text.folded[start:])
    if found is None:
        return Incomplete(command, "missing_code")
    code, offset = found
    if code.lower() in MATERIAL_SYNONYMS:  # "LOG PET 2.5": the code was left out
        return Incomplete(command, "missing_code")
    if command == "LOG":
        items = _log_items(text.folded[start + offset :])
        return Incomplete("LOG", items) if isinstance(items, str) else Log(code, items)
    # The reason keeps the collector's own spelling: take it from the cleaned view.
    reason = _trim(text.cleaned[start + offset :], _MAX_NOTE)
    return Miss(code, reason) if reason else Incomplete("MISS", "missing_reason")


def _help(text: _Text, after: int) -> Intent:
    """HELP, unless the words after it ask for something concrete ("help me cancel")."""
    if after < len(text.words) and text.words[after] in ("me", "us", "to"):
        after += 1  # "help me cancel"
    if after < len(text.words):
        inner = _parse(text.rest(after), nested=True)
        if not isinstance(inner, Unknown | Incomplete | Help):
            return inner
    return Help()


# --- the parser ------------------------------------------------------------------


def parse(text: str) -> Intent:
    """Read one inbound SMS; never raises, whatever the text.

    Case, spacing, punctuation, tone marks and common misspellings of command words
    are ignored; everyday Pidgin, Yoruba, Hausa and Igbo phrasings of the main
    requests are understood. Keywords are matched on the first word or two, after
    openers such as "pls", "abeg" or "i want to".

    Opt-out and opt-in words (Twilio's list) count only as the whole message. A bare
    CANCEL is `Cancel(explicit_pickup=False)`, so the service can treat it as an
    opt-out when no pickup is open.

    JOIN takes "name, address", split at the first comma. Without a comma the
    address starts at the first of the second to fourth words that looks like one:
    it contains a digit (house number, plus code) or is a word such as "no",
    "plot", "behind", "near", "opposite", "off", "by", "at"; the words before it are
    the name. When no such word is found, the first word is the name and the rest
    the address. The name is cut to 60 characters and the address to 160.

    Parameters
    ----------
    text
        The message body as received.

    Returns
    -------
    Intent
        One of the intent classes in this module; `Unknown` when nothing fits and
        `Incomplete` for a known command with missing or invalid arguments.
    """
    return _parse(text, nested=False)


def _parse(text: str, *, nested: bool) -> Intent:
    """`parse`; `nested` is set while reading the words after HELP (no deeper)."""
    cleaned = _clean(text[:_MAX_INPUT])
    if not cleaned:
        return Unknown("", "empty")
    parsed = _split(cleaned)
    words = parsed.words
    if not words:
        if "?" in cleaned:
            return Help()
        return Unknown(cleaned[:_MAX_UNKNOWN], "unrecognised")

    whole = _whole_message(words)
    if whole is not None:
        return whole
    if words[0] in _WEEKLY_WORDS:
        return _weekly(words[1:])

    at, filler_hint = _skip_fillers(words)
    intent: Intent | None = None
    hint: str | None = None
    if at < len(words) and (found := _find_keyword(words, at)) is not None:
        keyword, after = found
        intent = _command(keyword, parsed, after, nested=nested)
        hint = _KEYWORDS[keyword][2]
    if intent is None or isinstance(intent, Unknown):
        intent, hint = _from_phrases(parsed) or (intent, hint)
    if intent is None:
        return _smalltalk(parsed)
    if intent.language_hint is not None:
        return intent
    hint = hint or filler_hint or _marker_hint(words)
    return _with_hint(intent, hint)


_WEEKLY_WORDS = frozenset({"weekly", "every", "everyweek", "wikly", "weekley"})
_DAYS = {
    "mon": 0, "monday": 0, "tue": 1, "tues": 1, "tuesday": 1, "wed": 2, "wednesday": 2,
    "thu": 3, "thur": 3, "thurs": 3, "thursday": 3, "fri": 4, "friday": 4,
    "sat": 5, "saturday": 5, "sun": 6, "sunday": 6,
}  # fmt: skip
_WEEKLY_OFF = frozenset({"off", "stop", "none", "no", "cancel", "end"})


def _weekly(rest: tuple[str, ...]) -> Intent:
    """WEEKLY MON / EVERY FRIDAY / WEEKLY OFF."""
    for word in rest[:3]:
        if word in _DAYS:
            return Weekly(_DAYS[word])
        if word in _WEEKLY_OFF:
            return Weekly(None)
    return Incomplete("WEEKLY", "missing_day")


def _whole_message(words: tuple[str, ...]) -> Intent | None:
    """Opt-out/opt-in words, bare CANCEL and bare language names, as the whole text."""
    if len(words) > 2:
        return None
    compact = "".join(words)
    if compact in _OPT_OUT:
        return Stop(_OPT_OUT[compact])
    if compact in _OPT_IN:
        return Start()
    if compact in _FULL_LANGUAGE_NAMES:
        return Lang(_LANGUAGE_NAMES[compact])
    if len(words) == 1 and (compact == "cancel" or _fuzzy_keyword(compact) == "cancel"):
        return Cancel(explicit_pickup=False)
    return None


def _from_phrases(text: _Text) -> tuple[Intent, str | None] | None:
    """Match the free-form phrasings, most specific intent first."""
    phrase = text.phrase
    if not _COMPLAINT.search(phrase):  # "why una no come" is not a cancel
        matched, lang = _CANCEL_PHRASES.search(phrase)
        if matched:
            return Cancel(explicit_pickup=True), lang
    matched, lang = _WRONG_PHRASES.search(phrase)
    if matched:
        return Wrong(_trim(text.cleaned, _MAX_NOTE)), lang
    for phrases, intent in (
        (_HELP_PHRASES, Help()),
        (_BALANCE_PHRASES, Balance()),
        (_PICKUP_PHRASES, Pickup()),
    ):
        matched, lang = phrases.search(phrase)
        if matched:
            return intent, lang
    return None


def _smalltalk(text: _Text) -> Intent:
    for pattern, lang in _SMALLTALK:
        if pattern.match(text.phrase):
            return Unknown(text.cleaned[:_MAX_UNKNOWN], "smalltalk", language_hint=lang)
    return Unknown(
        text.cleaned[:_MAX_UNKNOWN],
        "unrecognised",
        language_hint=_marker_hint(text.words),
    )


def _with_hint(intent: Intent, hint: str | None) -> Intent:
    return intent if hint is None else replace(intent, language_hint=hint)
