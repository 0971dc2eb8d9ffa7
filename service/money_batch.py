"""Batched weighings: an offline collector's morning in one transaction, answered per item."""

from __future__ import annotations

import json
from bisect import bisect_right
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from service.clock import Clock
from service.domain.commands import Command, LogWeights
from service.domain.errors import Conflict, DomainError, InvalidInput, NotFound
from service.domain.replies import render
from service.ledger import accounts as acc
from service.ledger.postings import IdempotencyConflict, LedgerError, credit_for
from service.money import (
    AlreadyCollected,
    WeighingAnswer,
    check_items,
    credit_fingerprint,
    credit_key,
    kg_text,
    missing_rates,
    receipt_text,
    replay,
    weighing_body,
    weighing_fingerprint,
)
from service.persistence import money as db
from service.persistence.ledger import Credit, Ledger
from service.persistence.planning import pin_first_visits
from service.settings import Settings
from service.unit_of_work import UnitOfWork

MAX_BATCH = 500

BatchAnswer = WeighingAnswer | DomainError | LedgerError


@dataclass(frozen=True, slots=True)
class LogWeightsBatch(Command):
    """Many weighings at once (an offline collector syncing); each item keeps its own
    idempotency key, and is weighed under the batch's scope and collector."""

    items: tuple[LogWeights, ...]
    scope: str = "api"
    collector: str = ""


def answer_json(answer: BatchAnswer) -> tuple[int, dict[str, Any]]:
    """(status, JSON) for one item, as the single-weighing endpoint would answer it."""
    if isinstance(answer, WeighingAnswer):
        return answer.status_code, answer.body
    status, code = 409, "conflict"
    if isinstance(answer, IdempotencyConflict):
        code = "idempotency_conflict"
    elif isinstance(answer, AlreadyCollected):
        code = "already_collected"
    elif isinstance(answer, NotFound):
        status, code = 404, "not_found"
    elif isinstance(answer, InvalidInput):
        status, code = 400, "invalid_body"
    return status, {"error": {"code": code, "message": str(answer)}}


class _Rates:
    """Rate versions in force on any day, from one query's history."""

    def __init__(self, history: list[tuple[str, date, int]]) -> None:
        self._by_material: dict[str, tuple[list[date], list[int]]] = {}
        for material, day, rate in history:
            days, rates = self._by_material.setdefault(material, ([], []))
            days.append(day)
            rates.append(rate)

    def on(self, day: date, materials: set[str]) -> dict[str, int]:
        found = {}
        for material in materials:
            days, rates = self._by_material.get(material, ([], []))
            at = bisect_right(days, day)
            if at:
                found[material] = rates[at - 1]
        return found


async def log_weights_batch(
    cmd: LogWeightsBatch, uow: UnitOfWork, *, clock: Clock, settings: Settings
) -> list[BatchAnswer]:
    """Weigh every item in one transaction with a fixed number of statements.

    Each item is answered as `log_weights` would answer it alone (a refusal is that
    item's answer and never stops the others; a refused item leaves its key free);
    the same key inside the batch or from an earlier request replays the first answer.
    The outstanding-credit cap is checked once, with a running total in item order.
    """
    if not cmd.items:
        raise InvalidInput("a batch needs at least one weighing")
    if len(cmd.items) > MAX_BATCH:
        raise InvalidInput(f"a batch holds at most {MAX_BATCH} weighings")
    items = cmd.items
    fps = [weighing_fingerprint(c) for c in items]
    answers: list[BatchAnswer | None] = [None] * len(items)
    first: dict[str, int] = {}
    for i, c in enumerate(items):
        first.setdefault(c.idempotency_key, i)
    async with uow:
        answers = await _weigh_all(cmd, uow, fps, first, answers, clock, settings)
        await uow.commit()
    out: list[BatchAnswer] = []
    for i, c in enumerate(items):
        j = first[c.idempotency_key]
        answer = answers[j]
        assert answer is not None
        if j != i:
            if fps[i] != fps[j] and not isinstance(answer, WeighingAnswer):
                # The first item with this key was refused and left the key free.
                answer = Conflict("an earlier item with this key was refused; resend")
            elif fps[i] != fps[j]:
                answer = IdempotencyConflict(
                    "this idempotency_key was already used for a different weighing"
                )
            elif isinstance(answer, WeighingAnswer):
                answer = WeighingAnswer(answer.status_code, answer.body, replayed=True)
        out.append(answer)
    return out


async def _weigh_all(
    cmd: LogWeightsBatch,
    uow: UnitOfWork,
    fps: list[str],
    first: dict[str, int],
    answers: list[BatchAnswer | None],
    clock: Clock,
    settings: Settings,
) -> list[BatchAnswer | None]:
    now = clock.now()
    conn = uow.conn
    scope = cmd.scope
    items = cmd.items
    leaders = sorted(set(first.values()))
    keys = {items[i].idempotency_key: fps[i] for i in leaders}
    claimed = await db.claim_keys(conn, scope=scope, keys=keys, now=now)
    seen = await db.seen_keys(conn, scope=scope, keys=sorted(keys.keys() - claimed))

    fresh: list[int] = []
    mine = [i for i in leaders if items[i].idempotency_key in claimed]
    for i in leaders:
        c = items[i]
        try:
            if c.idempotency_key not in claimed:
                earlier = seen.get(c.idempotency_key)
                if earlier is None:  # released by a refused request meanwhile
                    raise Conflict("this idempotency_key is busy; send it again")
                answers[i] = replay(earlier, fps[i])
                continue
            check_items(c)
        except (DomainError, LedgerError) as exc:
            answers[i] = exc
            continue
        fresh.append(i)

    days = {i: items[i].collected_at.astimezone(clock.tz).date() for i in fresh}
    rates = _Rates(await db.rate_history(conn, max(days.values())) if days else [])
    in_force = {i: rates.on(days[i], {m for m, _ in items[i].items}) for i in fresh}
    no_rate = {
        i: msg
        for i in fresh
        if (msg := missing_rates(items[i], in_force[i], days[i])) is not None
    }
    rated = [i for i in fresh if i not in no_rate]
    closed = await db.close_pickups(
        conn, sorted({items[i].pickup_code for i in rated}), now
    )
    to_weigh: list[int] = []
    refused: list[int] = [*no_rate]
    taken: set[str] = set()
    for i in rated:
        code = items[i].pickup_code
        if code in closed and code not in taken:
            taken.add(code)
            to_weigh.append(i)
        else:
            refused.append(i)
    statuses = await db.pickup_statuses(
        conn, sorted({items[i].pickup_code for i in refused})
    )
    for i in refused:
        code = items[i].pickup_code
        if code not in statuses:
            answers[i] = NotFound(f"no pickup has the code {code}")
        elif statuses[code] == "done" or i not in no_rate:
            answers[i] = AlreadyCollected(f"pickup {code} was already weighed")
        else:
            answers[i] = InvalidInput(no_rate[i])
    # A refused item leaves its key free, as a rolled-back single weighing would.
    await db.release_keys(
        conn,
        scope=scope,
        keys=sorted(items[i].idempotency_key for i in mine if i not in to_weigh),
    )
    if not to_weigh:
        return answers

    cap = settings.outstanding_credit_cap_kobo
    owed = await db.outstanding_credit(conn)
    credit: dict[int, int] = {}
    capped: set[int] = set()
    for i in to_weigh:
        amount = int(credit_for([(g, in_force[i][m]) for m, g in items[i].items]))
        if amount and owed + amount > cap:
            capped.add(i)
            amount = 0
        owed += amount
        credit[i] = amount
    collector = cmd.collector[:80]
    household = {
        i: acc.household(closed[items[i].pickup_code].household_id) for i in to_weigh
    }
    paid = [i for i in to_weigh if credit[i]]
    ledger = Ledger(conn)
    transfer_ids, balances = await ledger.credit_many(
        [
            Credit(
                credit_key(closed[items[i].pickup_code].id),
                household[i],
                credit[i],
                credit_fingerprint(household[i], credit[i]),
            )
            for i in paid
        ],
        kind="weighing",
        now=now,
    )
    transfer_of = dict(zip(paid, transfer_ids, strict=True))
    weighing_ids = await db.add_weighings(
        conn,
        [
            {
                "pickup_id": closed[items[i].pickup_code].id,
                "household_id": closed[items[i].pickup_code].household_id,
                "collected_at": items[i].collected_at,
                "lat": items[i].lat,
                "lon": items[i].lon,
                "total_grams": sum(g for _, g in items[i].items),
                "credited_kobo": credit[i],
                "credit_status": "capped" if i in capped else "credited",
                "transfer_id": transfer_of.get(i),
                "source": items[i].source,
                "collector": collector,
                "created_at": now,
            }
            for i in to_weigh
        ],
    )
    wid = dict(zip(to_weigh, weighing_ids, strict=True))
    await pin_first_visits(
        conn,
        [
            (closed[items[i].pickup_code].household_id, items[i].lat, items[i].lon)
            for i in to_weigh
        ],
        now,
    )
    await db.add_weighing_items(
        conn,
        [
            {
                "weighing_id": wid[i],
                "material": m,
                "grams": g,
                "kobo_per_kg": in_force[i][m],
            }
            for i in to_weigh
            for m, g in items[i].items
        ],
    )
    unpaid = sorted({household[i] for i in to_weigh} - balances.keys())
    if unpaid:
        balances |= await ledger.balances(unpaid)
    # Each receipt shows the balance right after its own credit.
    after = {name: b.available for name, b in balances.items()}
    left_after: dict[int, int] = {}
    for i in reversed(to_weigh):
        left_after[i] = after.get(household[i], 0)
        after[household[i]] = left_after[i] - credit[i]

    ttl = timedelta(seconds=settings.sms_default_ttl_s)
    receipts, saved = [], []
    for i in to_weigh:
        c, pickup = items[i], closed[items[i].pickup_code]
        grams = sum(g for _, g in c.items)
        body = weighing_body(c, wid[i], pickup.household_id, credit[i], i in capped)
        if i in capped:
            text = render("receipt_capped", pickup.language, kg=kg_text(grams))
        else:
            text = receipt_text(pickup.language, grams, credit[i], left_after[i])
        receipts.append(
            db.sms_row(
                key=f"receipt:{wid[i]}",
                to_phone=pickup.phone,
                body=text,
                now=now,
                ttl=ttl,
                attempts=settings.sms_max_attempts,
            )
        )
        saved.append((c.idempotency_key, 201, json.dumps(body)))
        answers[i] = WeighingAnswer(201, body)
    await db.enqueue_sms(conn, receipts)
    await db.save_answers(conn, scope=scope, answers=saved)
    by_household: dict[str, int] = {}
    for i in paid:
        by_household[household[i]] = by_household.get(household[i], 0) + credit[i]
    # Last: the total's stripes are locked only until the commit.
    if by_household and not await ledger.add_many_to_total(
        by_household, now=now, cap=cap
    ):
        raise Conflict("the outstanding credit moved past the cap during the batch")
    return answers


__all__ = [
    "MAX_BATCH",
    "BatchAnswer",
    "LogWeightsBatch",
    "answer_json",
    "log_weights_batch",
]
