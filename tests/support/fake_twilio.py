"""A fake Twilio REST API on loopback: records every message it accepts, fails on demand.

It answers `POST /2010-04-01/Accounts/{sid}/Messages.json` as Twilio does (HTTP basic
auth with the account SID and auth token, form fields To/From/Body, 201 with a
Message resource). `outage(mode)` makes it refuse every message until `restore()`:
"error" answers 500 with Twilio's error document, "hang" holds the request for
`hang_s` (longer than the client's timeout) and then answers 503, "mixed" does one
or the other at random. A refused message is never recorded: during an outage
Twilio has not taken the message, so a retry is the only way it gets sent.
"""

from __future__ import annotations

import asyncio
import base64
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

from aiohttp import web


@dataclass(frozen=True, slots=True)
class Accepted:
    sid: str
    to: str
    from_: str
    body: str
    at: float  # time.monotonic()
    at_wall: float  # time.time()
    status_callback: str | None


@dataclass
class FakeTwilio:
    account_sid: str
    auth_token: str
    hang_s: float = 3.0
    rng: random.Random = field(default_factory=random.Random)
    accepted: list[Accepted] = field(default_factory=list)
    refused: Counter[str] = field(default_factory=Counter)
    mode: str = "ok"  # ok | error | hang | mixed
    port: int = 0
    _runner: web.AppRunner | None = None
    _hanging: int = 0

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def outage(self, mode: str = "mixed") -> None:
        assert mode in ("error", "hang", "mixed")
        self.mode = mode

    def restore(self) -> None:
        self.mode = "ok"

    def pairs(self) -> Counter[tuple[str, str]]:
        """How often each (to, body) was accepted."""
        return Counter((m.to, m.body) for m in self.accepted)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post(
            "/2010-04-01/Accounts/{sid}/Messages.json", self._create_message
        )
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        server = site._server
        assert server is not None and server.sockets  # type: ignore[attr-defined]
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _authorised(self, request: web.Request, sid: str) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return user == sid == self.account_sid and password == self.auth_token

    async def _create_message(self, request: web.Request) -> web.Response:
        sid = request.match_info["sid"]
        if not self._authorised(request, sid):
            return _error(401, 20003, "Authenticate")
        form = await request.post()
        to, body = str(form.get("To", "")), str(form.get("Body", ""))
        sender = str(form.get("From") or form.get("MessagingServiceSid") or "")
        if not to or not body or not sender:
            return _error(400, 21604, "A 'To', 'From' and 'Body' are required")
        mode = self.mode
        if mode == "mixed":
            mode = self.rng.choice(("error", "hang"))
        if mode == "error":
            self.refused["error"] += 1
            return _error(500, 20500, "Internal Server Error")
        if mode == "hang":
            self.refused["hang"] += 1
            self._hanging += 1
            try:
                await asyncio.sleep(self.hang_s)
            finally:
                self._hanging -= 1
            return _error(503, 20503, "Service Unavailable")
        message = Accepted(
            sid="SM" + uuid.uuid4().hex,
            to=to,
            from_=sender,
            body=body,
            at=time.monotonic(),
            at_wall=time.time(),
            status_callback=str(form.get("StatusCallback") or "") or None,
        )
        self.accepted.append(message)
        return web.json_response(
            {
                "sid": message.sid,
                "account_sid": sid,
                "to": to,
                "from": sender,
                "body": body,
                "status": "queued",
                "num_segments": "1",
                "direction": "outbound-api",
                "api_version": "2010-04-01",
            },
            status=201,
        )


def _error(status: int, code: int, message: str) -> web.Response:
    return web.json_response(
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        status=status,
    )
