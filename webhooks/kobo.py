"""POST /webhooks/kobo/collections: KoboToolbox REST Services submissions become weighings."""

from __future__ import annotations

import base64
import binascii
import hmac
import json

from aiohttp import web

from service.app_keys import DEPS
from service.domain.commands import LogWeights
from service.domain.errors import InvalidInput, NotFound
from service.kobo import KoboPayloadError, parse_submission
from service.ledger.postings import IdempotencyConflict
from service.money import AlreadyCollected
from webhooks.responses import json_error


def _authorised(request: web.Request) -> bool:
    settings = request.app[DEPS].settings
    user, password = settings.kobo_username, settings.kobo_password.get_secret_value()
    if not user or not password:
        return False
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        given = base64.b64decode(encoded, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return False
    return hmac.compare_digest(given.encode(), f"{user}:{password}".encode())


async def kobo_collection(request: web.Request) -> web.Response:
    """One Kobo submission; Kobo's retries (same instance id) give one weighing."""
    if not _authorised(request):
        return json_error(
            401, "unauthorized", "basic auth with RECOOP_KOBO_USERNAME/PASSWORD"
        )
    try:
        payload = json.loads(await request.read())
        weighing = parse_submission(payload)
    except (ValueError, KoboPayloadError) as exc:
        return json_error(400, "invalid_submission", str(exc)[:300])
    command = LogWeights(
        pickup_code=weighing.pickup_code,
        items=weighing.items,
        collected_at=weighing.collected_at,
        idempotency_key=weighing.instance_id,
        scope="kobo",
        source="kobo",
        collector="kobo",
        lat=weighing.lat,
        lon=weighing.lon,
    )
    try:
        answer = await request.app[DEPS].bus.handle(command)
    except (NotFound, InvalidInput) as exc:
        # 4xx so Kobo stops retrying: retrying will not make the code exist.
        return json_error(422, "rejected", str(exc))
    except (AlreadyCollected, IdempotencyConflict) as exc:
        return json_error(409, "conflict", str(exc))
    return web.json_response(answer.body, status=answer.status_code)
