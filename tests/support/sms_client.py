"""Signed Twilio webhooks delivered to several replicas, as Twilio plus a retry would.

Each message gets its own MessageSid and signature (RECOOP_PUBLIC_BASE_URL + path, so
any replica can check it). `deliver` sends one message `copies` times at once, each
copy to a random live replica; a copy that fails (connection refused or reset, a
timeout, a 5xx) is sent again to another replica until it gets an answer, like a
load balancer's retry, and every failed try is kept for the report.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import random
import time
import uuid
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import aiohttp

SMS_PATH = "/webhooks/twilio/sms"
ACCOUNT_SID = "AC" + "5" * 32
OUR_NUMBER = "+2342017001234"


def sign(token: str, url: str, params: Mapping[str, str]) -> str:
    """X-Twilio-Signature: base64(HMAC-SHA1(token, url + each key and value, sorted))."""
    payload = url + "".join(k + params[k] for k in sorted(params))
    return base64.b64encode(
        hmac.new(token.encode(), payload.encode(), hashlib.sha1).digest()
    ).decode()


def inbound_form(body: str, phone: str, sid: str | None = None) -> dict[str, str]:
    sid = sid or "SM" + uuid.uuid4().hex
    return {
        "ToCountry": "NG",
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "SmsSid": sid,
        "SmsStatus": "received",
        "Body": body,
        "FromCountry": "NG",
        "To": OUR_NUMBER,
        "NumSegments": "1",
        "MessageSid": sid,
        "AccountSid": ACCOUNT_SID,
        "From": phone,
        "ApiVersion": "2010-04-01",
    }


def twiml_message(xml: str) -> str | None:
    """The text of the TwiML <Message>, None for an empty <Response/>."""
    root = ET.fromstring(xml)
    node = root.find("Message")
    return node.text if node is not None else None


@dataclass(frozen=True, slots=True)
class FailedTry:
    sid: str
    replica: int
    error: str
    at: float


@dataclass
class Delivered:
    """What the copies of one message got back."""

    sid: str
    phone: str
    body: str
    status: int
    replies: list[str | None]
    tries: int  # HTTP requests made for all copies together


@dataclass
class SmsClient:
    session: aiohttp.ClientSession
    bases: Sequence[str]  # replica base URLs, index = replica number
    token: str
    public_base_url: str
    concurrency: int = 32
    rng: random.Random = field(default_factory=random.Random)
    give_up_s: float = 60.0
    timeout_s: float = 30.0
    down: set[int] = field(default_factory=set)
    inflight: Counter[int] = field(default_factory=Counter)
    failed: list[FailedTry] = field(default_factory=list)
    requests: int = 0
    latencies: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._gate = asyncio.Semaphore(self.concurrency)
        self.url = self.public_base_url.rstrip("/") + SMS_PATH

    def _pick(self, avoid: int | None) -> int:
        live = [i for i in range(len(self.bases)) if i not in self.down]
        if avoid is not None and len(live) > 1:
            live = [i for i in live if i != avoid]
        return self.rng.choice(live)

    async def _copy(self, form: dict[str, str], signature: str) -> tuple[int, str, int]:
        """One copy, retried on other replicas until it gets a final answer."""
        deadline = time.monotonic() + self.give_up_s
        avoid: int | None = None
        pause = 0.05
        tries = 0
        while True:
            tries += 1
            replica = self._pick(avoid)
            error: str
            async with self._gate:
                self.inflight[replica] += 1
                self.requests += 1
                started = time.monotonic()
                try:
                    async with self.session.post(
                        self.bases[replica] + SMS_PATH,
                        data=form,
                        headers={"X-Twilio-Signature": signature},
                        timeout=aiohttp.ClientTimeout(total=self.timeout_s),
                    ) as resp:
                        text = await resp.text()
                        status = resp.status
                except (TimeoutError, aiohttp.ClientError) as exc:
                    error = type(exc).__name__
                else:
                    self.latencies.append(time.monotonic() - started)
                    if status < 500:
                        return status, text, tries
                    error = f"HTTP {status}"
                finally:
                    self.inflight[replica] -= 1
            self.failed.append(
                FailedTry(form["MessageSid"], replica, error, time.monotonic())
            )
            if time.monotonic() > deadline:
                return 599, f"gave up after {error}", tries
            avoid = replica
            await asyncio.sleep(pause)
            pause = min(1.0, pause * 2)

    async def deliver(
        self, body: str, phone: str, copies: int = 1, sid: str | None = None
    ) -> Delivered:
        form = inbound_form(body, phone, sid)
        signature = sign(self.token, self.url, form)
        answers = await asyncio.gather(
            *(self._copy(form, signature) for _ in range(copies))
        )
        replies: list[str | None] = []
        for status, text, _ in answers:
            replies.append(twiml_message(text) if status == 200 else text)
        return Delivered(
            form["MessageSid"],
            phone,
            body,
            max(status for status, _, _ in answers),
            replies,
            sum(tries for _, _, tries in answers),
        )
