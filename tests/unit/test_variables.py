"""The one table of environment variables: the generated document, KEB's chart, refusals at start."""

from __future__ import annotations

import re
import ssl
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from keb_adapters.sql.connection import DatabaseTls
from keb_app.landscape._pki import CertificateAuthority
from keb_app.settings import Settings
from keb_app.variables import (
    ALIASES,
    BY_NAME,
    KEB_CHART_VARIABLES,
    KEB_VARIABLES,
    KINDS,
    UNREAD,
    UNREAD_BY_NAME,
    VARIABLES,
    keb_status,
    render_document,
)
from keb_domain.errors import ConfigurationError

ROOT = Path(__file__).resolve().parents[2]
SETTINGS_SOURCE = ROOT / "src" / "keb_app" / "settings.py"
BASE = {"APP_DATA_DIR": "/nonexistent-keb-test-dir", "APP_AUTH_MODE": "none"}


def test_the_committed_configuration_document_is_current() -> None:
    """docs/configuration.md is exactly what `keb config docs` prints (regenerate with `make docs`)."""
    committed = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert committed == render_document(), "docs/configuration.md is stale: run `make docs`"


def test_every_keb_chart_variable_is_read_or_explained() -> None:
    """Each variable of KEB's chart is read by the settings (by name or alias) or has a reason it is not."""
    source = SETTINGS_SOURCE.read_text(encoding="utf-8")
    for name in KEB_VARIABLES:
        if name in BY_NAME or name in ALIASES:
            declared = BY_NAME.get(name) or ALIASES[name]
            assert f'"{declared.name}"' in source, f"{name} is declared but Settings never reads it"
        else:
            assert name in UNREAD_BY_NAME, f"{name} is neither read nor explained"
            assert len(UNREAD_BY_NAME[name].reason) > 20, f"{name} needs a real reason"
        status, note = keb_status(name)
        assert f"| `{name}` | {status} | " in render_document()
        assert note


def test_the_tables_do_not_overlap_and_name_only_keb_variables() -> None:
    """A variable is either read or unread, never both; unread ones are all KEB's; names are unique."""
    assert len(BY_NAME) == len(VARIABLES)
    assert len(UNREAD_BY_NAME) == len(UNREAD)
    assert not set(UNREAD_BY_NAME) & (set(BY_NAME) | set(ALIASES))
    assert set(UNREAD_BY_NAME) <= set(KEB_CHART_VARIABLES)
    for variable in VARIABLES:
        if variable.keb:
            assert variable.name in KEB_VARIABLES, f"{variable.name} is not KEB's; mark it keb=False"


def test_every_variable_the_settings_read_is_declared() -> None:
    """Settings read no APP_* variable that the table (and so the document) does not declare."""
    source = SETTINGS_SOURCE.read_text(encoding="utf-8")
    read = set(re.findall(r'"(APP_[A-Z0-9_]+)"', source))
    assert read <= set(BY_NAME) | set(ALIASES)
    unread = {v.name for v in VARIABLES} - read
    assert not unread, f"declared but never read: {unread}"


def test_each_declared_default_parses_as_its_type() -> None:
    """The defaults the document shows are the ones Settings use: each one parses as its declared type."""
    for variable in VARIABLES:
        assert variable.kind in KINDS
        if variable.default is None:
            assert variable.default_doc, f"{variable.name}: a computed default needs default_doc"
    settings = Settings.from_env(BASE)
    assert settings.port == 8080
    assert settings.broker.timeouts.runtime_update == 180 * 60
    assert settings.broker.free_expiration_days == 30
    assert settings.kubeconfig_allow_origins == ("*",)


@pytest.mark.parametrize(
    "variable",
    [v for v in VARIABLES if v.kind in ("int", "bool", "duration", "choice")],
    ids=lambda v: v.name,
)
def test_a_bad_value_is_refused_naming_the_variable(variable: object) -> None:
    """A value of the wrong type stops startup with a ConfigurationError naming the variable."""
    from keb_app.variables import Variable

    assert isinstance(variable, Variable)
    with pytest.raises(ConfigurationError, match=variable.name):
        Settings.from_env({**BASE, variable.name: "not-a-value-§"})


@pytest.mark.parametrize("unread", [u for u in UNREAD if u.off], ids=lambda u: u.name)
def test_a_keb_switch_keb_cannot_honour_is_refused_when_on(unread: object) -> None:
    """A KEB variable turning on a feature keb lacks stops startup; its "off" values are accepted."""
    from keb_app.variables import Unread

    assert isinstance(unread, Unread)
    for value in unread.off:
        Settings.from_env({**BASE, unread.name: value})
    with pytest.raises(ConfigurationError, match=unread.name):
        Settings.from_env({**BASE, unread.name: "true" if "false" in unread.off else "azure,aws"})


@pytest.mark.parametrize("unread", [u for u in UNREAD if not u.off], ids=lambda u: u.name)
def test_a_keb_variable_that_does_not_apply_is_accepted(unread: object) -> None:
    """A KEB variable marked not applicable never stops startup, whatever its value."""
    from keb_app.variables import Unread

    assert isinstance(unread, Unread)
    Settings.from_env({**BASE, unread.name: "anything at all"})


def test_gardener_kubeconfig_is_read_under_keb_name_and_the_old_one() -> None:
    """APP_GARDENER_KUBECONFIG_PATH (KEB) and APP_GARDENER_KUBECONFIG (keb's earlier name) both work."""
    for name in ("APP_GARDENER_KUBECONFIG_PATH", "APP_GARDENER_KUBECONFIG"):
        settings = Settings.from_env({**BASE, "APP_KCP_KUBECONFIG": "/k/kcp", name: "/k/garden"})
        assert settings.gardener_kubeconfig == Path("/k/garden")
    both = {"APP_GARDENER_KUBECONFIG_PATH": "/k/a", "APP_GARDENER_KUBECONFIG": "/k/b"}
    with pytest.raises(ConfigurationError, match="APP_GARDENER_KUBECONFIG_PATH and APP_GARDENER_KUBECONFIG"):
        Settings.from_env({**BASE, **both})


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tls") / "ca.pem"
    path.write_bytes(CertificateAuthority.generate("test-ca").cert.public_bytes(Encoding.PEM))
    return path


@pytest.mark.parametrize("mode", ["require", "verify-ca", "verify-full"])
def test_postgres_tls_with_a_root_certificate_checks_it(mode: str, ca: Path) -> None:
    """With APP_DATABASE_SSLROOTCERT the server's chain is verified, and with verify-full its host name."""
    settings = Settings.from_env(
        {**BASE, "APP_DATABASE_HOST": "db", "APP_DATABASE_SSLMODE": mode, "APP_DATABASE_SSLROOTCERT": str(ca)}
    )
    assert settings.database_tls == DatabaseTls(mode=mode, root_cert=ca)
    assert settings.database_tls is not None
    context = settings.database_tls.connect_args()["ssl"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname == (mode == "verify-full")
    assert context.get_ca_certs()


def test_postgres_tls_without_a_root_certificate_passes_the_mode() -> None:
    """Without a CA file the sslmode goes to the driver as is; `disable` means no TLS at all."""
    settings = Settings.from_env({**BASE, "APP_DATABASE_HOST": "db", "APP_DATABASE_SSLMODE": "require"})
    assert settings.database_tls is not None
    assert settings.database_tls.connect_args() == {"ssl": "require"}
    assert Settings.from_env({**BASE, "APP_DATABASE_HOST": "db"}).database_tls is None


def test_a_missing_root_certificate_file_is_refused() -> None:
    """An APP_DATABASE_SSLROOTCERT that is not a file stops startup naming the variable."""
    with pytest.raises(ConfigurationError, match="APP_DATABASE_SSLROOTCERT"):
        Settings.from_env(
            {**BASE, "APP_DATABASE_SSLMODE": "verify-full", "APP_DATABASE_SSLROOTCERT": "/no/such/ca.pem"}
        )


def test_the_document_marks_secrets_and_never_shows_a_secret_default() -> None:
    """Secret variables are marked as such in the document and have no default value shown."""
    document = render_document()
    for variable in VARIABLES:
        if variable.secret:
            line = next(line for line in document.splitlines() if line.startswith(f"| `{variable.name}`"))
            assert "secret" in line
            assert variable.default in ("", None)


def test_the_control_plane_failure_tolerance_is_read_and_checked() -> None:
    """KEB's failure tolerance variable reaches the runtime defaults; a value Gardener lacks is refused."""
    name = "APP_INFRASTRUCTURE_MANAGER_CONTROL_PLANE_FAILURE_TOLERANCE"
    settings = Settings.from_env({**BASE, name: "zone"})
    assert settings.broker.runtime.control_plane_failure_tolerance == "zone"
    assert Settings.from_env(BASE).broker.runtime.control_plane_failure_tolerance == ""
    with pytest.raises(ConfigurationError, match=name):
        Settings.from_env({**BASE, name: "region"})
