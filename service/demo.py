"""`recoop demo`: a simulated morning in Yaba, Lagos, through the real app over real HTTP."""

from __future__ import annotations

import asyncio
import random
import secrets
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from service.domain.commands import CreateApiToken
from service.domain.pluscodes import encode as plus_code
from service.phones import mask
from service.settings import Settings

# Real places in and around Yaba, Lagos Mainland (lat, lon).
LANDMARKS: list[tuple[str, float, float]] = [
    ("Tejuosho Market", 6.5063, 3.3726),
    ("Yaba College of Technology", 6.5183, 3.3739),
    ("Sabo Market, Yaba", 6.5078, 3.3782),
    ("Herbert Macaulay Way by E-Centre", 6.5037, 3.3777),
    ("UNILAG Main Gate, Akoka", 6.5155, 3.3895),
    ("Onike Roundabout", 6.5108, 3.3852),
    ("Iwaya Road", 6.5127, 3.3953),
    ("Jibowu Bus Stop", 6.5247, 3.3688),
    ("Alagomeji, Herbert Macaulay", 6.4936, 3.3818),
    ("Adekunle Fajuyi Street, Ebute Metta", 6.4912, 3.3864),
    ("Oyingbo Market", 6.4794, 3.3834),
    ("Fadeyi Bus Stop", 6.5281, 3.3701),
]
FIRST = [
    "Ada",
    "Bola",
    "Chidi",
    "Damilola",
    "Emeka",
    "Funke",
    "Gbenga",
    "Halima",
    "Ifeoma",
    "Jide",
    "Kemi",
    "Lola",
    "Musa",
    "Ngozi",
    "Obinna",
    "Segun",
    "Tunde",
    "Uche",
    "Yemi",
    "Zainab",
    "Aisha",
    "Bisi",
    "Nneka",
    "Sade",
    "Kunle",
    "Amaka",
    "Ibrahim",
    "Tola",
]
LAST = [
    "Adeyemi",
    "Okafor",
    "Bello",
    "Eze",
    "Balogun",
    "Nwosu",
    "Ogunleye",
    "Abubakar",
    "Okonkwo",
    "Adebayo",
    "Olawale",
    "Chukwu",
    "Danjuma",
    "Afolabi",
]
PICKUP_TEXTS = [
    "PICKUP",
    "pickup pls",
    "Pls come carry my bottles",
    "pikup",
    "e wa gbe",
    "una fit come carry am?",
    "PICK UP",
]


@dataclass(frozen=True, slots=True)
class DemoHousehold:
    name: str
    phone: str
    landmark: str
    lat: float
    lon: float


def neighbourhood(n: int, rng: random.Random) -> list[DemoHousehold]:
    """`n` households scattered within ~300 m of real Yaba landmarks."""
    people = []
    for i in range(n):
        place, lat, lon = LANDMARKS[i % len(LANDMARKS)]
        lat += rng.uniform(-0.0027, 0.0027)
        lon += rng.uniform(-0.0027, 0.0027)
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        people.append(DemoHousehold(name, f"+23480{35000000 + i:08d}", place, lat, lon))
    return people


def _free_port(preferred: int) -> int:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])


class Texter:
    """Sends SMS to the running app exactly as Twilio and Africa's Talking would."""

    def __init__(
        self, session: aiohttp.ClientSession, base: str, settings: Settings
    ) -> None:
        self.session, self.base, self.settings = session, base, settings
        from twilio.request_validator import RequestValidator

        self.signer = RequestValidator(settings.twilio_auth_token.get_secret_value())
        self.count = 0

    async def twilio(self, phone: str, body: str, sid: str | None = None) -> str | None:
        self.count += 1
        sid = sid or f"SM{secrets.token_hex(16)}"
        form = {
            "MessageSid": sid,
            "AccountSid": "AC" + "0" * 32,
            "From": phone,
            "To": "+2349010000000",
            "Body": body,
            "NumMedia": "0",
            "NumSegments": "1",
        }
        path = "/webhooks/twilio/sms"
        signature = self.signer.compute_signature(
            self.settings.public_base_url + path, form
        )
        async with self.session.post(
            self.base + path, data=form, headers={"X-Twilio-Signature": signature}
        ) as resp:
            xml = await resp.text()
            resp.raise_for_status()
        from xml.etree import ElementTree

        node = ElementTree.fromstring(xml).find("Message")
        return node.text if node is not None else None

    async def africastalking(self, phone: str, body: str) -> None:
        self.count += 1
        token = self.settings.africastalking_webhook_token.get_secret_value()
        form = {
            "from": phone,
            "to": "32123",
            "text": body,
            "id": secrets.token_hex(8),
            "linkId": "",
            "date": "2026-11-23 08:00:00",
        }
        async with self.session.post(
            f"{self.base}/webhooks/africastalking/sms?token={token}", data=form
        ) as resp:
            resp.raise_for_status()


def _say(who: str, text: str, reply: str | None, out: Any) -> None:
    print(f"  {who} > {text}", file=out)
    if reply:
        print(f"  {' ' * len(who)} < {reply}", file=out)


async def simulate(
    base: str,
    settings: Settings,
    people: list[DemoHousehold],
    rng: random.Random,
    out: Any,
) -> int:
    """Drive a morning of texts; returns how many SMS were sent in."""
    async with aiohttp.ClientSession() as session:
        texter = Texter(session, base, settings)
        print("\n-- Households join (signed Twilio webhooks over HTTP) --", file=out)
        for i, p in enumerate(people):
            body = f"JOIN {p.name}, {p.landmark} {plus_code(p.lat, p.lon)}"
            reply = await texter.twilio(p.phone, body)
            if i < 4:
                _say(mask(p.phone), body, reply, out)
        print(f"  ... {len(people)} households joined", file=out)

        print("\n-- Some choose their language --", file=out)
        for p, lang in zip(
            people[1:4], ["LANG PCM", "LANG YO", "lang hausa"], strict=False
        ):
            _say(mask(p.phone), lang, await texter.twilio(p.phone, lang), out)

        print("\n-- Pickup requests, as people really type them --", file=out)
        requesting = [p for p in people if rng.random() < 0.85]
        for i, p in enumerate(requesting):
            body = PICKUP_TEXTS[i % len(PICKUP_TEXTS)]
            reply = await texter.twilio(p.phone, body)
            if i < 6:
                _say(mask(p.phone), body, reply, out)

        print(
            "\n-- Twilio retries a webhook: same MessageSid, same answer, one effect --",
            file=out,
        )
        p = requesting[0]
        sid = f"SM{secrets.token_hex(16)}"
        first = await texter.twilio(p.phone, "PICKUP", sid)
        second = await texter.twilio(p.phone, "PICKUP", sid)
        _say(mask(p.phone), "PICKUP (delivered twice)", first, out)
        print(f"  replies identical: {first == second}", file=out)

        print(
            "\n-- A few change their minds, check balance, or write freely --", file=out
        )
        for p in requesting[-3:]:
            _say(mask(p.phone), "cancel", await texter.twilio(p.phone, "cancel"), out)
        p = people[0]
        _say(mask(p.phone), "BAL", await texter.twilio(p.phone, "BAL"), out)
        body = "Good morning, my bin don full since Friday"
        _say(mask(p.phone), body, await texter.twilio(p.phone, body), out)

        print(
            "\n-- Through Africa's Talking (replies leave via the outbox) --", file=out
        )
        extra = neighbourhood(len(people) + 3, rng)[len(people) :]
        for q in extra:
            body = f"JOIN {q.name}, {q.landmark}"
            await texter.africastalking(q.phone, body)
            print(f"  {mask(q.phone)} > {body}", file=out)
        await asyncio.sleep(1.5)  # the dispatcher sends the replies meanwhile
        return texter.count


def run_demo(
    *,
    households: int = 40,
    serve: bool = True,
    out: str = "demo-out",
    port: int = 8080,
    seed: int = 7,
) -> int:
    """Run the simulated day; print a summary; serve until Ctrl-C unless serve=False."""
    return asyncio.run(_run(households, serve, Path(out), port, seed))


async def _run(
    households: int, serve: bool, out_dir: Path, port: int, seed: int
) -> int:
    from service.app import create_app
    from service.bootstrap import build
    from service.cli import ensure_schema
    from service.gateways.console_sms import ConsoleSms

    out_dir.mkdir(parents=True, exist_ok=True)
    db_path = out_dir / "recoop-demo.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    port = _free_port(port)
    base = f"http://127.0.0.1:{port}"
    settings = Settings.from_env(
        {},
        database_url=f"sqlite+aiosqlite:///{db_path}",
        public_base_url=base,
        twilio_auth_token=secrets.token_hex(16),
        africastalking_webhook_token=secrets.token_hex(8),
        dispatcher_interval_s=0.2,
    )
    await ensure_schema(settings)
    deps = build(settings, sms=ConsoleSms(stream=sys.stdout))
    app = create_app(deps)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    rng = random.Random(seed)
    try:
        print(f"Recoop demo: {households} households around Yaba, Lagos; app at {base}")
        sent = await simulate(
            base, settings, neighbourhood(households, rng), rng, sys.stdout
        )
        counts = await deps.views.counts()
        token = await deps.bus.handle(CreateApiToken("operator", "demo"))
        print("\n== Summary ==")
        print(
            f"  SMS received:        {sent} (stored once each: {counts['messages_in']})"
        )
        print(f"  households joined:   {counts['households']}")
        print(f"  pickups open:        {counts['pickups_open']}")
        print(f"  pickups cancelled:   {counts['pickups_cancelled']}")
        print(f"  kept for review:     {counts['messages_unparsed']} not understood")
        print(f"  outbox SMS sent:     {counts['messages_out_sent']}")
        print(f"\n  dashboard/API:  {base}/api/v1/pickups?status=open")
        print(f"  operator token: {token}")
        print(f"  try: curl -H 'Authorization: Bearer {token}' {base}/api/v1/pickups")
        print(
            f"  health: {base}/healthz   metrics: {base}/metrics   database: {db_path}"
        )
        if serve:
            print("\nServing; press Ctrl-C to stop.")
            await asyncio.Event().wait()
    finally:
        await runner.cleanup()
    return 0
