"""A fake MTN MoMo Disbursement API on loopback, with outages on demand.

It follows the documented contract that service/gateways/momo.py relies on:

- `POST /disbursement/token/` (basic auth api user/key + Ocp-Apim-Subscription-Key)
  -> 200 {"access_token", "token_type", "expires_in"};
- `POST /disbursement/v1_0/transfer` (Bearer token, X-Reference-Id, X-Target-Environment,
  optional X-Callback-Url) -> 202 Accepted, or 409 RESOURCE_ALREADY_EXIST when the
  reference id was used before;
- `GET /disbursement/v1_0/transfer/{referenceId}` -> 200 TransferResult
  (PENDING | SUCCESSFUL | FAILED), or 404 RESOURCE_NOT_FOUND when never received;
- one callback to X-Callback-Url when the transfer completes, never retried.

`outage(mode)` breaks every call until `restore()`: "error" answers 500, "hang"
holds the request for `hang_s` and answers 503 without doing anything, and
"accept-hang" (transfers only) records the transfer and then hangs: the caller times
out without knowing that the payout exists, which is the case that doubles payments
when a client resends blindly. "mixed" picks one of them per request.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import random
import re
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import aiohttp
from aiohttp import web

TRANSFER = "/disbursement/v1_0/transfer"


@dataclass
class Transfer:
    reference: str
    amount: str
    currency: str
    external_id: str
    party_id: str
    callback_url: str | None
    created_at: float
    status: str = "PENDING"
    txn: str | None = None


@dataclass
class FakeMomo:
    subscription_key: str
    api_user: str
    api_key: str
    environment: str = "sandbox"
    settle_s: float = 0.3
    lost_callback_rate: float = 0.0
    hang_s: float = 3.0
    rng: random.Random = field(default_factory=random.Random)
    mode: str = "ok"  # ok | error | hang | accept-hang | mixed
    transfers: dict[str, Transfer] = field(default_factory=dict)
    posts: Counter[str] = field(default_factory=Counter)  # transfer POSTs per reference
    refused: Counter[str] = field(default_factory=Counter)
    callbacks: Counter[int] = field(default_factory=Counter)  # by HTTP status
    port: int = 0
    _tokens: set[str] = field(default_factory=set)
    _runner: web.AppRunner | None = None
    _session: aiohttp.ClientSession | None = None
    _settler: asyncio.Task[None] | None = None
    _pending: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def outage(self, mode: str = "mixed") -> None:
        assert mode in ("error", "hang", "accept-hang", "mixed")
        self.mode = mode

    def restore(self) -> None:
        self.mode = "ok"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/disbursement/token/", self._token)
        app.router.add_post(TRANSFER, self._create)
        app.router.add_get(TRANSFER + "/{reference}", self._status)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self._session = aiohttp.ClientSession()
        self._settler = asyncio.create_task(self._settle_forever())

    async def stop(self) -> None:
        if self._settler is not None:
            self._settler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._settler
        if self._pending:  # callbacks on their way land before anything closes
            await asyncio.gather(*self._pending, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # --- faults -----------------------------------------------------------------------

    async def _fault(self, call: str, *, may_accept: bool = False) -> str | None:
        """None when the call goes through; otherwise what to do instead."""
        mode = self.mode
        if mode == "ok":
            return None
        if mode == "mixed":
            options = ["error", "hang"] + (["accept-hang"] if may_accept else [])
            mode = self.rng.choice(options)
        if mode == "accept-hang" and not may_accept:
            mode = "hang"
        self.refused[f"{call}:{mode}"] += 1
        return mode

    async def _hang(self) -> web.Response:
        await asyncio.sleep(self.hang_s)
        return _error(503, "SERVICE_UNAVAILABLE", "Service unavailable")

    # --- the API --------------------------------------------------------------------------

    def _product_headers_ok(self, request: web.Request) -> bool:
        return request.headers.get("Ocp-Apim-Subscription-Key") == self.subscription_key

    def _bearer_ok(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        return (
            self._product_headers_ok(request)
            and header.startswith("Bearer ")
            and header[7:] in self._tokens
            and request.headers.get("X-Target-Environment") == self.environment
        )

    async def _token(self, request: web.Request) -> web.Response:
        fault = await self._fault("token")
        if fault == "error":
            return _error(
                500, "INTERNAL_PROCESSING_ERROR", "An internal error occurred"
            )
        if fault is not None:
            return await self._hang()
        header = request.headers.get("Authorization", "")
        expected = base64.b64encode(f"{self.api_user}:{self.api_key}".encode()).decode()
        if not self._product_headers_ok(request) or header != f"Basic {expected}":
            return web.json_response({"error": "login_failed"}, status=401)
        token = uuid.uuid4().hex
        self._tokens.add(token)
        return web.json_response(
            {"access_token": token, "token_type": "access_token", "expires_in": 3600}
        )

    async def _create(self, request: web.Request) -> web.Response:
        if not self._bearer_ok(request):
            return _error(401, "UNAUTHORIZED", "Access denied due to invalid token")
        reference = request.headers.get("X-Reference-Id", "")
        fault = await self._fault("transfer", may_accept=True)
        if fault == "error":
            return _error(
                500, "INTERNAL_PROCESSING_ERROR", "An internal error occurred"
            )
        if fault == "hang":
            return await self._hang()
        try:
            uuid.UUID(reference, version=4)
            body = json.loads(await request.read())
            amount = str(body["amount"])
            party = body["payee"]
            assert party["partyIdType"] == "MSISDN" and re.fullmatch(
                r"\d{6,15}", party["partyId"]
            )
            assert Decimal(amount) > 0
            assert body["currency"] == "EUR" or self.environment != "sandbox"
        except (ValueError, KeyError, TypeError, AssertionError):
            return _error(400, "BAD_REQUEST", "Invalid request")
        self.posts[reference] += 1
        if reference in self.transfers:
            return _error(409, "RESOURCE_ALREADY_EXIST", "Duplicated reference id.")
        self.transfers[reference] = Transfer(
            reference=reference,
            amount=amount,
            currency=body["currency"],
            external_id=str(body.get("externalId", "")),
            party_id=party["partyId"],
            callback_url=request.headers.get("X-Callback-Url"),
            created_at=time.monotonic(),
        )
        if fault == "accept-hang":
            return await self._hang()
        return web.Response(status=202)

    async def _status(self, request: web.Request) -> web.Response:
        if not self._bearer_ok(request):
            return _error(401, "UNAUTHORIZED", "Access denied due to invalid token")
        fault = await self._fault("status")
        if fault == "error":
            return _error(
                500, "INTERNAL_PROCESSING_ERROR", "An internal error occurred"
            )
        if fault is not None:
            return await self._hang()
        transfer = self.transfers.get(request.match_info["reference"])
        if transfer is None:
            return _error(
                404, "RESOURCE_NOT_FOUND", "Requested resource was not found."
            )
        return web.json_response(_result(transfer))

    # --- the back office ------------------------------------------------------------

    async def _settle_forever(self) -> None:
        while True:
            now = time.monotonic()
            for transfer in list(self.transfers.values()):
                if transfer.status == "PENDING" and now - transfer.created_at >= (
                    self.settle_s
                ):
                    transfer.status = "SUCCESSFUL"
                    transfer.txn = str(self.rng.randrange(10**9, 10**10))
                    if transfer.callback_url and self.rng.random() >= (
                        self.lost_callback_rate
                    ):
                        task = asyncio.create_task(self._callback(transfer))
                        self._pending.add(task)
                        task.add_done_callback(self._pending.discard)
            await asyncio.sleep(0.1)

    async def _callback(self, transfer: Transfer) -> None:
        assert self._session is not None and transfer.callback_url
        try:
            async with self._session.post(
                transfer.callback_url,
                json=_result(transfer),
                timeout=aiohttp.ClientTimeout(total=10),
            ) as resp:
                self.callbacks[resp.status] += 1
        except (TimeoutError, aiohttp.ClientError):
            self.callbacks[0] += 1  # sent once, never again: MoMo does not retry


def _result(transfer: Transfer) -> dict[str, Any]:
    result: dict[str, Any] = {
        "amount": transfer.amount,
        "currency": transfer.currency,
        "externalId": transfer.external_id,
        "payee": {"partyIdType": "MSISDN", "partyId": transfer.party_id},
        "payerMessage": "Recoop recycling payout",
        "payeeNote": "Recoop recycling credit",
        "status": transfer.status,
    }
    if transfer.txn:
        result["financialTransactionId"] = transfer.txn
    return result


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"code": code, "message": message}, status=status)
