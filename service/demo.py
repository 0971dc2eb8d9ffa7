"""`recoop demo`: a simulated morning in Yaba, Lagos, through the real app over real HTTP."""

from __future__ import annotations

import asyncio
import random
import secrets
import socket
import sys
from dataclasses import dataclass
from datetime import timedelta
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
RATES = {"PET": 5000, "ALU": 12000, "HDPE": 4000, "SACHET": 3000, "GLASS": 1000}
COLLECTOR = "+2348091110001"
SHOP = "+2348092220002"
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
            s.bind(("127.0.0.1", preferred))  # 0 asks the OS for any free port
            return int(s.getsockname()[1])
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


async def money_day(
    base: str,
    settings: Settings,
    deps: Any,
    people: list[DemoHousehold],
    rng: random.Random,
    out: Any,
) -> dict[str, Any]:
    """Weigh every open pickup, redeem some credit, reconcile: all over HTTP."""
    async with aiohttp.ClientSession() as session:
        texter = Texter(session, base, settings)
        ops = {
            "Authorization": f"Bearer {await deps.bus.handle(CreateApiToken('operator', 'demo'))}"
        }
        bike = {
            "Authorization": f"Bearer {await deps.bus.handle(CreateApiToken('collector', 'bike-1'))}"
        }

        async def api(
            method: str, path: str, headers: dict[str, str], **kw: Any
        ) -> Any:
            async with session.request(
                method, base + path, headers=headers, **kw
            ) as resp:
                if "json" in resp.content_type:
                    return resp.status, await resp.json()
                return resp.status, await resp.text()

        print("\n-- The operator sets rates (PUT /api/v1/rates) --", file=out)
        start = deps.clock.today().replace(day=1).isoformat()
        for material, rate in RATES.items():
            await api(
                "PUT",
                "/api/v1/rates",
                ops,
                json={
                    "material": material,
                    "kobo_per_kg": rate,
                    "effective_from": start,
                },
            )
            print(f"  {material:<6} N{rate / 100:,.0f}/kg from {start}", file=out)
        _, musa = await api(
            "POST",
            "/api/v1/collectors",
            ops,
            json={"name": "Musa (bike 1)", "phone": COLLECTOR},
        )
        await api(
            "POST",
            "/api/v1/shops",
            ops,
            json={"name": "Mama Ngozi Provisions", "phone": SHOP},
        )

        print("\n-- Rounds for today: a hub at Yaba, two cargo bikes --", file=out)
        _, hub = await api(
            "POST",
            "/api/v1/hubs",
            ops,
            json={"name": "Yaba hub", "lat": 6.5095, "lon": 3.3711},
        )
        for name, collector in (("bike 1", musa["id"]), ("bike 2", None)):
            await api(
                "POST",
                "/api/v1/bikes",
                ops,
                json={
                    "name": name,
                    "hub_id": hub["id"],
                    "capacity_kg": 60,
                    "shift_start": "08:00",
                    "shift_end": "16:00",
                    "collector_id": collector,
                },
            )
        today = deps.clock.today().isoformat()
        _, summary = await api(
            "POST", "/api/v1/plan", ops, json={"day": today, "seconds": 3}
        )
        _, rounds = await api("GET", f"/api/v1/rounds?day={today}", ops)
        for r in rounds["items"]:
            print(
                f"  {r['bike']}: {r['stops']} stops in {r['trips']} trip(s), "
                f"{r['distance_m'] / 1000:.1f} km, {r['start']}-{r['end']}, "
                f"first stops {', '.join(v['code'] + ' ' + v['window'] for v in r['visits'][:2])}",
                file=out,
            )
        print(
            f"  scheduled {summary['scheduled']}, left for another day "
            f"{len(summary['unplanned'])}; each household got its day, window and code",
            file=out,
        )

        print(
            "\n-- The collectors weigh each stop in round order (POST /api/v1/collections) --",
            file=out,
        )
        pickups = [v for r in rounds["items"] for v in r["visits"]]
        _, page = await api("GET", "/api/v1/pickups?status=open&limit=1000", ops)
        pickups += page["items"]  # any not planned today are weighed too (walk-ins)
        for i, p in enumerate(pickups):
            items = [
                {"material": m, "kg": round(rng.uniform(0.3, 6.0), 1)}
                for m in rng.sample(list(RATES), k=rng.randint(1, 3))
            ]
            if i == 0:  # the collector's phone has no data: the SMS fallback
                body = f"LOG {p['code']} " + " ".join(
                    f"{x['material']} {x['kg']}" for x in items
                )
                _say("collector", body, await texter.twilio(COLLECTOR, body), out)
                continue
            weighing = {
                "pickup_code": p["code"],
                "items": items,
                "collected_at": deps.clock.now().isoformat(),
                "idempotency_key": f"demo-{p['code']}",
            }
            status, answer = await api(
                "POST", "/api/v1/collections", bike, json=weighing
            )
            if i == 1:  # a flaky network: the phone sends the same weighing again
                again = await api("POST", "/api/v1/collections", bike, json=weighing)
                print(f"  {p['code']}: {items} -> {status} {answer}", file=out)
                print(
                    f"  (retried with the same key -> {again[0]}, same answer: {again[1] == answer})",
                    file=out,
                )
        print(
            f"  ... {len(pickups)} stops weighed; each household got a receipt SMS",
            file=out,
        )

        print("\n-- Households spend their credit --", file=out)
        _, done = await api("GET", "/api/v1/pickups?status=done&limit=1000", ops)
        by_phone = {p["phone"]: p for p in done["items"]}
        spenders = [h for h in people if h.phone in by_phone]
        for i, h in enumerate(spenders[:12]):
            body = ["AIRTIME 100", "CASHOUT 150", "airtime N50", "BAL"][i % 4]
            reply = await texter.twilio(h.phone, body)
            if i < 5:
                _say(mask(h.phone), body, reply, out)
        h = spenders[-1]
        reply = await texter.twilio(h.phone, "VOUCHER 100")
        _say(mask(h.phone), "VOUCHER 100", reply, out)
        if reply and "Voucher " in reply:
            code = reply.split("Voucher ")[1].split(":")[0]
            _say(
                "shop", f"CLAIM {code}", await texter.twilio(SHOP, f"CLAIM {code}"), out
            )
        _say(
            mask(h.phone),
            "AIRTIME 900000",
            await texter.twilio(h.phone, "AIRTIME 900000"),
            out,
        )

        print(
            "\n-- The sandbox provider settles (10% fail, 10% of callbacks lost) --",
            file=out,
        )
        for _ in range(120):
            summary = await deps.money.money_summary()
            if summary["payouts_held"] + summary["payouts_submitted"] == 0:
                break
            await asyncio.sleep(0.5)
        print(
            f"  succeeded {summary['payouts_succeeded']}, failed {summary['payouts_failed']} "
            f"(money back at once), still open {summary['payouts_held'] + summary['payouts_submitted']}",
            file=out,
        )

        print("\n-- Reconcile against the provider's statement --", file=out)
        _, statement = await api("GET", "/api/v1/sandbox/statement.csv", ops)
        _, report = await api(
            "POST", "/api/v1/reconcile?provider=sandbox", ops, data=statement
        )
        differences = sum(len(v) for k, v in report.items() if isinstance(v, list))
        print(
            f"  statement rows matched: {report['matched']}, differences: {differences}",
            file=out,
        )
        _, trial = await api("GET", "/api/v1/ledger/trial-balance", ops)
        return {"summary": summary, "trial": trial, "report": report}


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
        sandbox_max_settle_s=3.0,
        min_redemption_kobo=5000,
    )
    await ensure_schema(settings)
    deps = build(settings, sms=ConsoleSms(stream=open(out_dir / "sms.log", "w")))  # noqa: SIM115
    deps.payout_dispatcher.first_poll_after = timedelta(seconds=2)
    app = create_app(deps)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    rng = random.Random(seed)
    try:
        print(f"Recoop demo: {households} households around Yaba, Lagos; app at {base}")
        people = neighbourhood(households, rng)
        sent = await simulate(base, settings, people, rng, sys.stdout)
        money = await money_day(base, settings, deps, people, rng, sys.stdout)
        counts = await deps.views.counts()
        token = await deps.bus.handle(CreateApiToken("operator", "demo"))
        print("\n== Summary ==")
        print(
            f"  SMS received:        {sent} in the morning; {counts['messages_in']} in all"
        )
        print(f"  households joined:   {counts['households']}")
        print(f"  pickups open:        {counts['pickups_open']}")
        print(f"  pickups cancelled:   {counts['pickups_cancelled']}")
        print(f"  kept for review:     {counts['messages_unparsed']} not understood")
        print(f"  outbox SMS sent:     {counts['messages_out_sent']}")
        m = money["summary"]
        print(
            f"  weighed:             {m['weighings']} stops, {m['kg_grams'] / 1000:,.1f} kg"
        )
        print(f"  credited:            N{m['credited_kobo'] / 100:,.2f}")
        print(
            f"  paid out:            N{m['paid_kobo'] / 100:,.2f} in {m['payouts_succeeded']} payouts"
            f" ({m['payouts_failed']} failed and refunded)"
        )
        print(
            "  ledger by type:      "
            + ", ".join(
                f"{k} {v / 100:,.2f}"
                for k, v in sorted(money["trial"]["by_type"].items())
            )
        )
        print(f"  trial balance total: {money['trial']['total_kobo']} (must be 0)")
        print(f"\n  dashboard/API:  {base}/api/v1/pickups?status=open")
        print(f"  operator token: {token}")
        print(f"  try: curl -H 'Authorization: Bearer {token}' {base}/api/v1/pickups")
        print(
            f"  health: {base}/healthz   metrics: {base}/metrics   database: {db_path}"
        )
        password = secrets.token_urlsafe(12)
        await deps.auth.create_operator("demo", password)
        code = await deps.auth.issue_code(COLLECTOR, ttl=timedelta(hours=24))
        print("\n== Pages ==")
        print(f"  operator dashboard: {base}/ops   (sign in: demo / {password})")
        print(
            f"  collector's round:  {base}/collector/login?phone="
            f"{COLLECTOR.replace('+', '%2B')}&code={code}   (Musa, bike 1; "
            "the code works once, for 24 h)"
        )
        print(
            f"  public impact page: {base}/impact  (open data: {base}/impact.csv, .json)"
        )
        if serve:
            print("\nServing; press Ctrl-C to stop.")
            await asyncio.Event().wait()
    finally:
        await runner.cleanup()
    return 0
