"""Shared bits for the browser pages: the Jinja environment, rendering, static files.

Templates live in service/templates/<area>/ and are autoescaped. Static files are in
service/static/: each area's own CSS and JS next to `vendor/`, which `make assets`
fills from the npm registry (Leaflet, uPlot, axe-core) and git ignores.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from service.app_keys import DEPS, SESSION

SERVICE = Path(__file__).resolve().parent.parent / "service"
STATIC = SERVICE / "static"
TEMPLATES = SERVICE / "templates"

env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=jinja2.select_autoescape(default=True),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render(
    request: web.Request, template: str, *, status: int = 200, **context: Any
) -> web.Response:
    """Render `template` with the signed-in session (if any) and its CSRF token."""
    session = request.get(SESSION)
    context.setdefault("session", session)
    context.setdefault("csrf", session.csrf if session is not None else "")
    context.setdefault("tile_url", request.app[DEPS].settings.map_tile_url)
    html = env.get_template(template).render(**context)
    response = web.Response(text=html, status=status, content_type="text/html")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def setup_static(app: web.Application) -> None:
    """Serve service/static under /static/ (no CDN at run time)."""
    STATIC.mkdir(exist_ok=True)
    app.router.add_static("/static/", STATIC, append_version=False)
