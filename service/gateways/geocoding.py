"""Geocoding port and a geopy-backed adapter (addresses to coordinates)."""

from __future__ import annotations

import logging
from typing import Any, Protocol

log = logging.getLogger(__name__)


class Geocoder(Protocol):
    """Turns an address into (lat, lon), or None when nothing credible is found."""

    name: str

    async def geocode(self, query: str) -> tuple[float, float] | None: ...


class NoGeocoder:
    """Geocoding switched off: only plus codes and GPS pins locate households."""

    name = "none"

    async def geocode(self, query: str) -> tuple[float, float] | None:
        return None


class GeopyGeocoder:
    """Any geopy geocoder by name (nominatim, photon, ...), through its aiohttp adapter.

    Results are limited to a bounding box around the service area so a Lagos street
    name never lands on its namesake in another country.
    """

    def __init__(
        self,
        service: str,
        *,
        user_agent: str,
        bounds: tuple[tuple[float, float], tuple[float, float]] = (
            (6.35, 2.70),
            (6.75, 4.35),
        ),
        timeout_s: float = 10.0,
        **options: Any,
    ) -> None:
        from geopy.adapters import AioHTTPAdapter
        from geopy.geocoders import get_geocoder_for_service

        self.name = service
        self.bounds = bounds
        cls = get_geocoder_for_service(service)
        self._geocoder = cls(
            user_agent=user_agent,
            adapter_factory=AioHTTPAdapter,
            timeout=timeout_s,
            **options,
        )

    async def geocode(self, query: str) -> tuple[float, float] | None:
        from geopy.exc import GeopyError

        try:
            async with self._geocoder:
                found = await self._geocoder.geocode(query, exactly_one=True)
        except GeopyError as exc:
            log.warning("geocoder %s failed: %s", self.name, type(exc).__name__)
            raise
        if found is None:
            return None
        lat, lon = float(found.latitude), float(found.longitude)
        (south, west), (north, east) = self.bounds
        if not (south <= lat <= north and west <= lon <= east):
            return None
        return lat, lon
