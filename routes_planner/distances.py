"""Distance and travel-time tables: great-circle, or a road engine's table service."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import httpx
import numpy as np
from numpy.typing import ArrayLike, NDArray

LatLon = tuple[float, float]
IntMatrix = NDArray[np.int64]

_WGS84_A = 6_378_137.0  # equatorial radius, metres
_WGS84_E2 = 6.694379990141e-3  # first eccentricity squared
# Stands in for "no road between these points": large, yet far below PyVRP's
# overflow guard, so the solver simply never uses such an edge.
UNREACHABLE = 1_000_000_000


@dataclass(frozen=True, slots=True)
class Table:
    """Square matrices between the same points: metres and whole seconds."""

    distance_m: IntMatrix
    duration_s: IntMatrix


@runtime_checkable
class DistanceSource(Protocol):
    """Anything that gives distances and travel times between points."""

    def table(self, points: Sequence[LatLon], speed_kmh: float) -> Table:
        """Return the table between ``points`` (lat, lon) for a vehicle speed."""
        ...


def haversine_m(
    lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike, lon2: ArrayLike
) -> NDArray[np.float64]:
    """Great-circle distance in metres, element-wise with numpy broadcasting.

    The sphere's radius is the ellipsoid's Gaussian radius at the points' mean
    latitude, so results stay within about 0.35% of WGS84 geodesic distances.

    Parameters
    ----------
    lat1, lon1, lat2, lon2
        Coordinates in degrees; any shapes that broadcast together.

    Returns
    -------
    numpy.ndarray
        Distances in metres, of the broadcast shape.
    """
    p1 = np.radians(np.asarray(lat1, dtype=np.float64))
    p2 = np.radians(np.asarray(lat2, dtype=np.float64))
    dp = p2 - p1
    dl = np.radians(np.asarray(lon2, dtype=np.float64) - np.asarray(lon1, np.float64))
    h = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    # The sphere that best fits the WGS84 ellipsoid where the points are (its
    # Gaussian radius at their mean latitude) keeps city distances within
    # about 0.35% of the geodesic; one global radius errs by up to 0.5% near
    # the equator.
    sin_mid = np.sin((p1 + p2) / 2)
    radius = _WGS84_A * math.sqrt(1 - _WGS84_E2) / (1 - _WGS84_E2 * sin_mid**2)
    result: NDArray[np.float64] = 2 * radius * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
    return result


def travel_seconds(distance_m: NDArray[Any], speed_kmh: float) -> IntMatrix:
    """Whole seconds to ride each distance at a speed, rounded up."""
    seconds = np.ceil(np.asarray(distance_m, dtype=np.float64) * 3.6 / speed_kmh)
    return seconds.astype(np.int64)


@dataclass(frozen=True, slots=True)
class GreatCircle:
    """Great-circle distances, times a detour factor for the road network's bends.

    Parameters
    ----------
    detour_factor
        Road distance over straight-line distance; ``1.0`` (default) is the
        plain great-circle metric, about ``1.3`` is typical of city streets.
    """

    detour_factor: float = 1.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.detour_factor) and self.detour_factor >= 1.0):
            raise ValueError("detour_factor must be >= 1")

    def table(self, points: Sequence[LatLon], speed_kmh: float) -> Table:
        """Return the table between ``points``; durations at ``speed_kmh``.

        Parameters
        ----------
        points
            ``(lat, lon)`` pairs in degrees.
        speed_kmh
            Riding speed used to turn distance into time.

        Returns
        -------
        Table
            ``n x n`` integer matrices of metres and seconds.
        """
        coords = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        lat, lon = coords[:, 0], coords[:, 1]
        metres = haversine_m(lat[:, None], lon[:, None], lat[None, :], lon[None, :])
        metres *= self.detour_factor
        distance = np.rint(metres).astype(np.int64)
        return Table(distance, travel_seconds(metres, speed_kmh))


@dataclass(frozen=True, slots=True)
class PrecomputedTable:
    """A table fetched ahead of time, served for any subset of its points.

    Async code awaits :meth:`OsrmTable.atable` once and hands this to ``plan``.
    """

    points: tuple[LatLon, ...]
    full: Table

    def table(self, points: Sequence[LatLon], speed_kmh: float) -> Table:
        """Return the sub-table for ``points`` (all must be known); speed unused."""
        index = {p: i for i, p in enumerate(self.points)}
        try:
            idx = np.array([index[(p[0], p[1])] for p in points], dtype=np.int64)
        except KeyError as exc:
            raise KeyError(
                f"point {exc.args[0]} not in the precomputed table"
            ) from None
        grid = np.ix_(idx, idx)
        return Table(self.full.distance_m[grid], self.full.duration_s[grid])


class OsrmError(RuntimeError):
    """The road engine refused a table request (its ``code`` is not ``Ok``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


class OsrmTable:
    """Client of an OSRM-compatible ``/table/v1`` service over an injected httpx client.

    Travel times come from the engine's profile, so ``speed_kmh`` is ignored.
    Big tables are fetched in blocks of at most ``max_points`` coordinates per
    request (OSRM's default ``--max-table-size`` is 100).

    Parameters
    ----------
    client
        ``httpx.Client`` for :meth:`table`, ``httpx.AsyncClient`` for :meth:`atable`.
    base_url
        Service root, e.g. ``http://osrm:5000``.
    profile
        Routing profile in the URL path.
    max_points
        Coordinates per request (sources plus destinations).
    """

    def __init__(
        self,
        client: httpx.AsyncClient | httpx.Client,
        base_url: str,
        profile: str = "bike",
        *,
        max_points: int = 100,
    ) -> None:
        if max_points < 2:
            raise ValueError("max_points must be >= 2")
        self._client = client
        self._base_url = base_url.rstrip("/")
        self._profile = profile
        self._max_points = max_points

    def table(self, points: Sequence[LatLon], speed_kmh: float = 0.0) -> Table:
        """Fetch the table between ``points`` with a synchronous client.

        Parameters
        ----------
        points
            ``(lat, lon)`` pairs in degrees.
        speed_kmh
            Ignored: the engine's profile sets the speed.

        Returns
        -------
        Table
            Metres and seconds; unreachable pairs get ``UNREACHABLE``.
        """
        if not isinstance(self._client, httpx.Client):
            raise TypeError("table() needs an httpx.Client; use atable() when async")
        distance, duration = _empty(len(points))
        for request in self._requests(points):
            response = self._client.get(request.url)
            request.fill(_payload(response), distance, duration)
        return Table(distance, duration)

    async def atable(self, points: Sequence[LatLon]) -> Table:
        """Fetch the table between ``points`` with an asynchronous client.

        Parameters
        ----------
        points
            ``(lat, lon)`` pairs in degrees.

        Returns
        -------
        Table
            Metres and seconds; unreachable pairs get ``UNREACHABLE``.
        """
        if not isinstance(self._client, httpx.AsyncClient):
            raise TypeError("atable() needs an httpx.AsyncClient")
        distance, duration = _empty(len(points))
        for request in self._requests(points):
            response = await self._client.get(request.url)
            request.fill(_payload(response), distance, duration)
        return Table(distance, duration)

    def _requests(self, points: Sequence[LatLon]) -> list[_Block]:
        n = len(points)
        if n <= self._max_points:
            blocks = [(range(n), range(n))]
        else:
            half = self._max_points // 2
            starts = range(0, n, half)
            blocks = [
                (range(s, min(s + half, n)), range(d, min(d + half, n)))
                for s in starts
                for d in starts
            ]
        return [self._block(points, rows, cols) for rows, cols in blocks]

    def _block(self, points: Sequence[LatLon], rows: range, cols: range) -> _Block:
        # Each coordinate is sent once; sources and destinations index into them.
        members = sorted(set(rows) | set(cols))
        position = {p: i for i, p in enumerate(members)}
        coords = ";".join(f"{points[p][1]:.6f},{points[p][0]:.6f}" for p in members)
        query = "annotations=distance,duration"
        if len(members) != len(rows) or rows != cols:
            query += "&sources=" + ";".join(str(position[r]) for r in rows)
            query += "&destinations=" + ";".join(str(position[c]) for c in cols)
        url = f"{self._base_url}/table/v1/{self._profile}/{coords}?{query}"
        return _Block(url, rows, cols)


@dataclass(frozen=True, slots=True)
class _Block:
    url: str
    rows: range
    cols: range

    def fill(
        self, payload: dict[str, Any], distance: IntMatrix, duration: IntMatrix
    ) -> None:
        shape = (len(self.rows), len(self.cols))
        for key, target in (("distances", distance), ("durations", duration)):
            block = _matrix(payload.get(key), shape, key)
            target[
                self.rows.start : self.rows.stop, self.cols.start : self.cols.stop
            ] = block


def _empty(n: int) -> tuple[IntMatrix, IntMatrix]:
    return np.zeros((n, n), np.int64), np.zeros((n, n), np.int64)


def _payload(response: httpx.Response) -> dict[str, Any]:
    try:
        payload = response.json()
    except ValueError:
        response.raise_for_status()
        raise OsrmError("InvalidResponse", "response is not JSON") from None
    if not isinstance(payload, dict):
        raise OsrmError("InvalidResponse", "response is not a JSON object")
    code = payload.get("code")
    if code != "Ok":
        raise OsrmError(str(code), str(payload.get("message", "")))
    response.raise_for_status()
    return payload


def _matrix(rows: Any, shape: tuple[int, int], key: str) -> IntMatrix:
    if not isinstance(rows, list) or len(rows) != shape[0]:
        raise OsrmError("InvalidResponse", f"'{key}' missing or of the wrong size")
    try:
        # null (no route) becomes NaN here.
        values = np.array(rows, dtype=np.float64)
    except (TypeError, ValueError):
        raise OsrmError("InvalidResponse", f"'{key}' is not a matrix") from None
    if values.shape != shape:
        raise OsrmError("InvalidResponse", f"'{key}' has shape {values.shape}")
    values = np.where(np.isnan(values), UNREACHABLE, values)
    # Round times up so a plan never promises an arrival the engine says is late.
    values = np.ceil(values) if key == "durations" else np.rint(values)
    return np.minimum(values, UNREACHABLE).astype(np.int64)
