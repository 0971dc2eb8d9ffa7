"""Typed keys for state stored on the aiohttp application."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from service.auth import Session
    from service.bootstrap import Deps

DEPS: web.AppKey[Deps] = web.AppKey("deps")
# Per request: the signed-in browser session, and who to write in the audit log.
SESSION: web.RequestKey[Session | None] = web.RequestKey("session")
ACTOR: web.RequestKey[str] = web.RequestKey("actor", str)
AUDIT_DETAIL: web.RequestKey[str] = web.RequestKey("audit_detail", str)
