"""KoboToolbox submissions -> weighings, and the shipped XLSForm they come from."""

from __future__ import annotations

import importlib.util
import json
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from service.domain.sms_parser import MATERIALS, PICKUP_CODE_ALPHABET
from service.kobo import (
    FORM_PATHS,
    MAX_KG,
    KoboPayloadError,
    KoboWeighing,
    parse_submission,
)

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "kobo"
FORM_DIR = ROOT / "deploy" / "kobo"


def load(name: str) -> dict[str, Any]:
    """A stored Kobo submission, as Kobo posts it."""
    payload: dict[str, Any] = json.loads((DATA / f"{name}.json").read_text("utf-8"))
    return payload


def with_(name: str = "weighing_web", **changes: Any) -> dict[str, Any]:
    """A stored submission with some keys replaced; None removes a key."""
    payload = load(name)
    for key, value in changes.items():
        key = key.replace("__", "/")
        if value is None:
            payload.pop(key, None)
        else:
            payload[key] = value
    return payload


def items(*lines: tuple[Any, Any]) -> list[dict[str, Any]]:
    """The `items` repeat as Kobo sends it: full paths as keys."""
    return [{"items/material": m, "items/kg": kg} for m, kg in lines]


# --- stored submissions ----------------------------------------------------------------


def test_a_web_submission_becomes_a_weighing() -> None:
    """The web-form submission maps onto one weighing, two PET lines adding up."""
    assert parse_submission(load("weighing_web")) == KoboWeighing(
        instance_id="uuid:5c9e2f0a-7d41-4b8e-9a36-1f2d3c4b5a69",
        pickup_code="K7Q2",
        items=(("PET", 3750), ("ALU", 400)),
        collected_at=datetime(2024, 12, 3, 8, 41, 12, 501000, tzinfo=UTC),
        lat=6.5095,
        lon=3.3711,
    )


def test_an_offline_submission_keeps_its_collection_time_and_has_no_gps() -> None:
    """A submission synced hours later is dated when weighed; no GPS gives None."""
    weighing = parse_submission(load("weighing_offline"))
    assert weighing.pickup_code == "TX4M"
    assert weighing.items == (("SACHET", 1750), ("GLASS", 6000), ("HDPE", 350))
    assert weighing.collected_at == datetime(2024, 12, 3, 6, 52, 40, 118000, tzinfo=UTC)
    assert (weighing.lat, weighing.lon) == (None, None)


def test_a_submission_without_collected_at_uses_the_form_end() -> None:
    """An older form version without collected_at is dated by its `end` metadata."""
    weighing = parse_submission(load("weighing_older_version"))
    assert weighing.collected_at == datetime(
        2024, 11, 18, 15, 5, 51, 402000, tzinfo=UTC
    )
    assert weighing.items == (("PET", 3200),)
    assert (weighing.lat, weighing.lon) == (6.4541, 3.3947)


# --- mapping rules ---------------------------------------------------------------------


def test_submission_time_is_utc_when_no_device_time_is_sent() -> None:
    """With neither collected_at nor end, `_submission_time` (no zone) is read as UTC."""
    weighing = parse_submission(with_(collected_at=None, end=None))
    assert weighing.collected_at == datetime(2024, 12, 3, 8, 45, 3, tzinfo=UTC)
    assert weighing.collected_at.utcoffset() is not None


def test_blank_collected_at_falls_back_to_end() -> None:
    """An unanswered collected_at is skipped, not an error."""
    weighing = parse_submission(with_(collected_at=""))
    assert weighing.collected_at == datetime(2024, 12, 3, 8, 44, 58, 20000, tzinfo=UTC)


def test_instance_id_falls_back_to_uuid() -> None:
    """Without meta/instanceID the id is built from `_uuid` in the same "uuid:" form."""
    weighing = parse_submission(with_(meta__instanceID=None))
    assert weighing.instance_id == "uuid:5c9e2f0a-7d41-4b8e-9a36-1f2d3c4b5a69"


def test_lower_case_choices_and_spaced_codes_are_accepted() -> None:
    """Choice names in lower case and a code typed with spaces are normalised."""
    payload = with_(pickup_code=" k7 q2 ", items=items(("pet", "1"), ("Sachet", "0.5")))
    weighing = parse_submission(payload)
    assert weighing.pickup_code == "K7Q2"
    assert weighing.items == (("PET", 1000), ("SACHET", 500))


@pytest.mark.parametrize(
    ("kg", "grams"),
    [
        ("2.5", 2500),
        ("0.001", 1),
        ("1000", 1_000_000),
        ("0.0005", 1),  # half a gram rounds up
        ("2.0004", 2000),
        (" 3 ", 3000),
        (2.5, 2500),  # a JSON number, if a client sends one
        (7, 7000),
        ("1e2", 100_000),
    ],
)
def test_kg_become_exact_grams(kg: Any, grams: int) -> None:
    """Kilograms become whole grams through Decimal, rounding half up."""
    weighing = parse_submission(with_(items=items(("ALU", kg))))
    assert weighing.items == (("ALU", grams),)


def test_decimal_addition_is_exact() -> None:
    """0.1 kg + 0.2 kg of one material is exactly 300 g."""
    weighing = parse_submission(with_(items=items(("PET", "0.1"), ("PET", "0.2"))))
    assert weighing.items == (("PET", 300),)


def test_geolocation_is_the_fallback_for_a_missing_geopoint() -> None:
    """Kobo's `_geolocation` is used when the location answer is absent."""
    weighing = parse_submission(with_(location=None, _geolocation=[6.6, 3.35]))
    assert (weighing.lat, weighing.lon) == (6.6, 3.35)


def test_a_two_part_geopoint_is_accepted() -> None:
    """A geopoint without altitude and accuracy still gives lat and lon."""
    weighing = parse_submission(with_(location="-6.5 -3.4"))
    assert (weighing.lat, weighing.lon) == (-6.5, -3.4)


# --- errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"pickup_code": None}, "pickup_code is missing"),
        ({"pickup_code": "  "}, "pickup_code is missing"),
        ({"pickup_code": 7242}, "pickup_code is missing"),
        ({"pickup_code": "K0Q2"}, "'K0Q2'"),  # 0 is not in the alphabet
        ({"pickup_code": "K7Q"}, "4 to 6"),
        ({"pickup_code": "K7Q2K7Q"}, "4 to 6"),
        ({"pickup_code": "K7-Q2"}, "'K7-Q2'"),
        ({"items": None}, "items is missing or empty"),
        ({"items": []}, "items is missing or empty"),
        ({"items": {"items/material": "PET"}}, "items is missing or empty"),
        ({"items": ["PET 2.5"]}, "items[1] is not an object"),
        (
            {"items": items(("PET", "1"), ("IRON", "2"))},
            "items[2]: items/material 'IRON'",
        ),
        ({"items": items((None, "2"))}, "items/material None"),
        ({"items": [{"items/material": "PET"}]}, "items/kg is missing"),
        ({"items": items(("PET", ""))}, "items/kg is missing"),
        ({"items": items(("PET", None))}, "items/kg is missing"),
        ({"items": items(("PET", True))}, "items/kg is missing"),
        ({"items": items(("PET", "abc"))}, "'abc' is not a number"),
        ({"items": items(("PET", "2,5"))}, "'2,5' is not a number"),
        ({"items": items(("PET", "NaN"))}, "'NaN' is not a number"),
        ({"items": items(("PET", "sNaN"))}, "'sNaN' is not a number"),
        ({"items": items(("PET", "Infinity"))}, "'Infinity' is not a number"),
        ({"items": items(("PET", float("nan")))}, "is not a number"),
        ({"items": items(("PET", "0"))}, "not above 0"),
        ({"items": items(("PET", "-1.5"))}, "not above 0"),
        ({"items": items(("PET", "1000.001"))}, "at most 1000"),
        ({"items": items(("PET", "0.0004"))}, "less than one gram"),
        (
            {"items": items(("PET", "600"), ("PET", "400.5"))},
            "PET adds up to more than",
        ),
        (
            {"collected_at": "2024-12-03T09:41:12"},
            "collected_at '2024-12-03T09:41:12' has no time zone",
        ),
        ({"collected_at": "2024-12-03"}, "is not an ISO 8601 date and time"),
        ({"collected_at": "yesterday at 9"}, "is not an ISO 8601 date and time"),
        (
            {"collected_at": "2024-13-03T09:41:12+01:00"},
            "is not an ISO 8601 date and time",
        ),
        (
            {"collected_at": None, "end": "09:44"},
            "end '09:44' is not an ISO 8601 date and time",
        ),
        ({"collected_at": None, "end": None, "_submission_time": None}, "all missing"),
        ({"meta__instanceID": None, "_uuid": None}, "meta/instanceID and _uuid"),
        ({"meta__instanceID": "", "_uuid": ""}, "meta/instanceID and _uuid"),
        ({"location": "6.5095"}, "lat lon altitude accuracy"),
        ({"location": "6.5 3.3 1 2 3"}, "lat lon altitude accuracy"),
        ({"location": "north east"}, "are not coordinates"),
        ({"location": "nan 3.3"}, "are not coordinates"),
        ({"location": "96.5 3.3 0 5"}, "outside the globe"),
        ({"location": "6.5 183.3 0 5"}, "outside the globe"),
        ({"location": None, "_geolocation": ["6.5", True]}, "are not coordinates"),
    ],
)
def test_invalid_submissions_are_refused_with_the_reason(
    changes: dict[str, Any], words: str
) -> None:
    """Every missing or invalid field raises KoboPayloadError saying which and why."""
    with pytest.raises(KoboPayloadError) as caught:
        parse_submission(with_(**changes))
    assert words in str(caught.value)


def test_a_payload_that_is_not_an_object_is_refused() -> None:
    """A JSON list or string is not a submission."""
    with pytest.raises(KoboPayloadError, match="not a JSON object"):
        parse_submission([load("weighing_web")])  # type: ignore[arg-type]


# --- the shipped form ------------------------------------------------------------------


def build_form_module() -> ModuleType:
    """deploy/kobo/build_form.py, imported by path (deploy/ is not a package)."""
    spec = importlib.util.spec_from_file_location(
        "build_form", FORM_DIR / "build_form.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def form() -> dict[str, list[dict[str, Any]]]:
    """The shipped XLSForm's sheets as lists of {column: value} rows."""
    openpyxl = pytest.importorskip(
        "openpyxl", reason="openpyxl builds and reads the XLSForm; pip install openpyxl"
    )
    book = openpyxl.load_workbook(FORM_DIR / "recoop_weighing.xlsx", read_only=True)
    sheets: dict[str, list[dict[str, Any]]] = {}
    for sheet in book.worksheets:
        header, *rows = list(sheet.iter_rows(values_only=True))
        sheets[sheet.title] = [
            {str(h): v for h, v in zip(header, r, strict=True) if v is not None}
            for r in rows
            if any(v is not None for v in r)
        ]
    book.close()
    return sheets


def submission_paths(survey: list[dict[str, Any]]) -> dict[str, str]:
    """Each question's submission key (group and repeat names as a prefix) -> its type."""
    stack: list[str] = []
    paths: dict[str, str] = {}
    for question in survey:
        kind = str(question["type"]).strip()
        if kind in ("begin_repeat", "begin repeat", "begin_group", "begin group"):
            paths["/".join([*stack, question["name"]])] = kind
            stack.append(question["name"])
        elif kind in ("end_repeat", "end repeat", "end_group", "end group"):
            stack.pop()
        else:
            paths["/".join([*stack, question["name"]])] = kind
    assert not stack, "unbalanced begin/end rows"
    return paths


def test_the_form_has_the_three_xlsform_sheets(
    form: dict[str, list[dict[str, Any]]],
) -> None:
    """The workbook has survey, choices and settings sheets, with a form id."""
    assert set(form) == {"survey", "choices", "settings"}
    assert form["settings"][0]["form_id"] == "recoop_weighing"


def test_the_form_asks_what_the_parser_reads(
    form: dict[str, list[dict[str, Any]]],
) -> None:
    """Question paths and types in the form are the keys parse_submission reads."""
    paths = submission_paths(form["survey"])
    assert paths.pop("start") == "start"
    assert paths.pop("end") == "end"
    assert set(paths) == FORM_PATHS
    assert paths == {
        "pickup_code": "text",
        "items": "begin_repeat",
        "items/material": "select_one materials",
        "items/kg": "decimal",
        "location": "geopoint",
        "collected_at": "dateTime",
    }


def test_the_form_constraints_agree_with_the_parser(
    form: dict[str, list[dict[str, Any]]],
) -> None:
    """Required fields, the kg bounds, the code alphabet and the materials match."""
    by_name = {q["name"]: q for q in form["survey"] if "name" in q}
    for name in ("pickup_code", "material", "kg", "collected_at"):
        assert by_name[name]["required"] == "yes", name
    assert by_name["kg"]["constraint"] == f". > 0 and . <= {MAX_KG}"
    pattern = by_name["pickup_code"]["constraint"]
    letters = pattern[pattern.index("[") + 1 : pattern.index("]")]
    assert set(letters.upper()) == set(PICKUP_CODE_ALPHABET)
    assert "{4,6}" in pattern
    assert by_name["collected_at"]["default"] == "now()"
    materials = [c for c in form["choices"] if c["list_name"] == "materials"]
    assert {c["name"] for c in materials} == MATERIALS
    assert all(c["label::English (en)"] for c in materials)


def test_a_submission_shaped_by_the_form_parses(
    form: dict[str, list[dict[str, Any]]],
) -> None:
    """A payload keyed by the form's own paths becomes a weighing."""
    paths = submission_paths(form["survey"])
    repeat = next(p for p, kind in paths.items() if kind == "begin_repeat")
    inner = {p.split("/")[-1]: p for p in paths if p.startswith(repeat + "/")}
    payload = {
        "meta/instanceID": "uuid:0d7c4a52-55f1-4c1e-9f0b-3b8f6d2e1a44",
        "_submission_time": "2024-12-03T10:00:00",
        "pickup_code": "m3ya",
        repeat: [{inner["material"]: "GLASS", inner["kg"]: "12.345"}],
        "location": "6.5 3.4 10 5",
        "collected_at": "2024-12-03T10:59:00.000+01:00",
    }
    weighing = parse_submission(payload)
    assert weighing.items == (("GLASS", 12345),)
    assert weighing.pickup_code == "M3YA"


def test_the_shipped_form_is_what_the_script_builds(
    form: dict[str, list[dict[str, Any]]],
) -> None:
    """The committed .xlsx is up to date with deploy/kobo/build_form.py."""
    module = build_form_module()
    assert module.CODE_ALPHABET == PICKUP_CODE_ALPHABET
    for title, header, rows in (
        ("survey", module.SURVEY_HEADER, module.SURVEY),
        ("choices", module.CHOICES_HEADER, module.CHOICES),
        ("settings", module.SETTINGS_HEADER, module.SETTINGS),
    ):
        expected = [{h: v for h, v in zip(header, r, strict=True) if v} for r in rows]
        assert form[title] == expected, title
