"""Households and pickups: pure decisions about what an inbound SMS changes and answers."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from service.domain import sms_parser as p
from service.domain.replies import LANGUAGES, format_naira, render

PICKUP_CODE_LENGTH = 4
# One of each look-alike group a collector could mistype in the sun: no 0/O, 1/I/L,
# 5/S, 8/B or U; 2 stays but not Z, 6 stays but not G.
CODE_ALPHABET = p.PICKUP_CODE_ALPHABET


@dataclass(frozen=True, slots=True)
class Household:
    id: int
    phone: str
    name: str
    language: str
    status: str  # active | opted_out
    # No location the planner can use (none, or far from every hub): a JOIN
    # again gives the address anew.
    needs_place: bool = False
    # ...and none is coming: the address was not found, or the place is far.
    place_lost: bool = False


@dataclass(frozen=True, slots=True)
class OpenPickup:
    id: int
    code: str


# What an SMS changes, as plain values the unit of work applies in order.
@dataclass(frozen=True, slots=True)
class CreateHousehold:
    name: str
    address: str
    language: str


@dataclass(frozen=True, slots=True)
class CreatePickup:
    code: str


@dataclass(frozen=True, slots=True)
class CancelPickup:
    pickup_id: int


@dataclass(frozen=True, slots=True)
class UpdateAddress:
    address: str


@dataclass(frozen=True, slots=True)
class SetLanguage:
    language: str


@dataclass(frozen=True, slots=True)
class OptOut:
    word: str


@dataclass(frozen=True, slots=True)
class OptIn:
    pass


@dataclass(frozen=True, slots=True)
class SetWeekly:
    weekday: int | None


@dataclass(frozen=True, slots=True)
class Redeem:
    kind: str  # airtime | mobile_money | voucher
    amount_kobo: int


@dataclass(frozen=True, slots=True)
class ClaimVoucher:
    code: str


@dataclass(frozen=True, slots=True)
class OpenDispute:
    note: str


@dataclass(frozen=True, slots=True)
class CollectorLog:
    code: str
    items: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class CollectorMiss:
    code: str
    reason: str


WEEKDAYS = (
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
)
_USAGE = {
    "WEEKLY": "weekly_usage",
    "JOIN": "join_usage",
    "LANG": "lang_usage",
    "CLAIM": "claim_usage",
    "LOG": "log_usage",
    "MISS": "miss_usage",
}

Change = (
    CreateHousehold
    | CreatePickup
    | CancelPickup
    | SetLanguage
    | UpdateAddress
    | SetWeekly
    | OptOut
    | OptIn
    | Redeem
    | ClaimVoucher
    | OpenDispute
    | CollectorLog
    | CollectorMiss
)
# Changes whose outcome decides the reply: the handler replaces the placeholder.
REPLY_FROM_CHANGE = (Redeem, ClaimVoucher, OpenDispute, CollectorLog, CollectorMiss)


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer to one SMS: the reply text and the changes to make."""

    intent: str
    reply: str
    language: str
    changes: tuple[Change, ...] = field(default_factory=tuple)


def new_pickup_code(
    length: int = PICKUP_CODE_LENGTH, choice: Callable[[str], str] = secrets.choice
) -> str:
    """A random code from the look-alike-free alphabet, e.g. "K7Q2"."""
    return "".join(choice(CODE_ALPHABET) for _ in range(length))


def intent_name(intent: p.Intent) -> str:
    return type(intent).__name__.lower()


def decide(
    intent: p.Intent,
    household: Household | None,
    open_pickup: OpenPickup | None,
    *,
    opted_out: bool,
    available_kobo: int = 0,
    make_code: Callable[[], str] = new_pickup_code,
) -> Decision:
    """Decide the reply and the changes for one parsed SMS from one number.

    CANCEL is Twilio's opt-out word too; we read it as "cancel my pickup" when the
    household has one open, and as an opt-out otherwise (DESIGN: CANCEL rule).
    """
    hint = getattr(intent, "language_hint", None)
    lang = household.language if household else (hint or "en")
    if lang not in LANGUAGES:
        lang = "en"
    name = intent_name(intent)

    def answer(
        key: str, *changes: Change, language: str = lang, **values: str
    ) -> Decision:
        return Decision(name, render(key, language, **values), language, changes)

    match intent:
        case p.Stop(word=word):
            return answer("stopped", OptOut(word.upper()))
        case p.Start():
            return answer("started", OptIn()) if opted_out else answer("started")
        case p.Help():
            return answer("menu")
        case p.Lang(language=new):
            if household is None:
                return answer("join_first", language=new)
            return answer("lang_set", SetLanguage(new), language=new)
        case p.Join(name=who, address=where):
            if household is not None and household.needs_place:
                return answer("address_updated", UpdateAddress(where))
            if household is not None:
                return answer("already_joined")
            return answer("welcome", CreateHousehold(who, where, lang))
        case p.Incomplete(command=command):
            usage = _USAGE.get(command.upper())
            if usage is None:  # AIRTIME, CASHOUT, VOUCHER without a good amount
                return answer("usage_amount", command=command.upper())
            return answer(usage)
        case p.Log(pickup_code=code, items=items):
            return answer("collector_only", CollectorLog(code, items))
        case p.Miss(pickup_code=code, reason=reason):
            return answer("collector_only", CollectorMiss(code, reason))
        case p.Claim(code=code):
            return answer("claim_bad", ClaimVoucher(code), code=code)
        case p.Unknown():
            return answer("menu")

    # Everything below needs a registered household.
    if household is None:
        if isinstance(intent, p.Cancel) and not intent.explicit_pickup:
            return answer("stopped", OptOut("CANCEL"))
        return answer("join_first")

    match intent:
        case p.Pickup():
            if open_pickup is not None:
                return answer("pickup_already_open", code=open_pickup.code)
            code = make_code()
            if household.place_lost:
                # Booked, but nobody can come until the household says where.
                return answer("pickup_booked_no_place", CreatePickup(code), code=code)
            return answer("pickup_booked", CreatePickup(code), code=code)
        case p.Cancel(explicit_pickup=explicit):
            if open_pickup is not None:
                return answer(
                    "pickup_cancelled",
                    CancelPickup(open_pickup.id),
                    code=open_pickup.code,
                )
            if explicit:
                return answer("no_open_pickup")
            return answer("stopped", OptOut("CANCEL"))
        case p.Balance():
            return answer("balance", balance=format_naira(available_kobo))
        case p.Airtime(amount_kobo=amount):
            return answer("insufficient", Redeem("airtime", amount), balance="")
        case p.Cashout(amount_kobo=amount):
            return answer("insufficient", Redeem("mobile_money", amount), balance="")
        case p.Voucher(amount_kobo=amount):
            return answer("insufficient", Redeem("voucher", amount), balance="")
        case p.Weekly(weekday=None):
            return answer("weekly_off", SetWeekly(None))
        case p.Weekly(weekday=int() as weekday):
            return answer("weekly_set", SetWeekly(weekday), weekday=WEEKDAYS[weekday])
        case p.Wrong(note=note):
            return answer("dispute_received", OpenDispute(note))
        case _:
            return answer("not_available_yet")
