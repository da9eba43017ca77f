"""The APP_BROKER_BINDING_* settings, with KEB's names and defaults, and the checks that stop startup."""

from __future__ import annotations

import pytest

from keb_domain.errors import ConfigurationError
from keb_domain.model.binding import ExpirationPolicy
from tests.support import settings_for_tests


def test_keb_s_defaults_apply_without_settings() -> None:
    """600 s default and minimum, 7200 s maximum, 10 bindings, a 15 s creation limit."""
    settings = settings_for_tests()
    assert settings.binding_policy == ExpirationPolicy(600, 600, 7200, 10)
    assert settings.binding_timeout == 15.0


def test_the_binding_variables_shape_the_policy() -> None:
    """Each APP_BROKER_BINDING_* variable lands in the policy or the time limit (Go durations accepted)."""
    settings = settings_for_tests(
        {
            "APP_BROKER_BINDING_EXPIRATION_SECONDS": "900",
            "APP_BROKER_BINDING_MIN_EXPIRATION_SECONDS": "700",
            "APP_BROKER_BINDING_MAX_EXPIRATION_SECONDS": "3600",
            "APP_BROKER_BINDING_MAX_BINDINGS_COUNT": "3",
            "APP_BROKER_BINDING_CREATE_BINDING_TIMEOUT": "1m30s",
        }
    )
    assert settings.binding_policy == ExpirationPolicy(900, 700, 3600, 3)
    assert settings.binding_timeout == 90.0


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"APP_BROKER_BINDING_MIN_EXPIRATION_SECONDS": "599"}, "APP_BROKER_BINDING_MIN_EXPIRATION_SECONDS"),
        ({"APP_BROKER_BINDING_EXPIRATION_SECONDS": "7201"}, "APP_BROKER_BINDING_EXPIRATION_SECONDS"),
        ({"APP_BROKER_BINDING_MAX_BINDINGS_COUNT": "ten"}, "APP_BROKER_BINDING_MAX_BINDINGS_COUNT"),
        ({"APP_BROKER_BINDING_CREATE_BINDING_TIMEOUT": "soon"}, "APP_BROKER_BINDING_CREATE_BINDING_TIMEOUT"),
    ],
)
def test_a_bad_binding_setting_stops_startup_naming_it(env: dict[str, str], named: str) -> None:
    """A value Gardener would refuse, or one that does not parse, is a configuration error naming the key."""
    with pytest.raises(ConfigurationError, match=named):
        settings_for_tests(env)
