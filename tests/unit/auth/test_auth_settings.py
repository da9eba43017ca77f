"""``APP_AUTH_*`` settings: modes, issuer, JWKS URL, audience, leeway and refresh interval (§4)."""

from __future__ import annotations

import pytest

from keb_domain.errors import ConfigurationError
from tests.support import settings_for_tests


def test_local_is_the_default_mode_and_the_broker_is_its_issuer() -> None:
    """Without APP_AUTH_MODE the embedded issuer is on, named by the broker's URL."""
    settings = settings_for_tests({"APP_AUTH_MODE": "", "APP_BROKER_URL": "http://keb.example:8080"})
    assert settings.auth.mode == "local"
    assert settings.auth.issuer == "http://keb.example:8080"
    assert settings.auth.jwks_url == "http://keb.example:8080/oauth2/certs"


def test_jwt_mode_reads_the_issuer_and_derives_the_jwks_url() -> None:
    """The JWKS URL defaults to ``{issuer}/oauth2/certs``."""
    settings = settings_for_tests({"APP_AUTH_MODE": "jwt", "APP_AUTH_ISSUER": "https://issuer.test"})
    assert (settings.auth.issuer, settings.auth.jwks_url) == (
        "https://issuer.test",
        "https://issuer.test/oauth2/certs",
    )


def test_an_issuer_with_a_trailing_slash_is_kept_as_written() -> None:
    """``iss`` is compared exactly, so an issuer such as ``https://tenant.auth0.com/`` keeps its slash."""
    settings = settings_for_tests({"APP_AUTH_MODE": "jwt", "APP_AUTH_ISSUER": "https://tenant.auth0.com/"})
    assert settings.auth.issuer == "https://tenant.auth0.com/"
    assert settings.auth.jwks_url == "https://tenant.auth0.com/oauth2/certs"


def test_an_explicit_jwks_url_wins() -> None:
    """APP_AUTH_JWKS_URL replaces the derived URL."""
    env = {
        "APP_AUTH_MODE": "jwt",
        "APP_AUTH_ISSUER": "https://issuer.test",
        "APP_AUTH_JWKS_URL": "https://keys.test/jwks.json",
    }
    assert settings_for_tests(env).auth.jwks_url == "https://keys.test/jwks.json"


def test_jwt_mode_without_an_issuer_is_a_configuration_error() -> None:
    """An external issuer must be named: startup stops, naming the key."""
    with pytest.raises(ConfigurationError, match="APP_AUTH_ISSUER"):
        settings_for_tests({"APP_AUTH_MODE": "jwt"})


def test_an_unknown_mode_is_a_configuration_error() -> None:
    """A typo in APP_AUTH_MODE stops startup instead of silently turning checks off."""
    with pytest.raises(ConfigurationError, match="APP_AUTH_MODE"):
        settings_for_tests({"APP_AUTH_MODE": "off"})


def test_the_mode_is_case_insensitive() -> None:
    """``JWT`` means ``jwt``."""
    env = {"APP_AUTH_MODE": "JWT", "APP_AUTH_ISSUER": "https://issuer.test"}
    assert settings_for_tests(env).auth.mode == "jwt"


def test_the_audience_is_unset_unless_given() -> None:
    """An empty APP_AUTH_AUDIENCE means no audience check."""
    assert settings_for_tests({"APP_AUTH_AUDIENCE": ""}).auth.audience is None
    assert settings_for_tests({"APP_AUTH_AUDIENCE": "keb"}).auth.audience == "keb"


def test_leeway_and_refresh_interval_take_durations() -> None:
    """APP_AUTH_LEEWAY and APP_AUTH_JWKS_MIN_REFRESH_INTERVAL read Go durations; defaults 30s and 10s."""
    defaults = settings_for_tests().auth
    assert (defaults.leeway, defaults.jwks_min_refresh) == (30, 10.0)
    changed = settings_for_tests({"APP_AUTH_LEEWAY": "2m", "APP_AUTH_JWKS_MIN_REFRESH_INTERVAL": "1h"}).auth
    assert (changed.leeway, changed.jwks_min_refresh) == (120, 3600.0)
