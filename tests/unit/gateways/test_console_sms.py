"""Tests for the console SMS gateway and the phone-number masking it shares."""

from __future__ import annotations

import io

import pytest

from service.gateways import OutboundSms, SendResult, SmsGateway
from service.gateways._masking import mask_phone, redact
from service.gateways.console_sms import ConsoleSms

NUMBER = "+2348031234567"


def make_sms(body: str = "Pickup booked Tue 9-11am, code K7Q2") -> OutboundSms:
    """An outbound SMS to a Lagos number."""
    return OutboundSms(to=NUMBER, body=body, key="outbox-1")


async def test_prints_full_number_and_body_by_default() -> None:
    """Without masking, the operator's terminal shows the full number and the body."""
    out = io.StringIO()
    gateway = ConsoleSms(out)

    await gateway.send(make_sms())

    assert out.getvalue() == f"SMS to {NUMBER}: Pickup booked Tue 9-11am, code K7Q2\n"


async def test_masks_number_when_asked() -> None:
    """With mask_numbers, the printed line hides the middle digits of the number."""
    out = io.StringIO()
    gateway = ConsoleSms(out, mask_numbers=True)

    await gateway.send(make_sms("Hello"))

    assert out.getvalue() == "SMS to +234803•••4567: Hello\n"
    assert NUMBER not in out.getvalue()


async def test_records_each_message_and_numbers_results() -> None:
    """Each message is kept in `sent` and gets the next console-<n> id, delivered."""
    gateway = ConsoleSms(io.StringIO())
    first, second = make_sms("one"), make_sms("two")

    results = [await gateway.send(first), await gateway.send(second)]

    assert gateway.sent == [first, second]
    assert results == [
        SendResult(provider_id="console-1", status="delivered"),
        SendResult(provider_id="console-2", status="delivered"),
    ]


async def test_multiline_body_prints_on_one_line() -> None:
    """A body with line breaks still prints as one line per message."""
    out = io.StringIO()

    await ConsoleSms(out).send(make_sms("Balance: N500\nReply HELP for menu"))

    assert out.getvalue() == f"SMS to {NUMBER}: Balance: N500 / Reply HELP for menu\n"


async def test_default_stream_is_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    """Without a stream, lines go to the standard output in use when it was built."""
    gateway: SmsGateway = ConsoleSms()

    await gateway.send(make_sms("Hi"))

    assert capsys.readouterr().out == f"SMS to {NUMBER}: Hi\n"
    assert gateway.name == "console"


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("+2348031234567", "+234803•••4567"),
        ("+447911123456", "+44791•••3456"),
        ("2348031234567", "234803•••4567"),
        ("12345", "1•••5"),
        ("", "•••"),
        ("whatsapp:+2348031234567", "•••"),
    ],
)
def test_mask_phone_hides_the_middle_digits(number: str, masked: str) -> None:
    """mask_phone keeps a short prefix and suffix and always hides some digits."""
    assert mask_phone(number) == masked


def test_redact_masks_numbers_and_removes_secrets() -> None:
    """redact masks phone-like digit runs and removes given secrets, keeping codes."""
    text = "Error 21211: The 'To' number +2348031234567 is invalid (token s3cr3t)"

    assert redact(text, "s3cr3t") == (
        "Error 21211: The 'To' number +234803•••4567 is invalid (token [redacted])"
    )
