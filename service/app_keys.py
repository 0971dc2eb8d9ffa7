"""Typed keys for state stored on the aiohttp application."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from service.bootstrap import Deps

DEPS: web.AppKey[Deps] = web.AppKey("deps")
