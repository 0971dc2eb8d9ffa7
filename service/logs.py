"""Logging set-up with a filter that masks phone numbers and secrets."""

from __future__ import annotations

import logging
import re

_PHONE = re.compile(r"\+?\b\d{10,15}\b")
_BEARER = re.compile(r"(?i)(bearer\s+|token[=:]\s*)[A-Za-z0-9._~+/-]{8,}")


def scrub(text: str) -> str:
    """Mask anything in `text` that looks like a phone number or a bearer token."""
    text = _PHONE.sub(lambda m: m.group(0)[:7] + "•••" + m.group(0)[-2:], text)
    return _BEARER.sub(lambda m: m.group(1) + "***", text)


class ScrubFilter(logging.Filter):
    """Rewrites each record's message so no full number or token reaches a log."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def setup_logging(level: str = "INFO") -> None:
    """Log to stderr, one line per event, scrubbed."""
    handler = logging.StreamHandler()
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    handler.addFilter(ScrubFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiohttp.access", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
