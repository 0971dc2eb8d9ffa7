"""Small fake classes standing in for the outside world (no mocks of our own code)."""

from __future__ import annotations

import asyncio

from service.gateways import GatewayError, OutboundSms, SendResult


class FakeSms:
    """An SMS gateway that records what it sends and can be told to fail."""

    name = "fake"

    def __init__(self) -> None:
        self.sent: list[OutboundSms] = []
        self.failures: list[GatewayError] = []  # raised, in order, before succeeding
        self.delay_s = 0.0

    async def send(self, msg: OutboundSms) -> SendResult:
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(msg)
        return SendResult(provider_id=f"SM{len(self.sent):032d}", status="queued")

    def to(self, phone: str) -> list[str]:
        return [m.body for m in self.sent if m.to == phone]
