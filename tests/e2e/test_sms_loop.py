"""A household texts the service over the real Twilio webhook and gets the right answer."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.builders import (
    BASE_URL,
    message_sid,
    random_phone,
    sms_form,
    twilio_signature,
)


async def test_join_pickup_cancel_round_trip(text: Any, deps: Any) -> None:
    """JOIN registers the number, PICKUP books once with a code, CANCEL cancels it."""
    phone = random_phone()
    status, reply = await text("JOIN Ada Obi, 12 Herbert Macaulay Way, Yaba", phone)
    assert status == 200 and reply and "PICKUP" in reply.upper()

    _, booked = await text("pickup", phone)
    page = await deps.views.pickups(status="open")
    assert len(page.items) == 1
    code = page.items[0]["code"]
    assert code in booked

    _, again = await text("Pick up pls!!", phone)
    assert code in again
    assert len((await deps.views.pickups(status="open")).items) == 1

    _, cancelled = await text("CANCEL", phone)
    assert code in cancelled
    assert (await deps.views.pickups(status="cancelled")).items[0]["code"] == code
    assert (await deps.views.households()).items[0]["status"] == "active"


async def test_local_and_international_forms_are_one_household(
    text: Any, deps: Any
) -> None:
    """0803... and +234803... are the same person."""
    await text("JOIN Bola, Ojuelegba bus stop", "+2348031112233")
    _, reply = await text("JOIN Bola again, Surulere", "08031112233")
    households = (await deps.views.households()).items
    assert len(households) == 1 and households[0]["phone"] == "+2348031112233"
    assert reply is not None


async def test_unregistered_number_is_told_how_to_join(text: Any, deps: Any) -> None:
    """PICKUP from an unknown number creates nothing and explains JOIN."""
    _, reply = await text("PICKUP", random_phone())
    assert reply and "JOIN" in reply.upper()
    assert (await deps.views.pickups()).items == []


async def test_not_understood_gets_menu_and_is_kept_for_review(
    text: Any, deps: Any
) -> None:
    """Gibberish gets the menu and lands in the unparsed queue."""
    phone = random_phone()
    _, reply = await text("hello how are you my friend", phone)
    assert reply and len(reply) <= 160
    unparsed = (await deps.views.unparsed_messages()).items
    assert [m["body"] for m in unparsed] == ["hello how are you my friend"]


async def test_same_message_sid_twice_gives_one_effect_same_reply(
    text: Any, deps: Any
) -> None:
    """A retried MessageSid yields the first reply and no second pickup."""
    phone = random_phone()
    await text("JOIN Chidi, 3 Adeniran Ogunsanya St", phone)
    sid = message_sid()
    first = await text("PICKUP", phone, sid)
    second = await text("PICKUP", phone, sid)
    assert first == second
    assert len((await deps.views.pickups()).items) == 1


async def test_hundred_messages_twenty_times_concurrently(text: Any, deps: Any) -> None:
    """100 distinct messages each delivered 20 times at once: exactly 100 effects."""
    phones = [random_phone() for _ in range(100)]
    sids = [message_sid() for _ in phones]
    deliveries = [
        text(f"JOIN Person {i}, Street {i} Yaba", phone, sid)
        for i, (phone, sid) in enumerate(zip(phones, sids, strict=True))
        for _ in range(20)
    ]
    results = await asyncio.gather(*deliveries)
    assert all(status == 200 for status, _ in results)
    replies_by_sid: dict[str, set[Any]] = {}
    for (_, reply), sid in zip(
        results, [s for s in sids for _ in range(20)], strict=True
    ):
        replies_by_sid.setdefault(sid, set()).add(reply)
    assert all(len(replies) == 1 for replies in replies_by_sid.values())
    assert len((await deps.views.households(limit=1000)).items) == 100
    counts = await deps.views.counts()
    assert counts["messages_in"] == 100


@pytest.mark.parametrize(
    "tamper",
    ["url", "param", "token", "missing"],
)
async def test_bad_signature_is_refused_without_state_change(
    client: Any, deps: Any, tamper: str
) -> None:
    """Any change to URL, parameter or token -> 403, and nothing is stored."""
    path = "/webhooks/twilio/sms"
    form = sms_form("JOIN Eve, Yaba", random_phone())
    url, token = BASE_URL + path, "test-auth-token-0123456789abcdef"
    if tamper == "url":
        url = url.replace("https", "http")
    if tamper == "token":
        token = token[:-1] + "0"
    headers = {"X-Twilio-Signature": twilio_signature(url, form, token)}
    if tamper == "param":
        form["Body"] = "JOIN Mallory, Yaba"
    if tamper == "missing":
        headers = {}
    resp = await client.post(path, data=form, headers=headers)
    assert resp.status == 403
    assert (await deps.views.counts())["messages_in"] == 0


async def test_malformed_body_is_400(client: Any) -> None:
    """A signed request without MessageSid is a 400, not a 500."""
    path = "/webhooks/twilio/sms"
    form = {"From": "+2348030000001", "Body": "PICKUP"}
    headers = {"X-Twilio-Signature": twilio_signature(BASE_URL + path, form)}
    resp = await client.post(path, data=form, headers=headers)
    assert resp.status == 400
    resp = await client.post(
        path, data=b"\xff\xfe", headers={"Content-Type": "text/plain"}
    )
    assert resp.status == 400
