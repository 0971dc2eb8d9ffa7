"""Households texting the service, with the reply each message must get.

Three kinds of household, each a fixed script of SMS whose replies follow from the
service's contract (the reply templates, the rates, the ledger rules):

- "saver": JOIN, PICKUP, PICKUP again (same code) | a collector LOGs the pickup,
  BAL, AIRTIME 100, BAL. Queues two SMS: the weighing receipt and the payout notice.
- "pidgin": JOIN, LANG PCM, a Pidgin pickup request, HELP | CANCEL, BAL, PICKUP
  (a new code). Every reply after LANG is in Pidgin.
- "newcomer": PICKUP before joining, JOIN, small talk | BAL, AIRTIME 100 (not
  enough), STOP.

A household's messages are sent one after another (its replies depend on order);
households run concurrently. `phase1` sends the first part of every script and
`phase2` the rest; only phase 2 makes outgoing SMS and payouts.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from service.domain.replies import TEMPLATES, format_naira, render

RATES = {"PET": 5000, "ALU": 20000}  # kobo per kg
LOG_ITEMS = "PET 2.5 ALU 0.4"
LOG_KG = "2.9"
CREDIT_KOBO = 2500 * RATES["PET"] // 1000 + 400 * RATES["ALU"] // 1000  # 20,500
AIRTIME_KOBO = 10_000
KINDS = ("saver", "pidgin", "newcomer")
MESSAGES_PER_KIND = {"saver": (3, 4), "pidgin": (4, 3), "newcomer": (3, 3)}

FIRST = ["Ada", "Bola", "Chidi", "Damilola", "Emeka", "Funke", "Gbenga", "Halima",
         "Ifeoma", "Jide", "Kemi", "Lola", "Musa", "Ngozi", "Obinna", "Segun"]  # fmt: skip
LAST = ["Adeyemi", "Okafor", "Bello", "Eze", "Balogun", "Nwosu", "Ogunleye",
        "Abubakar", "Okonkwo", "Adebayo"]  # fmt: skip
STREETS = ["Herbert Macaulay Way, Yaba", "Ikorodu Road, Fadeyi", "Iwaya Road",
           "Commercial Avenue, Sabo", "Akoka Road", "Borno Way, Alagomeji",
           "Ojuelegba Road, Surulere", "Bode Thomas Street", "Jibowu Street"]  # fmt: skip

Send = Callable[[str, str], Awaitable[str | None]]  # (phone, body) -> reply


@dataclass
class Household:
    kind: str
    phone: str
    join_text: str
    collector: str
    codes: list[str] = field(default_factory=list)


def _pattern(key: str, lang: str, **known: str) -> re.Pattern[str]:
    """The template as a regex whose {code} is captured and the rest literal."""
    marker = "\x00CODE\x00"
    text = TEMPLATES[key][lang].format(code=marker, **known)
    escaped = re.escape(text).replace(re.escape(marker), "([A-Z0-9]{4,8})")
    return re.compile(f"^{escaped}$")


@dataclass
class Scenario:
    households: list[Household]
    collectors: list[str]
    problems: list[str] = field(default_factory=list)

    @classmethod
    def build(
        cls, per_kind: int, phones: list[str], collectors: list[str], seed: int = 7
    ) -> Scenario:
        rng = random.Random(seed)
        assert len(phones) >= per_kind * len(KINDS)
        households = []
        for i in range(per_kind * len(KINDS)):
            name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
            street = f"{rng.randint(1, 120)} {rng.choice(STREETS)}"
            households.append(
                Household(
                    kind=KINDS[i % len(KINDS)],
                    phone=phones[i],
                    join_text=f"JOIN {name}, {street}",
                    collector=collectors[i % len(collectors)],
                )
            )
        return cls(households, collectors)

    @property
    def message_count(self) -> int:
        return sum(sum(MESSAGES_PER_KIND[h.kind]) for h in self.households)

    @property
    def phase1_count(self) -> int:
        return sum(MESSAGES_PER_KIND[h.kind][0] for h in self.households)

    def of(self, kind: str) -> list[Household]:
        return [h for h in self.households if h.kind == kind]

    # --- checks --------------------------------------------------------------------

    def _expect(
        self, h: Household, body: str, reply: str | None, key: str, lang: str, **v: str
    ) -> None:
        wanted = render(key, lang, **v)
        if reply != wanted:
            self.problems.append(
                f"{h.kind} {h.phone} {body!r}: got {reply!r}, expected {wanted!r}"
            )

    def _code(
        self, h: Household, body: str, reply: str | None, key: str, lang: str
    ) -> str:
        found = _pattern(key, lang).match(reply or "")
        if found is None:
            self.problems.append(
                f"{h.kind} {h.phone} {body!r}: got {reply!r}, expected {key}/{lang}"
            )
            return "????"
        return found.group(1)

    # --- the scripts ---------------------------------------------------------------

    async def phase1(self, h: Household, send: Send) -> None:
        p = h.phone
        if h.kind == "saver":
            self._expect(h, "JOIN", await send(p, h.join_text), "welcome", "en")
            reply = await send(p, "PICKUP")
            h.codes.append(self._code(h, "PICKUP", reply, "pickup_booked", "en"))
            body = "pls come carry my bottles"
            reply = await send(p, body)
            self._expect(h, body, reply, "pickup_already_open", "en", code=h.codes[0])
        elif h.kind == "pidgin":
            self._expect(h, "JOIN", await send(p, h.join_text), "welcome", "en")
            self._expect(h, "LANG", await send(p, "LANG PCM"), "lang_set", "pcm")
            body = "una fit come carry am?"
            reply = await send(p, body)
            h.codes.append(self._code(h, body, reply, "pickup_booked", "pcm"))
            self._expect(h, "HELP", await send(p, "HELP"), "menu", "pcm")
        else:
            self._expect(h, "PICKUP", await send(p, "PICKUP"), "join_first", "en")
            self._expect(h, "JOIN", await send(p, h.join_text), "welcome", "en")
            self._expect(h, "How far", await send(p, "How far"), "menu", "en")

    async def phase2(self, h: Household, send: Send) -> None:
        p = h.phone
        if h.kind == "saver":
            code = h.codes[0]
            body = f"LOG {code} {LOG_ITEMS}"
            credit = format_naira(CREDIT_KOBO)
            self._expect(
                h, body, await send(h.collector, body), "logged", "en",
                code=code, kg=LOG_KG, amount=credit,
            )  # fmt: skip
            self._expect(
                h, "BAL", await send(p, "BAL"), "balance", "en", balance=credit
            )
            left = format_naira(CREDIT_KOBO - AIRTIME_KOBO)
            self._expect(
                h, "AIRTIME", await send(p, "AIRTIME 100"), "redeem_airtime", "en",
                amount=format_naira(AIRTIME_KOBO), balance=left,
            )  # fmt: skip
            self._expect(h, "BAL", await send(p, "Bal?"), "balance", "en", balance=left)
        elif h.kind == "pidgin":
            reply = await send(p, "CANCEL")
            self._expect(h, "CANCEL", reply, "pickup_cancelled", "pcm", code=h.codes[0])
            zero = format_naira(0)
            self._expect(h, "BAL", await send(p, "BAL"), "balance", "pcm", balance=zero)
            reply = await send(p, "PICKUP")
            h.codes.append(self._code(h, "PICKUP", reply, "pickup_booked", "pcm"))
        else:
            zero = format_naira(0)
            self._expect(h, "BAL", await send(p, "BAL"), "balance", "en", balance=zero)
            reply = await send(p, "AIRTIME 100")
            self._expect(h, "AIRTIME", reply, "insufficient", "en", balance=zero)
            self._expect(h, "STOP", await send(p, "STOP"), "stopped", "en")

    # --- what must have been sent by the outbox ------------------------------------

    def expected_outbound(self, references: dict[str, str]) -> Counter[tuple[str, str]]:
        """(to, body) of every SMS the service must send once: receipts and payouts.

        `references` maps each saver's phone to its payout reference.
        """
        wanted: Counter[tuple[str, str]] = Counter()
        credit = format_naira(CREDIT_KOBO)
        for h in self.of("saver"):
            receipt = render("receipt", "en", kg=LOG_KG, amount=credit, balance=credit)
            wanted[(h.phone, receipt)] += 1
            done = render(
                "payout_done",
                "en",
                amount=format_naira(AIRTIME_KOBO),
                ref=references.get(h.phone, "?")[:8],
            )
            wanted[(h.phone, done)] += 1
        return wanted
