"""Settings refuse bad values by name, all at once, and find the data directory as git finds ``.git``."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keb_app.settings import LOG_FORMATS, LOG_LEVELS, Settings, default_data_dir
from keb_domain.errors import ConfigurationError

BASE = {"APP_DATA_DIR": "/nonexistent-keb-test-dir"}


@given(st.text(min_size=1, max_size=12).filter(lambda t: t.strip().lower() not in (*LOG_LEVELS, "warn", "")))
def test_an_unknown_log_level_is_refused_by_name(level: str) -> None:
    """Any APP_LOG_LEVEL outside debug, info, warning, error is a configuration error naming it."""
    with pytest.raises(ConfigurationError, match="APP_LOG_LEVEL"):
        Settings.from_env({**BASE, "APP_LOG_LEVEL": level})


@pytest.mark.parametrize("fmt", [*LOG_FORMATS, "JSON", " text "])
def test_known_log_formats_are_accepted_in_any_case(fmt: str) -> None:
    """text and json are accepted regardless of case and surrounding blanks."""
    assert Settings.from_env({**BASE, "APP_LOG_FORMAT": fmt}).log_format == fmt.strip().lower()


def test_every_bad_value_is_reported_at_once() -> None:
    """Three bad values give three lines, one per variable."""
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env(
            {**BASE, "APP_LOG_LEVEL": "verbose", "APP_LOG_FORMAT": "xml", "APP_BROKER_STATUS_PORT": "-1"}
        )
    lines = str(caught.value).splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "APP_BROKER_STATUS_PORT",
        "APP_LOG_LEVEL",
        "APP_LOG_FORMAT",
    ]


def test_status_port_defaults_to_keb_and_zero_turns_it_off() -> None:
    """APP_BROKER_STATUS_PORT is 8071 by default, as KEB's; 0 means no status port."""
    assert Settings.from_env(BASE).status_port == 8071
    assert Settings.from_env({**BASE, "APP_BROKER_STATUS_PORT": "0"}).status_port == 0


def test_the_nearest_data_directory_above_is_found(tmp_path: Path) -> None:
    """From a subdirectory the ``.keb`` of an ancestor is the data directory; without one, ``./.keb``."""
    (tmp_path / ".keb").mkdir()
    below = tmp_path / "a" / "b"
    below.mkdir(parents=True)
    assert default_data_dir(below) == tmp_path.resolve() / ".keb"
    assert default_data_dir(tmp_path) == tmp_path.resolve() / ".keb"
    (below / ".keb").mkdir()
    assert default_data_dir(below) == below.resolve() / ".keb"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("APP_DATABASE_MAX_OPEN_CONNS", "0"),
        ("APP_DATABASE_MAX_IDLE_CONNS", "-1"),
        ("APP_DATABASE_CONN_MAX_LIFETIME", "0s"),
    ],
)
def test_a_pool_that_cannot_work_is_refused_by_name(variable: str, value: str) -> None:
    """No connection at all, a negative idle count or a zero lifetime stop startup naming the variable."""
    with pytest.raises(ConfigurationError, match=variable):
        Settings.from_env({**BASE, variable: value})


def test_the_pool_keeps_its_idle_connections_and_opens_the_rest_on_demand() -> None:
    """KEB's names and meanings: idle connections are the pool SQLAlchemy keeps, the rest overflow."""
    keb_defaults = Settings.from_env(
        {**BASE, "APP_DATABASE_MAX_OPEN_CONNS": "8", "APP_DATABASE_MAX_IDLE_CONNS": "2"}
    ).database_pool
    assert keb_defaults.engine_args() == {"pool_size": 2, "max_overflow": 6, "pool_recycle": 1800.0}
    ours = Settings.from_env(BASE).database_pool
    assert ours.engine_args() == {"pool_size": 10, "max_overflow": 0, "pool_recycle": 1800.0}
    more_idle_than_open = Settings.from_env(
        {**BASE, "APP_DATABASE_MAX_OPEN_CONNS": "3", "APP_DATABASE_MAX_IDLE_CONNS": "5"}
    ).database_pool
    assert more_idle_than_open.engine_args()["pool_size"] == 3
