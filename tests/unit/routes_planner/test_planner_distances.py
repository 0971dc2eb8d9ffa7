"""Great-circle tables and the OSRM table client (against OSRM's response format)."""

import math

import httpx
import numpy as np
import pytest
import respx

from routes_planner import (
    GreatCircle,
    OsrmError,
    OsrmTable,
    PrecomputedTable,
    haversine_m,
)
from routes_planner.distances import UNREACHABLE

YABA = (6.5095, 3.3711)
IKEJA = (6.6018, 3.3515)
BASE = "http://osrm.test"


def test_great_circle_matches_geodesic_reference():
    """Yaba to Ikeja is within 0.5% of the WGS84 geodesic distance (about 10.4 km)."""
    geopy_distance = pytest.importorskip("geopy.distance")
    reference = geopy_distance.geodesic(YABA, IKEJA).meters
    ours = float(haversine_m(*YABA, *IKEJA))
    assert abs(ours - reference) / reference < 0.005
    assert 10_000 < ours < 11_000


@pytest.mark.parametrize(
    ("a", "b", "metres"),
    [
        ((0.0, 0.0), (1.0, 0.0), 110_574),  # a degree of latitude at the equator
        ((0.0, 0.0), (0.0, 1.0), 111_319),  # a degree of longitude at the equator
        ((6.5244, 3.3792), (9.0765, 7.3986), 525_515),  # Lagos to Abuja
    ],
)
def test_great_circle_known_distances(a, b, metres):
    """Known WGS84 distances are matched within 0.5%."""
    assert float(haversine_m(*a, *b)) == pytest.approx(metres, rel=0.005)


def test_great_circle_table_is_integer_symmetric_with_speed_times():
    """The table is square, symmetric, int metres, seconds rounded up at the speed."""
    points = [YABA, IKEJA, (6.45, 3.43)]
    table = GreatCircle().table(points, speed_kmh=12.0)
    assert table.distance_m.dtype == np.int64
    assert table.distance_m.shape == (3, 3)
    assert np.array_equal(table.distance_m, table.distance_m.T)
    assert np.all(np.diag(table.distance_m) == 0)
    expected = math.ceil(float(haversine_m(*YABA, *IKEJA)) * 3.6 / 12.0)
    assert table.duration_s[0, 1] == expected


def test_detour_factor_scales_distance():
    """A detour factor stretches every distance by that factor."""
    plain = GreatCircle().table([YABA, IKEJA], 12.0).distance_m[0, 1]
    bent = GreatCircle(detour_factor=1.3).table([YABA, IKEJA], 12.0).distance_m[0, 1]
    assert bent == pytest.approx(1.3 * plain, abs=1)


def test_precomputed_table_serves_subsets():
    """A precomputed table returns the sub-matrix for any subset of its points."""
    points = (YABA, IKEJA, (6.45, 3.43))
    full = GreatCircle().table(points, 12.0)
    source = PrecomputedTable(points, full)
    sub = source.table([points[2], points[0]], 12.0)
    assert sub.distance_m[0, 1] == full.distance_m[2, 0]


def _osrm_answer(request: httpx.Request) -> httpx.Response:
    """A fake OSRM: distance between points i and j is 1000*|i-j| (ids from lon)."""
    path = request.url.path
    coords = path.rsplit("/", 1)[1].split(";")
    ids = [round(float(c.split(",")[0]) * 1000) for c in coords]
    params = dict(request.url.params)
    rows = (
        [int(i) for i in params["sources"].split(";")]
        if "sources" in params
        else range(len(ids))
    )
    cols = (
        [int(i) for i in params["destinations"].split(";")]
        if "destinations" in params
        else range(len(ids))
    )
    distances = [[1000.4 * abs(ids[r] - ids[c]) for c in cols] for r in rows]
    durations = [[100.2 * abs(ids[r] - ids[c]) for c in cols] for r in rows]
    return httpx.Response(
        200, json={"code": "Ok", "distances": distances, "durations": durations}
    )


def _points(n):
    return [(6.5, k / 1000) for k in range(n)]


@respx.mock
def test_osrm_table_parses_published_format():
    """An Ok answer becomes int metres (rounded) and seconds (rounded up)."""
    route = respx.get(url__startswith=f"{BASE}/table/v1/bike/").mock(
        side_effect=_osrm_answer
    )
    with httpx.Client() as client:
        table = OsrmTable(client, BASE).table(_points(3))
    assert route.call_count == 1
    assert "annotations=distance%2Cduration" in str(route.calls[0].request.url) or (
        "annotations=distance,duration" in str(route.calls[0].request.url)
    )
    assert table.distance_m[0, 2] == 2001
    assert table.duration_s[0, 2] == 201


@respx.mock
def test_osrm_table_is_chunked_for_big_requests():
    """More points than max_points are fetched in blocks and stitched exactly."""
    route = respx.get(url__startswith=f"{BASE}/table/v1/bike/").mock(
        side_effect=_osrm_answer
    )
    with httpx.Client() as client:
        table = OsrmTable(client, BASE, max_points=10).table(_points(23))
    assert route.call_count == 25  # 5 x 5 blocks of at most 5 sources and 5 targets
    for request in (c.request for c in route.calls):
        assert len(request.url.path.rsplit("/", 1)[1].split(";")) <= 10
    idx = np.arange(23)
    expected = np.rint(1000.4 * np.abs(idx[:, None] - idx[None, :]))
    assert np.array_equal(table.distance_m, expected.astype(np.int64))


@respx.mock
def test_osrm_nulls_mean_unreachable():
    """null entries (no route) become the UNREACHABLE sentinel."""
    respx.get(url__startswith=f"{BASE}/table/v1/bike/").mock(
        return_value=httpx.Response(
            200,
            json={
                "code": "Ok",
                "durations": [[0, None], [12.5, 0]],
                "distances": [[0, None], [80.2, 0]],
            },
        )
    )
    with httpx.Client() as client:
        table = OsrmTable(client, BASE).table(_points(2))
    assert table.distance_m[0, 1] == UNREACHABLE
    assert table.duration_s[0, 1] == UNREACHABLE
    assert table.duration_s[1, 0] == 13


@respx.mock
def test_osrm_error_code_raises():
    """A code other than Ok (e.g. InvalidQuery with HTTP 400) raises OsrmError."""
    respx.get(url__startswith=f"{BASE}/table/v1/bike/").mock(
        return_value=httpx.Response(
            400, json={"code": "InvalidQuery", "message": "Query string malformed"}
        )
    )
    with httpx.Client() as client, pytest.raises(OsrmError, match="InvalidQuery"):
        OsrmTable(client, BASE).table(_points(2))


@respx.mock
def test_osrm_server_error_without_json_raises():
    """A 5xx answer without a JSON body raises an HTTP error."""
    respx.get(url__startswith=f"{BASE}/table/v1/bike/").mock(
        return_value=httpx.Response(502, text="bad gateway")
    )
    with httpx.Client() as client, pytest.raises(httpx.HTTPStatusError):
        OsrmTable(client, BASE).table(_points(2))


@respx.mock
async def test_osrm_async_client():
    """atable() fetches the same table with an httpx.AsyncClient."""
    respx.get(url__startswith=f"{BASE}/table/v1/foot/").mock(side_effect=_osrm_answer)
    async with httpx.AsyncClient() as client:
        table = await OsrmTable(client, BASE, profile="foot").atable(_points(4))
    assert table.distance_m[3, 0] == 3001


def test_osrm_refuses_mismatched_client():
    """table() needs a sync client and atable() an async one."""
    client = httpx.AsyncClient()
    with pytest.raises(TypeError):
        OsrmTable(client, BASE).table(_points(2))
