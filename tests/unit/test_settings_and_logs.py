"""Settings refuse unsafe set-ups and hide secrets; logs never show numbers or tokens."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pydantic import ValidationError

from routes_planner import PlannerParams
from service.logs import ScrubFilter, scrub
from service.phones import BadPhoneNumber, to_e164
from service.settings import Settings


def test_twilio_gateway_without_token_refuses_to_start() -> None:
    """RECOOP_SMS_GATEWAY=twilio with no auth token is a configuration error."""
    with pytest.raises(ValidationError, match="RECOOP_TWILIO_AUTH_TOKEN"):
        Settings.from_env(
            {"RECOOP_SMS_GATEWAY": "twilio", "RECOOP_TWILIO_ACCOUNT_SID": "AC1"}
        )


def test_planner_file_sets_the_planner_and_plan_seconds_the_budget(
    tmp_path: Path,
) -> None:
    """RECOOP_PLANNER_FILE turns on balancing (say); the budget stays the service's."""
    path = tmp_path / "planner.toml"
    path.write_text("balance_weight = 5\nmust_serve_after_days = 2\n")
    s = Settings.from_env(
        {"RECOOP_PLANNER_FILE": str(path), "RECOOP_PLAN_SECONDS": "20"}
    )
    params = s.planner_params()
    assert (params.balance_weight, params.must_serve_after_days) == (5, 2)
    assert params.time_limit_s == 20
    assert s.planner_params(3.0).time_limit_s == 3.0
    assert Settings.from_env({}).planner_params() == PlannerParams(time_limit_s=10)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "RECOOP_PLANNER_FILE=.*cannot read it"),
        ("balance_wieght = 5", "unknown planner parameters: balance_wieght"),
        ("n_workers = 0", "n_workers must be >= 1"),
        ("n_workers = 'two'", "n_workers must be a whole number"),
        ("time_limit_s = 30", "the planning budget is RECOOP_PLAN_SECONDS"),
        ("balance_weight = ", "RECOOP_PLANNER_FILE=.*Invalid value"),
    ],
)
def test_a_bad_planner_file_stops_the_start(
    tmp_path: Path, text: str | None, message: str
) -> None:
    """A planner file that cannot work is refused at start, naming the problem."""
    path = tmp_path / "planner.toml"
    if text is not None:
        path.write_text(text + "\n")
    with pytest.raises(ValidationError, match=message):
        Settings.from_env({"RECOOP_PLANNER_FILE": str(path)})


def test_repr_masks_secrets() -> None:
    """Tokens and database passwords never appear in the settings' repr."""
    s = Settings.from_env(
        {
            "RECOOP_TWILIO_AUTH_TOKEN": "supersecret123",
            "RECOOP_DATABASE_URL": "postgresql+asyncpg://app:hunter2@db/recoop",
        }
    )
    assert "supersecret123" not in repr(s) and "hunter2" not in repr(s)
    assert "hunter2" not in str(s)


def test_defaults_match_design() -> None:
    """Defaults are the ones DESIGN.md documents."""
    s = Settings.from_env({})
    assert s.database_url == "sqlite+aiosqlite:///./recoop.db"
    assert (s.sms_gateway, s.payout_provider, s.timezone, s.currency) == (
        "console",
        "sandbox",
        "Africa/Lagos",
        "NGN",
    )
    assert s.sms_per_number_per_hour == 10


@pytest.mark.parametrize(
    "raw",
    [
        "08031234567",
        "+2348031234567",
        "2348031234567",
        "0803 123 4567",
        "+234 (803) 123-4567",
    ],
)
def test_nigerian_forms_normalise_to_one_e164(raw: str) -> None:
    """Local and international Nigerian forms are the same number."""
    assert to_e164(raw) == "+2348031234567"


@pytest.mark.parametrize("raw", ["", "hello", "123", "+999999"])
def test_bad_numbers_are_refused(raw: str) -> None:
    """Text that is not a phone number raises BadPhoneNumber."""
    with pytest.raises(BadPhoneNumber):
        to_e164(raw)


def test_log_scrubbing_masks_numbers_and_tokens(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A log line with a phone number and a bearer token shows neither in full."""
    assert "+2348031234567" not in scrub("sms to +2348031234567")
    logger = logging.getLogger("test.scrub")
    logger.addFilter(ScrubFilter())
    with caplog.at_level(logging.INFO, logger="test.scrub"):
        logger.info("to %s with Bearer %s", "2348031234567", "rk_ope_abcdefghijklmnop")
    assert "2348031234567" not in caplog.text and "abcdefghijklmnop" not in caplog.text


def test_list_settings_take_commas_or_json() -> None:
    from service.settings import Settings

    env = {
        "RECOOP_TRUSTED_PROXIES": "172.30.0.10, 10.0.0.0/8",
        "RECOOP_SMS_ALLOWED_COUNTRIES": '["ng", "gh"]',
    }
    settings = Settings.from_env(env)
    assert settings.trusted_proxies == ("172.30.0.10", "10.0.0.0/8")
    assert settings.sms_allowed_countries == ("NG", "GH")
    assert (
        Settings.from_env({"RECOOP_SMS_ALLOWED_COUNTRIES": ""}).sms_allowed_countries
        == ()
    )


def test_text_log_lines_carry_the_request_id() -> None:
    import logging

    from service.logs import RequestIdFilter, TextFormatter, request_id

    token = request_id.set("abc123def456")
    try:
        record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", (), None)
        RequestIdFilter().filter(record)
    finally:
        request_id.reset(token)
    assert TextFormatter().format(record).endswith("hello [req abc123def456]")


def test_scheduler_routine_runs_stay_out_of_the_log_but_failures_do_not(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from service.logs import setup_logging

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        setup_logging("INFO")
        executor = logging.getLogger("apscheduler.executors.default")
        executor.info('Job "dispatch" executed successfully')
        executor.error('Job "dispatch" raised an exception')
        logging.getLogger("recoop").info("service started")
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
        logging.getLogger("apscheduler.executors").setLevel(logging.NOTSET)
    err = capsys.readouterr().err
    assert "executed successfully" not in err
    assert "raised an exception" in err
    assert "service started" in err
