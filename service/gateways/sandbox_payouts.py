"""The sandbox payout provider: a real simulation of a remote provider, with its own books.

It accepts payouts by reference (a reused reference is the same payout), settles each
after a random delay (at most `max_settle_s`), fails a share of them, loses a share of
its callbacks (the poller must find those), and can time out after recording a payout
(the caller cannot know it was received: it must ask, not resend blindly). Callbacks
are signed with HMAC-SHA256 over the body, in `X-Sandbox-Signature`.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import hmac
import io
import json
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta

import sqlalchemy as sa

from service.clock import Clock
from service.gateways import (
    CallbackRejected,
    GatewayError,
    PayoutRequest,
    PayoutStatus,
)
from service.persistence.db import Database
from service.persistence.repositories import insert_for
from service.persistence.tables import sandbox_transfers

log = logging.getLogger(__name__)

Deliver = Callable[[str, bytes, dict[str, str]], Awaitable[int]]
FAILURE_REASONS = ("PAYEE_NOT_FOUND", "NOT_ENOUGH_FUNDS", "PAYER_LIMIT_REACHED")


class SandboxPayouts:
    """A simulated airtime and mobile-money provider."""

    name = "sandbox"
    kinds = frozenset({"airtime", "mobile_money"})

    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        secret: str,
        deliver: Deliver | None = None,
        failure_rate: float = 0.1,
        lost_callback_rate: float = 0.1,
        timeout_rate: float = 0.0,
        max_settle_s: float = 10.0,
        rng: random.Random | None = None,
    ) -> None:
        if not secret:
            raise ValueError("the sandbox needs a secret to sign its callbacks")
        self.db = db
        self.clock = clock
        self.secret = secret.encode()
        self.deliver = deliver
        self.failure_rate = failure_rate
        self.lost_callback_rate = lost_callback_rate
        self.timeout_rate = timeout_rate
        self.max_settle_s = max_settle_s
        self.rng = rng or random.Random()
        # reference -> payouts created / submit calls received (tests read these)
        self.creates: dict[str, int] = {}
        self.submits: dict[str, int] = {}

    # --- the provider's API ----------------------------------------------------------

    async def submit(self, request: PayoutRequest) -> PayoutStatus:
        if request.kind not in self.kinds:
            raise GatewayError(f"sandbox cannot pay {request.kind}", retryable=False)
        now = self.clock.now()
        self.submits[request.reference] = self.submits.get(request.reference, 0) + 1
        async with self.db.writer.begin() as conn:
            created = await conn.execute(
                insert_for(conn, sandbox_transfers)
                .values(
                    reference=request.reference,
                    kind=request.kind,
                    amount_kobo=request.amount_kobo,
                    currency=request.currency,
                    destination=request.destination,
                    callback_url=request.callback_url,
                    state="pending",
                    lose_callback=self.rng.random() < self.lost_callback_rate,
                    callback_done=False,
                    settle_at=now
                    + timedelta(seconds=self.rng.uniform(0, self.max_settle_s)),
                    created_at=now,
                )
                .on_conflict_do_nothing(index_elements=["reference"])
            )
        if created.rowcount == 1:
            self.creates[request.reference] = self.creates.get(request.reference, 0) + 1
        if self.rng.random() < self.timeout_rate:
            # Received and recorded, but the answer never reaches the caller.
            raise GatewayError("sandbox: read timeout", retryable=True)
        return await self.status(request.reference)

    async def status(
        self, reference: str, provider_txn: str | None = None
    ) -> PayoutStatus:
        async with self.db.reader.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(sandbox_transfers).where(
                        sandbox_transfers.c.reference == reference
                    )
                )
            ).first()
        if row is None:
            return PayoutStatus("unknown", reference=reference)
        return PayoutStatus(
            row.state,
            reference=reference,
            provider_txn=f"SBX-{reference[:8]}",
            reason=row.reason,
            amount_kobo=row.amount_kobo,
        )

    def sign(self, body: bytes) -> str:
        return hmac.new(self.secret, body, hashlib.sha256).hexdigest()

    def parse_callback(
        self, headers: Mapping[str, str], query: Mapping[str, str], body: bytes
    ) -> PayoutStatus:
        given = headers.get("X-Sandbox-Signature", "")
        if not hmac.compare_digest(given, self.sign(body)):
            raise CallbackRejected("bad or missing X-Sandbox-Signature", status=403)
        try:
            data = json.loads(body)
            state, reference = data["state"], data["reference"]
        except (ValueError, KeyError, TypeError):
            raise CallbackRejected("malformed sandbox callback", status=400) from None
        if state not in ("succeeded", "failed") or not isinstance(reference, str):
            raise CallbackRejected("malformed sandbox callback", status=400)
        return PayoutStatus(
            state,
            reference=reference,
            provider_txn=data.get("provider_txn"),
            reason=data.get("reason"),
            amount_kobo=data.get("amount_kobo"),
        )

    # --- the simulated back office ------------------------------------------------------

    async def settle_due(self) -> int:
        """Finish every payout whose time has come, and send (or lose) its callback."""
        now = self.clock.now()
        async with self.db.writer.begin() as conn:
            due = (
                (
                    await conn.execute(
                        sa.select(sandbox_transfers.c.reference).where(
                            sandbox_transfers.c.state == "pending",
                            sandbox_transfers.c.settle_at <= now,
                        )
                    )
                )
                .scalars()
                .all()
            )
            settled = 0
            for reference in due:
                failed = self.rng.random() < self.failure_rate
                # Every worker process runs this back office: the state guard lets
                # one of them decide each outcome (a second decision could flip a
                # payout the ledger has already settled the other way).
                result = await conn.execute(
                    sandbox_transfers.update()
                    .where(
                        sandbox_transfers.c.reference == reference,
                        sandbox_transfers.c.state == "pending",
                    )
                    .values(
                        state="failed" if failed else "succeeded",
                        reason=self.rng.choice(FAILURE_REASONS) if failed else None,
                        completed_at=now,
                    )
                )
                settled += result.rowcount or 0
        await self.send_callbacks()
        return settled

    async def send_callbacks(self) -> int:
        async with self.db.reader.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(sandbox_transfers).where(
                        sandbox_transfers.c.state != "pending",
                        sandbox_transfers.c.callback_done.is_(False),
                        sandbox_transfers.c.lose_callback.is_(False),
                        sandbox_transfers.c.callback_url.is_not(None),
                    )
                )
            ).all()
        sent = 0
        for row in rows:
            body = json.dumps(
                {
                    "reference": row.reference,
                    "state": row.state,
                    "reason": row.reason,
                    "provider_txn": f"SBX-{row.reference[:8]}",
                    "amount_kobo": row.amount_kobo,
                }
            ).encode()
            headers = {
                "Content-Type": "application/json",
                "X-Sandbox-Signature": self.sign(body),
            }
            try:
                status = (
                    await self.deliver(row.callback_url, body, headers)
                    if self.deliver
                    else 0
                )
            except Exception as exc:  # the receiver being down is the sender's problem
                log.info("sandbox callback failed (%s); will retry", type(exc).__name__)
                continue
            if 200 <= status < 300 or status == 404:
                async with self.db.writer.begin() as conn:
                    await conn.execute(
                        sandbox_transfers.update()
                        .where(sandbox_transfers.c.reference == row.reference)
                        .values(callback_done=True)
                    )
                sent += 1
        return sent

    async def run_forever(self, interval_s: float = 0.5) -> None:
        while True:
            try:
                await self.settle_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("sandbox settlement failed")
            await asyncio.sleep(interval_s)

    async def statement_csv(self) -> str:
        """Every payout the sandbox received, with its final status, as CSV."""
        async with self.db.reader.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(sandbox_transfers)
                    .where(sandbox_transfers.c.state != "pending")
                    .order_by(
                        sandbox_transfers.c.created_at, sandbox_transfers.c.reference
                    )
                )
            ).all()
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(
            ["reference", "amount_kobo", "currency", "status", "completed_at"]
        )
        for r in rows:
            completed = r.completed_at.isoformat() if r.completed_at else ""
            writer.writerow(
                [r.reference, r.amount_kobo, r.currency, r.state, completed]
            )
        return out.getvalue()
