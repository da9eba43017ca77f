"""``keb serve`` settings: defaults, Go durations, and refusals that name the variable."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keb_app.settings import Settings
from keb_domain.errors import ConfigurationError

SERVING_VARIABLES = (
    "APP_HTTP_WORKERS",
    "APP_HTTP_HEADER_TIMEOUT",
    "APP_HTTP_BODY_TIMEOUT",
    "APP_HTTP_KEEP_ALIVE_TIMEOUT",
    "APP_HTTP_MAX_CONNECTIONS",
    "APP_SHUTDOWN_GRACE",
)


def test_defaults_size_the_workers_for_the_machine() -> None:
    """Without settings there is one HTTP worker per CPU and a 20 s grace."""
    serving = Settings.from_env({}).serving
    assert serving.workers == (os.cpu_count() or 1)
    assert serving.shutdown_grace == 20.0
    assert serving.header_timeout == 10.0
    assert serving.body_timeout == 30.0
    assert serving.max_connections == 1000


def test_values_accept_go_durations_and_whole_numbers() -> None:
    """Durations are Go strings as in KEB's values; counts are whole numbers; one worker is allowed."""
    serving = Settings.from_env(
        {
            "APP_HTTP_WORKERS": "1",
            "APP_HTTP_HEADER_TIMEOUT": "500ms",
            "APP_HTTP_BODY_TIMEOUT": "1m",
            "APP_HTTP_KEEP_ALIVE_TIMEOUT": "75s",
            "APP_HTTP_MAX_CONNECTIONS": "64",
            "APP_SHUTDOWN_GRACE": "1m30s",
        }
    ).serving
    assert (serving.workers, serving.header_timeout, serving.body_timeout) == (1, 0.5, 60.0)
    assert (serving.keep_alive_timeout, serving.max_connections, serving.shutdown_grace) == (75.0, 64, 90.0)


@pytest.mark.parametrize("variable", SERVING_VARIABLES)
@pytest.mark.parametrize("value", ["0", "-1", "abc", "1.5.2"])
def test_a_bad_value_is_refused_naming_the_variable(variable: str, value: str) -> None:
    """Zero, negative or unreadable values stop startup with a message that names the variable."""
    with pytest.raises(ConfigurationError, match=variable):
        Settings.from_env({variable: value})


@given(workers=st.integers(min_value=1, max_value=512))
def test_any_positive_worker_count_is_taken_as_given(workers: int) -> None:
    """A worker count of at least one is used exactly."""
    assert Settings.from_env({"APP_HTTP_WORKERS": str(workers)}).serving.workers == workers
