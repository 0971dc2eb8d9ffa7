"""Outbox dispatcher: claim due rows, check opt-out, expiry and rate limit, send, record."""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from datetime import timedelta

from service import phones
from service.clock import Clock
from service.domain.sms_segments import segment_count
from service.gateways import GatewayError, OutboundSms, SmsGateway
from service.logs import request_id
from service.metrics import Metrics
from service.persistence import outbox
from service.persistence.db import Database
from service.persistence.repositories import OptOuts
from service.phones import mask
from service.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with jitter (50-100% of the step), capped."""

    base_s: float = 5.0
    cap_s: float = 900.0

    def delay(self, attempt: int, rand: random.Random) -> float:
        ceiling = min(self.cap_s, self.base_s * 2.0 ** (attempt - 1))
        return rand.uniform(0.5, 1.0) * ceiling


class Dispatcher:
    """Delivers outbox SMS through the gateway at least once, never after expiry."""

    def __init__(
        self,
        db: Database,
        gateway: SmsGateway,
        clock: Clock,
        settings: Settings,
        metrics: Metrics,
        *,
        lease: timedelta = timedelta(seconds=60),
        backoff: Backoff = Backoff(),
        status_callback: str | None = None,
        rand: random.Random | None = None,
    ) -> None:
        self.db = db
        self.gateway = gateway
        self.clock = clock
        self.settings = settings
        self.metrics = metrics
        self.lease = lease
        self.backoff = backoff
        self.status_callback = status_callback
        self.rand = rand or random.Random()

    async def run_once(self, limit: int = 50) -> int:
        """Claim and handle one batch; returns how many rows were handled."""
        now = self.clock.now()
        async with self.db.writer.begin() as conn:
            rows = await outbox.claim(conn, now=now, lease=self.lease, limit=limit)
        for row in rows:
            token = request_id.set(row.request_id)  # logs carry the causing request
            try:
                await self._deliver(row)
            finally:
                request_id.reset(token)
        return len(rows)

    async def run_forever(self, stop: asyncio.Event | None = None) -> None:
        """Poll the outbox until cancelled (or `stop` is set)."""
        while stop is None or not stop.is_set():
            try:
                handled = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox dispatch failed; retrying shortly")
                handled = 0
            if not handled:
                await asyncio.sleep(self.settings.dispatcher_interval_s)

    async def _deliver(self, row: outbox.OutboxRow) -> None:
        now = self.clock.now()
        async with self.db.writer.begin() as conn:
            # Rows are claimed in batches: while earlier ones were being sent, this
            # row's lease may have run out and another worker taken it over.
            if not await outbox.renew_lease(conn, row, until=now + self.lease):
                log.info("SMS %s: lease lost to another worker; not sending", row.key)
                self.metrics.outbound_sms.labels(outcome="lease_lost").inc()
                return
            if row.expires_at <= now:
                await outbox.mark_final(
                    conn, row.id, status="expired", error="expired unsent"
                )
                self.metrics.outbound_sms.labels(outcome="expired").inc()
                return
            if not self._country_allowed(row.to_phone):
                await outbox.mark_final(
                    conn,
                    row.id,
                    status="failed",
                    error="destination country not allowed (RECOOP_SMS_ALLOWED_COUNTRIES)",
                )
                self._tripped("country", row)
                self.metrics.outbound_sms.labels(outcome="failed").inc()
                return
            if await OptOuts(conn).contains(row.to_phone):
                await outbox.mark_final(
                    conn, row.id, status="suppressed", error="recipient opted out"
                )
                self.metrics.outbound_sms.labels(outcome="suppressed").inc()
                return
            if not row.is_reply:
                hour_ago = now - timedelta(hours=1)
                prefix = row.to_phone[: self.settings.sms_prefix_digits + 1]
                guard = None
                if (
                    await outbox.count_started_since(conn, row.to_phone, hour_ago)
                    >= self.settings.sms_per_number_per_hour
                ):
                    guard, scope = "number", row.to_phone
                elif (
                    await outbox.count_started_since(
                        conn, prefix, hour_ago, prefix=True
                    )
                    >= self.settings.sms_per_prefix_per_hour
                ):
                    guard, scope = "prefix", prefix
                if guard is not None:
                    self._tripped(guard, row)
                    oldest = await outbox.oldest_started_since(
                        conn, scope, hour_ago, prefix=guard == "prefix"
                    )
                    free_at = (oldest or now) + timedelta(hours=1, seconds=1)
                    if free_at >= row.expires_at:
                        await outbox.mark_final(
                            conn,
                            row.id,
                            status="expired",
                            error=f"hourly cap for this {guard} until after expiry",
                        )
                        self.metrics.outbound_sms.labels(outcome="expired").inc()
                    else:
                        await outbox.defer(
                            conn,
                            row.id,
                            at=free_at,
                            reason=f"hourly cap for this {guard}",
                        )
                        self.metrics.outbound_sms.labels(outcome="deferred").inc()
                    return

        message = OutboundSms(
            to=row.to_phone,
            body=row.body,
            key=row.key,
            status_callback=self.status_callback,
        )
        try:
            result = await self.gateway.send(message)
        except GatewayError as exc:
            await self._failed(row, exc)
            return
        except Exception as exc:  # a bug in a gateway must not kill the loop
            log.exception("gateway %s crashed", self.gateway.name)
            await self._failed(row, GatewayError(type(exc).__name__, retryable=True))
            return
        async with self.db.writer.begin() as conn:
            await outbox.mark_sent(
                conn,
                row.id,
                now=self.clock.now(),
                gateway=self.gateway.name,
                provider_id=result.provider_id,
                provider_status=result.status,
            )
        segments = segment_count(row.body)
        self.metrics.outbound_sms.labels(outcome="sent").inc()
        self.metrics.sms_segments.labels(self.gateway.name).inc(segments)
        log.info(
            "sent SMS %s to %s via %s (%d segment%s)",
            row.key,
            mask(row.to_phone),
            self.gateway.name,
            segments,
            "" if segments == 1 else "s",
        )

    def _country_allowed(self, phone: str) -> bool:
        allowed = self.settings.sms_allowed_countries
        return not allowed or phones.region_of(phone) in allowed

    def _tripped(self, guard: str, row: outbox.OutboxRow) -> None:
        """An abuse guard held a message back: count it and say so (the alert)."""
        self.metrics.sms_cap_trips.labels(guard).inc()
        log.warning(
            "SMS guard tripped: %s limit held back %s to %s",
            guard,
            row.key,
            mask(row.to_phone),
        )

    async def _failed(self, row: outbox.OutboxRow, exc: GatewayError) -> None:
        now = self.clock.now()
        async with self.db.writer.begin() as conn:
            if exc.opted_out:
                await OptOuts(conn).add(row.to_phone, "PROVIDER", now)
                await outbox.mark_final(
                    conn, row.id, status="suppressed", error=str(exc)
                )
                outcome = "suppressed"
            elif not exc.retryable or row.attempts >= row.max_attempts:
                await outbox.mark_final(conn, row.id, status="failed", error=str(exc))
                outcome = "failed"
            else:
                at = now + timedelta(
                    seconds=self.backoff.delay(row.attempts, self.rand)
                )
                if at >= row.expires_at:
                    await outbox.mark_final(
                        conn,
                        row.id,
                        status="expired",
                        error=f"retry after expiry: {exc}",
                    )
                    outcome = "expired"
                else:
                    await outbox.mark_retry(conn, row.id, at=at, error=str(exc))
                    outcome = "retry"
        log.warning("SMS %s to %s: %s (%s)", row.key, mask(row.to_phone), outcome, exc)
        self.metrics.outbound_sms.labels(outcome=outcome).inc()
