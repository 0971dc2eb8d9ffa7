"""Payout dispatcher: submit held payouts, poll the ones whose callback never came."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from service.bus import MessageBus
from service.clock import Clock
from service.domain.commands import RecordPayoutResult
from service.gateways import GatewayError, PayoutProvider, PayoutRequest, PayoutStatus
from service.money import release_payout
from service.persistence import money as db
from service.persistence.db import Database
from service.settings import Settings
from service.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


class PayoutDispatcher:
    """Moves payouts held -> submitted, and asks providers about silent ones.

    The reference is saved with the hold, before any call, and sent on every
    attempt, so a provider sees one payout however often we retry. A timeout is
    ambiguous: the payout goes to `submitted` and is resolved by a status query;
    it is submitted again only if the provider says it never received it.
    """

    def __init__(
        self,
        db_: Database,
        bus: MessageBus,
        providers: Mapping[str, PayoutProvider],
        clock: Clock,
        settings: Settings,
        uow_factory: Any,
        *,
        lease: timedelta = timedelta(seconds=60),
        first_poll_after: timedelta = timedelta(seconds=15),
        max_poll_interval: timedelta = timedelta(minutes=10),
    ) -> None:
        self.db = db_
        self.bus = bus
        self.providers = providers
        self.clock = clock
        self.settings = settings
        self.uow_factory = uow_factory
        self.lease = lease
        self.first_poll_after = first_poll_after
        self.max_poll_interval = max_poll_interval

    def _callback_url(self, provider: str) -> str:
        return (
            f"{self.settings.public_base_url.rstrip('/')}/webhooks/payouts/{provider}"
        )

    def _poll_delay(self, attempts: int) -> timedelta:
        delay: timedelta = self.first_poll_after * (2 ** max(0, attempts - 1))
        return min(delay, self.max_poll_interval)

    async def submit_due(self, limit: int = 50) -> int:
        """Submit held payouts that are due; returns how many were tried."""
        now = self.clock.now()
        async with self.db.writer.begin() as conn:
            rows = await db.claim_payouts(
                conn, statuses=("held",), now=now, lease=self.lease, limit=limit
            )
        for row in rows:
            await self._submit(row)
        return len(rows)

    async def _submit(self, row: Any) -> None:
        provider = self.providers.get(row.provider)
        if provider is None:
            log.error(
                "payout %s names unknown provider %s", row.reference, row.provider
            )
            await self._record(
                row, PayoutStatus("failed", reason="provider not configured")
            )
            return
        request = PayoutRequest(
            reference=row.reference,
            kind=row.kind,
            amount_kobo=row.amount_kobo,
            currency=self.settings.currency,
            destination=row.destination,
            callback_url=self._callback_url(row.provider),
        )
        now = self.clock.now()
        try:
            status = await provider.submit(request)
        except GatewayError as exc:
            if not exc.retryable:
                await self._record(row, PayoutStatus("failed", reason=str(exc)[:200]))
                return
            # Maybe received, maybe not: ask before doing anything else.
            async with self.db.writer.begin() as conn:
                await db.move_payout(
                    conn,
                    row.id,
                    from_=("held",),
                    to="submitted",
                    submitted_at=now,
                    lease_until=None,
                    next_attempt_at=now + self._poll_delay(1),
                    failure_reason=f"uncertain: {exc}"[:200],
                )
            return
        if status.state in ("succeeded", "failed"):
            await self._record(row, status)
            return
        async with self.db.writer.begin() as conn:
            await db.move_payout(
                conn,
                row.id,
                from_=("held",),
                to="submitted",
                submitted_at=now,
                lease_until=None,
                provider_txn=status.provider_txn,
                next_attempt_at=now + self._poll_delay(1),
            )

    async def poll_due(self, limit: int = 50) -> int:
        """Ask providers about submitted payouts whose result has not arrived."""
        now = self.clock.now()
        async with self.db.writer.begin() as conn:
            rows = await db.claim_payouts(
                conn, statuses=("submitted",), now=now, lease=self.lease, limit=limit
            )
        for row in rows:
            await self._poll(row)
        return len(rows)

    async def _poll(self, row: Any) -> None:
        provider = self.providers.get(row.provider)
        now = self.clock.now()
        status: PayoutStatus | None = None
        if provider is not None:
            try:
                status = await provider.status(row.reference, row.provider_txn)
            except GatewayError as exc:
                log.info("status of payout %s unavailable: %s", row.reference[:8], exc)
        if status is not None and status.state in ("succeeded", "failed"):
            await self._record(row, status)
            return
        if status is not None and status.state == "unknown":
            if row.expires_at <= now:
                uow: UnitOfWork = self.uow_factory()
                async with uow:
                    payout = await db.payout_by_id(uow.conn, row.id)
                    await release_payout(
                        uow, payout, now=now, reason="never reached provider"
                    )
                    await uow.commit()
                return
            # The provider never got it: submit again, with the same reference.
            async with self.db.writer.begin() as conn:
                await db.move_payout(
                    conn,
                    row.id,
                    from_=("submitted",),
                    to="held",
                    lease_until=None,
                    next_attempt_at=now,
                )
            return
        async with self.db.writer.begin() as conn:
            await db.release_lease(
                conn, row.id, next_attempt_at=now + self._poll_delay(row.attempts)
            )

    async def _record(self, row: Any, status: PayoutStatus) -> None:
        await self.bus.handle(
            RecordPayoutResult(
                provider=row.provider,
                state=status.state,
                reference=row.reference,
                provider_txn=status.provider_txn,
                reason=status.reason,
            )
        )

    async def run_forever(self, interval_s: float = 0.5) -> None:
        """Submit due payouts until cancelled (polling is the scheduler's job)."""
        while True:
            try:
                handled = await self.submit_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("payout submission failed; retrying shortly")
                handled = 0
            if not handled:
                await asyncio.sleep(interval_s)
