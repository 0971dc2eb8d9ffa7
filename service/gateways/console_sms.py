"""SMS gateway that prints each message to a terminal (the demo default)."""

from __future__ import annotations

import sys
from typing import TextIO

from service.gateways import OutboundSms, SendResult
from service.gateways._masking import mask_phone


class ConsoleSms:
    """Prints one line per message and keeps every message in `sent`.

    Parameters
    ----------
    stream
        Where to print; `sys.stdout` as it is when the gateway is built if omitted
        (read then, not at import, so redirected or captured output is honoured).
    mask_numbers
        Print "+234803•••4567" instead of the full number, for shared screens and
        recorded demos.
    """

    name: str = "console"

    def __init__(
        self, stream: TextIO | None = None, *, mask_numbers: bool = False
    ) -> None:
        self._stream = stream if stream is not None else sys.stdout
        self._mask_numbers = mask_numbers
        self.sent: list[OutboundSms] = []

    async def send(self, msg: OutboundSms) -> SendResult:
        """Print `msg` as "SMS to <number>: <body>" and report it delivered."""
        self.sent.append(msg)
        to = mask_phone(msg.to) if self._mask_numbers else msg.to
        # One line per message keeps the demo transcript easy to scan.
        body = " / ".join(msg.body.splitlines())
        print(f"SMS to {to}: {body}", file=self._stream, flush=True)
        return SendResult(provider_id=f"console-{len(self.sent)}", status="delivered")
