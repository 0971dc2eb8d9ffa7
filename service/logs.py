"""Logging set-up with a filter that masks phone numbers and secrets."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import secrets
import traceback
from datetime import UTC, datetime

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


# The id of the request being handled (or of the request that queued the SMS being
# sent): set by the HTTP middleware and by the dispatcher, read by every log line.
request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def new_request_id(offered: str | None = None) -> str:
    """A caller's X-Request-Id when it is sane, otherwise a fresh one."""
    if offered and _REQUEST_ID.match(offered):
        return offered[:32]
    return secrets.token_hex(8)


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, error."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        rid = getattr(record, "request_id", None)
        if rid:
            entry["request_id"] = rid
        if record.exc_info:
            text = "".join(traceback.format_exception(*record.exc_info))
            entry["error"] = scrub(text)
        return json.dumps(entry, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        rid = getattr(record, "request_id", None)
        return f"{line} [req {rid}]" if rid else line


def setup_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Log to stderr, one line per event (text or JSON), scrubbed, with request ids."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(ScrubFilter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Per-request access lines, migrations' chatter, and APScheduler's two lines
    # per run of each 5-second job (a job that fails is still logged, as an error).
    for noisy in ("aiohttp.access", "alembic", "apscheduler.executors"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
