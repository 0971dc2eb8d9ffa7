"""A small reverse proxy on loopback: the "public" address in front of the replicas.

Providers (the sandbox's callbacks, Twilio's status callbacks) post to
RECOOP_PUBLIC_BASE_URL; in production a load balancer spreads them over the web
replicas. This one forwards each request to a random live replica and tries
another when the first cannot be reached.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

_HOP = {"host", "content-length", "transfer-encoding", "connection"}


@dataclass
class Proxy:
    backends: Callable[[], Sequence[str]]  # live base URLs, asked on each request
    rng: random.Random = field(default_factory=random.Random)
    port: int = 0
    forwarded: Counter[int] = field(default_factory=Counter)  # by upstream status
    _runner: web.AppRunner | None = None
    _session: aiohttp.ClientSession | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._session = aiohttp.ClientSession()
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _forward(self, request: web.Request) -> web.Response:
        assert self._session is not None
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        backends = list(self.backends())
        self.rng.shuffle(backends)
        for base in backends:
            try:
                async with self._session.request(
                    request.method,
                    base + request.rel_url.path_qs,
                    data=body,
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=20),
                ) as resp:
                    payload = await resp.read()
                    self.forwarded[resp.status] += 1
                    return web.Response(
                        status=resp.status,
                        body=payload,
                        content_type=resp.content_type,
                    )
            except (TimeoutError, aiohttp.ClientConnectionError):
                continue
        self.forwarded[502] += 1
        return web.Response(status=502, text="no replica answered")
