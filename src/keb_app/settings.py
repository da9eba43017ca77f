"""Settings from the environment, with KEB's variable names where KEB has the setting.

A KEB operator's values carry over: durations accept Go strings (``500ms``, ``10s``, ``60m``, ``7h``,
``1h30m``), booleans accept ``true``/``false``, lists are comma-separated. Bad values stop startup with
one line per bad value, each naming its variable.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import attrs
import yaml

from keb_adapters.sql.connection import DatabasePool, DatabaseTls
from keb_app.variables import BY_NAME, UNREAD, VARIABLES, Variable
from keb_domain import defaults
from keb_domain.errors import ConfigurationError, PlatformRegionNotServedError
from keb_domain.model.binding import ExpirationPolicy
from keb_domain.model.catalog import CatalogSettings
from keb_domain.model.configuration import (
    TrialRegionMapping,
    parse_plans_configuration,
    parse_providers_configuration,
)
from keb_domain.model.hap import DEFAULT_RULES, HapRuleError, HapRules
from keb_domain.model.plans import ALL_PLANS, PLANS_BY_NAME, Provider
from keb_domain.model.regions import BTP_PLATFORM_REGIONS, RegionPolicy
from keb_domain.model.resources import OidcConfig, RuntimeDefaults
from keb_domain.model.schemas import SchemaOptions
from keb_domain.secrets import Secret
from keb_domain.usecases.config import BrokerConfig, Pacing, Timeouts
from keb_domain.usecases.jobs import JobName, JobPeriods

T = TypeVar("T")

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Seconds in a Go duration string; a bare number is seconds."""
    text = text.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    position, total = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    if position != len(text) or not text:
        raise ValueError(f"{text!r} is not a duration such as 10s, 60m or 1h30m")
    return total


def parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off", ""):
        return False
    raise ValueError(f"{text!r} is not true or false")


def parse_list(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())


def parse_int(text: str) -> int:
    return int(text.strip())


def parse_positive_int(text: str) -> int:
    value = parse_int(text)
    if value < 1:
        raise ValueError(f"{value} is not a whole number of at least 1")
    return value


def parse_non_negative_int(text: str) -> int:
    value = parse_int(text)
    if value < 0:
        raise ValueError(f"{value} is negative")
    return value


def parse_positive_duration(text: str) -> float:
    value = parse_duration(text)
    if value <= 0:
        raise ValueError(f"{text!r} is not a duration above zero")
    return value


def parse_port(text: str) -> int:
    port = parse_int(text)
    if not 0 <= port <= 65535:
        raise ValueError(f"{port} is not a TCP port (0-65535)")
    return port


def default_data_dir(start: Path | None = None) -> Path:
    """Without ``APP_DATA_DIR``: the nearest ``.keb`` directory here or above (as git finds ``.git``),
    else ``./.keb``; so ``keb token`` run in a subdirectory finds the broker's keys."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        if (directory / ".keb").is_dir():
            return directory / ".keb"
    return Path(".keb")


class _Env:
    """Reads the variables declared in ``keb_app.variables``, typed; a bad value is noted (naming the
    variable) and the default used meanwhile, so that one run reports every bad value."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env
        self.errors: list[str] = []

    def _declared(self, key: str, *kinds: str) -> Variable:
        variable = BY_NAME[key]  # a KeyError here is a programming error: declare the variable first
        if variable.kind not in kinds:
            raise TypeError(f"{key} is declared as {variable.kind}, not {'/'.join(kinds)}")
        return variable

    def raw(self, variable: Variable) -> str | None:
        """The value set under the variable's name or one of its aliases; they must agree."""
        found = {name: value for name in (variable.name, *variable.aliases) if (value := self._env.get(name))}
        if len(set(found.values())) > 1:
            raise ConfigurationError(f"{' and '.join(found)} are both set, to different values; set one")
        return next(iter(found.values()), None)

    def get(self, key: str, parse: Callable[[str], T], kinds: tuple[str, ...], default: T | None) -> T:
        variable = self._declared(key, *kinds)
        raw = self.raw(variable)
        if raw is None:
            return self._default(variable, parse, default)
        try:
            return parse(raw)
        except ValueError as error:
            self.errors.append(f"{key}: {error}")
            return self._default(variable, parse, default)

    @staticmethod
    def _default(variable: Variable, parse: Callable[[str], T], default: T | None) -> T:
        if default is not None:
            return default
        if variable.default is None:
            raise TypeError(f"{variable.name} has a computed default: pass it")
        return parse(variable.default)

    def check_all(self) -> None:
        """Parse every declared variable that is set, read later or not, so any bad value stops startup."""
        for variable in VARIABLES:
            if (raw := self.raw(variable)) is None:
                continue
            if variable.kind in ("text", "path", "url", "choice"):
                self.text(variable.name, "")
            else:
                try:
                    _STRICTER.get(variable.name, _PARSERS[variable.kind])(raw)
                except ValueError as error:
                    self.errors.append(f"{variable.name}: {error}")

    def text(self, key: str, default: str | None = None) -> str:
        value = self.get(key, str, ("text", "path", "url", "choice"), default)
        choices = BY_NAME[key].choices
        if choices:
            wanted = value.strip().lower()
            wanted = _CHOICE_SYNONYMS.get(key, {}).get(wanted, wanted)
            match = [c for c in choices if c.lower() == wanted]
            if not match:
                self.errors.append(f"{key}: {value!r} is not one of {', '.join(choices)}")
                return self._default(BY_NAME[key], str, default)
            return match[0]
        return value

    def flag(self, key: str) -> bool:
        return self.get(key, parse_bool, ("bool",), None)

    def integer(self, key: str, parse: Callable[[str], int] = parse_int, default: int | None = None) -> int:
        return self.get(key, parse, ("int",), default)

    def seconds(
        self, key: str, default: float | None = None, parse: Callable[[str], float] = parse_duration
    ) -> float:
        return self.get(key, parse, ("duration",), default)

    def items(self, key: str, default: tuple[str, ...] | None = None) -> tuple[str, ...]:
        return self.get(key, parse_list, ("list",), default)


# Variables whose values are narrower than their kind; their reads below use the same parsers.
_STRICTER: Mapping[str, Callable[[str], Any]] = {
    "APP_BROKER_PORT": parse_port,
    "APP_BROKER_STATUS_PORT": parse_port,
    "APP_HTTP_WORKERS": parse_positive_int,
    "APP_BROKER_ADDITIONAL_VOLUME_SIZE_GI_MAX_SIZE": parse_non_negative_int,
    "APP_DATABASE_MAX_OPEN_CONNS": parse_positive_int,
    "APP_DATABASE_MAX_IDLE_CONNS": parse_non_negative_int,
    "APP_DATABASE_CONN_MAX_LIFETIME": parse_positive_duration,
    "APP_HTTP_MAX_CONNECTIONS": parse_positive_int,
    "APP_HTTP_HEADER_TIMEOUT": parse_positive_duration,
    "APP_HTTP_BODY_TIMEOUT": parse_positive_duration,
    "APP_HTTP_KEEP_ALIVE_TIMEOUT": parse_positive_duration,
    "APP_SHUTDOWN_GRACE": parse_positive_duration,
}

# Other spellings a choice accepts, by variable: Go's and Python's loggers both know "warn".
_CHOICE_SYNONYMS: Mapping[str, Mapping[str, str]] = {"APP_LOG_LEVEL": {"warn": "warning"}}
LOG_LEVELS = BY_NAME["APP_LOG_LEVEL"].choices
LOG_FORMATS = BY_NAME["APP_LOG_FORMAT"].choices

_PARSERS: dict[str, Callable[[str], Any]] = {
    "bool": parse_bool,
    "int": parse_int,
    "duration": parse_duration,
    "list": parse_list,
}


def _refuse_unsupported(env: _Env, environ: Mapping[str, str]) -> None:
    """KEB's variables that switch on what keb cannot do stop startup instead of being ignored."""
    for unread in UNREAD:
        value = environ.get(unread.name)
        if unread.off and value is not None and value.strip().lower() not in unread.off:
            env.errors.append(f"{unread.name}: {unread.reason}")


def _load_yaml(key: str, path: str) -> Any:
    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ConfigurationError(f"{key}: cannot read {path}: {error}") from None


def _plan_names(key: str, names: tuple[str, ...]) -> frozenset[str]:
    unknown = [n for n in names if n not in PLANS_BY_NAME]
    if unknown:
        raise ConfigurationError(f"{key}: unknown plan name(s) {', '.join(unknown)}")
    return frozenset(names)


# KEB's special names in plan lists (internal/broker/broker.go).
ALL_PLANS_NAME = "all"
NO_PLAN_NAME = "no-plan"


def _acl_plans(env: _Env) -> frozenset[str]:
    """``APP_BROKER_ACL_ENABLED_PLANS``: plan names, ``all`` or KEB's chart default ``no-plan``."""
    key = "APP_BROKER_ACL_ENABLED_PLANS"
    names = env.items(key)
    lowered = {name.lower() for name in names}
    if ALL_PLANS_NAME in lowered:
        return frozenset(p.name for p in ALL_PLANS)
    return _plan_names(key, tuple(n for n in names if n.lower() != NO_PLAN_NAME))


def _whitelist(key: str, path: str) -> frozenset[str]:
    """KEB's whitelist files: a YAML mapping ``whitelist: [id, ...]`` (internal/whitelist)."""
    if not path:
        return frozenset()
    loaded = _load_yaml(key, path) or {}
    ids = loaded.get("whitelist") if isinstance(loaded, Mapping) else None
    if not isinstance(loaded, Mapping) or not isinstance(ids or [], list):
        raise ConfigurationError(f"{key}: expected a mapping with a 'whitelist' list of ids")
    return frozenset(str(i) for i in ids or [])


def _additional_volume_plans(env: _Env) -> frozenset[str]:
    key = "APP_BROKER_ADDITIONAL_VOLUME_SIZE_GI_PLANS"
    plans = _plan_names(key, env.items(key))
    if plans and not env.flag("APP_BROKER_DYNAMIC_VOLUME_SIZE_ENABLED"):  # KEB's Config.Validate
        raise ConfigurationError(f"{key} requires APP_BROKER_DYNAMIC_VOLUME_SIZE_ENABLED to be true")
    return plans


def _database_tls(env: _Env) -> DatabaseTls | None:
    """``APP_DATABASE_SSLMODE`` and ``APP_DATABASE_SSLROOTCERT``: TLS to PostgreSQL as libpq does it."""
    mode = env.text("APP_DATABASE_SSLMODE")
    root = env.text("APP_DATABASE_SSLROOTCERT")
    if root and not Path(root).is_file():
        raise ConfigurationError(f"APP_DATABASE_SSLROOTCERT: {root} is not a readable file")
    if mode == "disable":
        if root:
            raise ConfigurationError("APP_DATABASE_SSLROOTCERT: set, but APP_DATABASE_SSLMODE is disable")
        return None
    return DatabaseTls(mode=mode, root_cert=Path(root) if root else None)


def _database_pool(env: _Env) -> DatabasePool:
    return DatabasePool(
        max_open=env.integer("APP_DATABASE_MAX_OPEN_CONNS", parse_positive_int),
        max_idle=env.integer("APP_DATABASE_MAX_IDLE_CONNS", parse_non_negative_int),
        max_lifetime=env.seconds("APP_DATABASE_CONN_MAX_LIFETIME", parse=parse_positive_duration),
    )


def _database_url(env: _Env, data_dir: Path) -> str:
    url = env.text("APP_DATABASE_URL")
    if url:
        if url.startswith("postgres://") or url.startswith("postgresql://"):
            url = "postgresql+asyncpg://" + url.split("://", 1)[1]
        return url
    host = env.text("APP_DATABASE_HOST")
    if host:
        user = urllib.parse.quote(env.text("APP_DATABASE_USER"), safe="")
        password = urllib.parse.quote(env.text("APP_DATABASE_PASSWORD"), safe="")
        credentials = f"{user}:{password}@" if password else f"{user}@"
        port = env.integer("APP_DATABASE_PORT")
        name = env.text("APP_DATABASE_NAME")
        return f"postgresql+asyncpg://{credentials}{host}:{port}/{name}"
    return f"sqlite+aiosqlite:///{data_dir / 'keb.db'}"


AUTH_MODES = ("local", "jwt", "none")


@attrs.frozen
class AuthSettings:
    """``APP_AUTH_*``: who checks tokens (decisions.md §4)."""

    mode: str  # local: the broker issues and checks; jwt: an external issuer; none: no checks
    issuer: str
    jwks_url: str
    audience: str | None
    leeway: int
    jwks_min_refresh: float


def _auth(env: _Env, broker_url: str) -> AuthSettings:
    mode = env.text("APP_AUTH_MODE")
    if mode not in AUTH_MODES:
        raise ConfigurationError(f"APP_AUTH_MODE: {mode!r} is not one of {', '.join(AUTH_MODES)}")
    # Kept as written: tokens' ``iss`` must match it exactly, and some issuers end it with "/" (Auth0).
    issuer = env.text("APP_AUTH_ISSUER", "" if mode == "jwt" else broker_url.rstrip("/"))
    if mode == "jwt" and not issuer:
        raise ConfigurationError("APP_AUTH_ISSUER: required with APP_AUTH_MODE=jwt")
    return AuthSettings(
        mode=mode,
        issuer=issuer,
        jwks_url=env.text("APP_AUTH_JWKS_URL", f"{issuer.rstrip('/')}/oauth2/certs"),
        audience=env.text("APP_AUTH_AUDIENCE") or None,
        leeway=int(env.seconds("APP_AUTH_LEEWAY")),
        jwks_min_refresh=env.seconds("APP_AUTH_JWKS_MIN_REFRESH_INTERVAL"),
    )


def _binding_policy(env: _Env) -> ExpirationPolicy:
    policy = ExpirationPolicy(
        default_seconds=env.integer("APP_BROKER_BINDING_EXPIRATION_SECONDS"),
        min_seconds=env.integer("APP_BROKER_BINDING_MIN_EXPIRATION_SECONDS"),
        max_seconds=env.integer("APP_BROKER_BINDING_MAX_EXPIRATION_SECONDS"),
        max_bindings=env.integer("APP_BROKER_BINDING_MAX_BINDINGS_COUNT"),
    )
    if not policy.min_seconds <= policy.default_seconds <= policy.max_seconds:
        raise ConfigurationError(
            "APP_BROKER_BINDING_EXPIRATION_SECONDS must lie between "
            "APP_BROKER_BINDING_MIN_EXPIRATION_SECONDS and APP_BROKER_BINDING_MAX_EXPIRATION_SECONDS"
        )
    if policy.min_seconds < 600:
        raise ConfigurationError(
            "APP_BROKER_BINDING_MIN_EXPIRATION_SECONDS cannot be below 600 (Gardener's minimum)"
        )
    return policy


@attrs.frozen
class ServingSettings:
    """``keb serve``: HTTP worker processes, connection limits and the stop (README, "Serving")."""

    workers: int  # HTTP worker processes, each a whole broker with its own operation engine
    header_timeout: float  # a request's line and headers must arrive within this, else the connection closes
    body_timeout: float  # a request's body must arrive within this after its headers
    keep_alive_timeout: float  # an idle keep-alive connection closes after this
    max_connections: int  # open connections per worker process; a connection beyond it is closed at once
    shutdown_grace: float  # on SIGTERM: how long open requests and running steps may take to finish


def _serving(env: _Env) -> ServingSettings:
    return ServingSettings(
        workers=env.integer("APP_HTTP_WORKERS", parse_positive_int, os.cpu_count() or 1),
        header_timeout=env.seconds("APP_HTTP_HEADER_TIMEOUT", parse=parse_positive_duration),
        body_timeout=env.seconds("APP_HTTP_BODY_TIMEOUT", parse=parse_positive_duration),
        keep_alive_timeout=env.seconds("APP_HTTP_KEEP_ALIVE_TIMEOUT", parse=parse_positive_duration),
        max_connections=env.integer("APP_HTTP_MAX_CONNECTIONS", parse_positive_int),
        shutdown_grace=env.seconds("APP_SHUTDOWN_GRACE", parse=parse_positive_duration),
    )


def _job_names(text: str) -> tuple[JobName, ...]:
    names = parse_list(text)
    known = [job.value for job in JobName]
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(f"unknown job(s) {', '.join(unknown)}; the jobs are {', '.join(known)}")
    return tuple(JobName(name) for name in names)


def _hap_rules(env: _Env, enabled_plans: frozenset[str]) -> HapRules:
    """KEB's ``APP_HAP_RULE_FILE_PATH``: a YAML file with a ``rule`` list (the chart's ``hap.rule``)."""
    key = "APP_HAP_RULE_FILE_PATH"
    path = env.text(key)
    entries: list[str] = list(DEFAULT_RULES)
    if path:
        loaded = _load_yaml(key, path)
        if not isinstance(loaded, Mapping) or not isinstance(loaded.get("rule"), list):
            raise ConfigurationError(f"{key}: expected a mapping with a 'rule' list")
        entries = [str(entry) for entry in loaded["rule"]]
    try:
        return HapRules.parse(entries, PLANS_BY_NAME, required_plans=sorted(enabled_plans))
    except HapRuleError as error:
        raise ConfigurationError(f"{key}: {error.description}") from None


@attrs.frozen
class Settings:
    """Everything the application is configured with."""

    host: str
    port: int
    status_port: int  # 0: no status port
    data_dir: Path
    database_url: str
    database_tls: DatabaseTls | None
    database_pool: DatabasePool
    broker: BrokerConfig
    recovery_delay: float
    binding_policy: ExpirationPolicy
    binding_timeout: float
    binding_cleanup_interval: float
    database_secret_key: Secret | None
    gardener_project: str
    cluster_mode: str  # "local" (the embedded landscape), "kubeconfig" or "in-cluster"
    kcp_kubeconfig: Path | None
    gardener_kubeconfig: Path | None
    kubernetes_timeout: float
    local_landscape_port: int | None
    local_failing_subaccount_prefix: str
    kubeconfig_allow_origins: tuple[str, ...]
    auth: AuthSettings
    workers: int
    serving: ServingSettings
    local_ready_after: float
    local_pool_size: int
    runtime_configuration_name: str
    seeds_cache_name: str  # APP_BROKER_GARDENER_SEEDS_CACHE_CONFIG_MAP_NAME
    kcr_config_map_name: str  # APP_BROKER_KCR_CONFIG_MAP_NAME
    job_periods: JobPeriods
    jobs_interval: float  # 0: the jobs run only as `keb job` (CronJobs)
    scheduled_jobs: tuple[JobName, ...]
    log_level: str
    log_format: str
    hap_rules: HapRules

    def __repr__(self) -> str:
        # The database URL may carry a password.
        return f"Settings(host={self.host!r}, port={self.port}, data_dir={str(self.data_dir)!r})"

    @property
    def database_kind(self) -> str:
        return "sqlite" if self.database_url.startswith("sqlite") else "postgresql"

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """The settings, or ConfigurationError with one line per bad value."""
        env = _Env(environ)
        settings: Settings | None = None
        try:
            _refuse_unsupported(env, environ)
            env.check_all()
            settings = cls._read(env, environ)
        except ConfigurationError as error:
            env.errors.append(str(error))
        if env.errors or settings is None:
            raise ConfigurationError("\n".join(dict.fromkeys(env.errors)))
        return settings

    @classmethod
    def _read(cls, env: _Env, environ: Mapping[str, str]) -> Settings:
        data_dir = Path(env.text("APP_DATA_DIR", "") or default_data_dir()).expanduser()

        plans_path = env.text("APP_PLANS_CONFIGURATION_FILE_PATH")
        providers_path = env.text("APP_PROVIDERS_CONFIGURATION_FILE_PATH")
        try:
            plans = (
                parse_plans_configuration(_load_yaml("APP_PLANS_CONFIGURATION_FILE_PATH", plans_path) or {})
                if plans_path
                else defaults.region_policy().plans
            )
        except ConfigurationError as error:
            where = plans_path or "the built-in plans.yaml"
            raise ConfigurationError(f"APP_PLANS_CONFIGURATION_FILE_PATH ({where}): {error}") from None
        try:
            providers = (
                parse_providers_configuration(
                    _load_yaml("APP_PROVIDERS_CONFIGURATION_FILE_PATH", providers_path) or {}
                )
                if providers_path
                else defaults.region_policy().providers
            )
        except ConfigurationError as error:
            where = providers_path or "the built-in providers.yaml"
            raise ConfigurationError(f"APP_PROVIDERS_CONFIGURATION_FILE_PATH ({where}): {error}") from None
        trial = TrialRegionMapping()
        trial_path = env.text("APP_TRIAL_REGION_MAPPING_FILE_PATH")
        if trial_path:
            mapping = _load_yaml("APP_TRIAL_REGION_MAPPING_FILE_PATH", trial_path)
            if not isinstance(mapping, Mapping):
                raise ConfigurationError("APP_TRIAL_REGION_MAPPING_FILE_PATH: expected a mapping")
            trial = attrs.evolve(trial, platform_to_abstract={str(k): str(v) for k, v in mapping.items()})
        trial_provider_name = env.text("APP_INFRASTRUCTURE_MANAGER_DEFAULT_TRIAL_PROVIDER")
        try:
            trial_provider = Provider.from_trial_parameter(trial_provider_name)
        except ValueError:
            raise ConfigurationError(
                "APP_INFRASTRUCTURE_MANAGER_DEFAULT_TRIAL_PROVIDER: "
                f"{trial_provider_name!r} is not AWS, Azure or GCP"
            ) from None
        try:
            policy = RegionPolicy(
                plans=plans,
                providers=providers,
                trial=trial,
                default_trial_provider=trial_provider,
                platform_regions=env.items("APP_BROKER_PLATFORM_REGIONS", BTP_PLATFORM_REGIONS),
            )
        except ConfigurationError as error:
            raise ConfigurationError(f"APP_BROKER_PLATFORM_REGIONS: {error}") from None
        if misspelt := policy.misspelt_platform_regions():
            raise ConfigurationError(
                "plans configuration or trial region mapping: platform regions must be written in ASCII "
                f"lower case (letters, digits, '-'): {', '.join(repr(m[:63]) for m in misspelt[:5])}"
            )
        default_region = env.text("APP_BROKER_DEFAULT_REQUEST_REGION")
        try:
            default_region = policy.served_platform_region(default_region)
        except PlatformRegionNotServedError as error:
            raise ConfigurationError(f"APP_BROKER_DEFAULT_REQUEST_REGION: {error.description}") from None

        all_names = tuple(p.name for p in ALL_PLANS)
        ingress_plans = _plan_names(
            "APP_INFRASTRUCTURE_MANAGER_INGRESS_FILTERING_PLANS",
            env.items("APP_INFRASTRUCTURE_MANAGER_INGRESS_FILTERING_PLANS"),
        )
        catalog = CatalogSettings(
            enabled_plans=_plan_names(
                "APP_BROKER_ENABLE_PLANS", env.items("APP_BROKER_ENABLE_PLANS", all_names)
            ),
            bindings_enabled=env.flag("APP_BROKER_BINDING_ENABLED"),
            bindable_plans=_plan_names(
                "APP_BROKER_BINDING_BINDABLE_PLANS",
                env.items("APP_BROKER_BINDING_BINDABLE_PLANS", all_names),
            ),
            plan_upgrades_enabled=env.flag("APP_BROKER_ENABLE_PLAN_UPGRADES"),
            schema_options=SchemaOptions(
                reject_unsupported_parameters=env.flag("APP_BROKER_REJECT_UNSUPPORTED_PARAMETERS"),
                default_module_channel=env.text("APP_BROKER_DEFAULT_MODULE_CHANNEL"),
                audit_log_access=env.flag("APP_BROKER_AUDIT_LOG_ACCESS"),
                ingress_filtering_plans=ingress_plans,
                gvisor=env.flag("APP_BROKER_GVISOR_ENABLED"),
                acl_plans=_acl_plans(env),
                additional_volume_plans=_additional_volume_plans(env),
                additional_volume_max_gi=env.integer(
                    "APP_BROKER_ADDITIONAL_VOLUME_SIZE_GI_MAX_SIZE", parse_non_negative_int
                ),
            ),
        )
        oidc = OidcConfig()
        oidc_path = env.text("APP_SKR_OIDC_DEFAULT_VALUES_YAML_FILE_PATH")
        if oidc_path:
            raw_oidc = _load_yaml("APP_SKR_OIDC_DEFAULT_VALUES_YAML_FILE_PATH", oidc_path) or {}
            oidc = OidcConfig(
                client_id=str(raw_oidc.get("clientID", oidc.client_id)),
                issuer_url=str(raw_oidc.get("issuerURL", oidc.issuer_url)),
                groups_claim=str(raw_oidc.get("groupsClaim", oidc.groups_claim)),
                groups_prefix=str(raw_oidc.get("groupsPrefix", oidc.groups_prefix)),
                username_claim=str(raw_oidc.get("usernameClaim", oidc.username_claim)),
                username_prefix=str(raw_oidc.get("usernamePrefix", oidc.username_prefix)),
                signing_algs=tuple(raw_oidc.get("signingAlgs", oidc.signing_algs)),
            )
        runtime = RuntimeDefaults(
            kubernetes_version=env.text("APP_INFRASTRUCTURE_MANAGER_KUBERNETES_VERSION"),
            machine_image=env.text("APP_INFRASTRUCTURE_MANAGER_MACHINE_IMAGE"),
            machine_image_version=env.text("APP_INFRASTRUCTURE_MANAGER_MACHINE_IMAGE_VERSION"),
            default_purpose=env.text("APP_INFRASTRUCTURE_MANAGER_DEFAULT_GARDENER_SHOOT_PURPOSE"),
            multi_zone=env.flag("APP_INFRASTRUCTURE_MANAGER_MULTI_ZONE_CLUSTER"),
            audit_log_access=env.flag("APP_BROKER_AUDIT_LOG_ACCESS"),
            ingress_filtering_plans=ingress_plans,
            dynamic_volume_size=env.flag("APP_BROKER_DYNAMIC_VOLUME_SIZE_ENABLED"),
            control_plane_failure_tolerance=env.text(
                "APP_INFRASTRUCTURE_MANAGER_CONTROL_PLANE_FAILURE_TOLERANCE"
            ),
            shoot_domain=env.text("APP_GARDENER_SHOOT_DOMAIN"),
            oidc=oidc,
        )
        timeouts = Timeouts(
            runtime_create=env.seconds("APP_STEP_TIMEOUTS_CHECK_RUNTIME_RESOURCE_CREATE"),
            runtime_update=env.seconds("APP_STEP_TIMEOUTS_CHECK_RUNTIME_RESOURCE_UPDATE"),
            runtime_deletion=env.seconds("APP_STEP_TIMEOUTS_CHECK_RUNTIME_RESOURCE_DELETION"),
            operation=env.seconds("APP_BROKER_OPERATION_TIMEOUT"),
        )
        kcp_kubeconfig = env.text("APP_KCP_KUBECONFIG")
        gardener_kubeconfig = env.text("APP_GARDENER_KUBECONFIG_PATH")
        if kcp_kubeconfig:
            cluster_mode = "kubeconfig"
        elif environ.get("KUBERNETES_SERVICE_HOST"):
            cluster_mode = "in-cluster"
        else:
            cluster_mode = "local"
        if cluster_mode != "local" and not gardener_kubeconfig:
            raise ConfigurationError(
                "APP_GARDENER_KUBECONFIG_PATH: required with a real KCP (APP_KCP_KUBECONFIG or in-cluster), "
                "for the shoots/adminkubeconfig bindings"
            )
        # Against the local landscape runtimes are Ready in seconds; a real KCP is polled every 10s (KEB).
        local = cluster_mode == "local"
        poll = env.seconds("APP_OPERATION_POLL_INTERVAL", 1.0 if local else 10.0)
        pacing = Pacing(poll_interval=poll, retry_base=min(1.0, poll), retry_max=max(60.0, poll))
        port = env.integer("APP_BROKER_PORT", parse_port)
        host = env.text("APP_BROKER_HOST")
        broker = BrokerConfig(
            policy=policy,
            catalog=catalog,
            runtime=runtime,
            timeouts=timeouts,
            pacing=pacing,
            default_platform_region=default_region,
            only_single_trial_per_global_account=env.flag("APP_BROKER_ONLY_SINGLE_TRIAL_PER_GA"),
            update_processing_enabled=env.flag("APP_UPDATE_PROCESSING_ENABLED"),
            dashboard_landscape_url=env.text("APP_KYMA_DASHBOARD_CONFIG_LANDSCAPE_URL"),
            broker_url=env.text("APP_BROKER_URL", f"http://{host}:{port}"),
            free_expiration_days=env.seconds("APP_BROKER_FREE_EXPIRATION_PERIOD") / 86400,
            gvisor_allowed_global_accounts=_whitelist(
                "APP_GVISOR_WHITELISTED_GLOBAL_ACCOUNTS_FILE_PATH",
                env.text("APP_GVISOR_WHITELISTED_GLOBAL_ACCOUNTS_FILE_PATH"),
            ),
        )
        return cls(
            host=host,
            port=port,
            status_port=env.integer("APP_BROKER_STATUS_PORT", parse_port),
            data_dir=data_dir,
            database_url=_database_url(env, data_dir),
            database_tls=_database_tls(env),
            database_pool=_database_pool(env),
            broker=broker,
            recovery_delay=env.seconds("APP_OPERATION_RECOVERY_DELAY"),
            binding_policy=_binding_policy(env),
            binding_timeout=env.seconds("APP_BROKER_BINDING_CREATE_BINDING_TIMEOUT"),
            binding_cleanup_interval=env.seconds("APP_BROKER_BINDING_CLEANUP_INTERVAL"),
            database_secret_key=Secret(key) if (key := env.text("APP_DATABASE_SECRET_KEY")) else None,
            gardener_project=env.text("APP_GARDENER_PROJECT"),
            cluster_mode=cluster_mode,
            kcp_kubeconfig=Path(kcp_kubeconfig) if kcp_kubeconfig else None,
            gardener_kubeconfig=Path(gardener_kubeconfig) if gardener_kubeconfig else None,
            kubernetes_timeout=env.seconds("APP_KUBERNETES_REQUEST_TIMEOUT"),
            local_landscape_port=env.integer("APP_LOCAL_LANDSCAPE_PORT") or None,
            local_failing_subaccount_prefix=env.text("APP_LOCAL_LANDSCAPE_FAILING_SUBACCOUNT_PREFIX"),
            kubeconfig_allow_origins=env.items("APP_KUBECONFIG_ALLOW_ORIGINS"),
            auth=_auth(env, broker.broker_url),
            workers=env.integer("APP_OPERATION_WORKERS"),
            serving=_serving(env),
            local_ready_after=env.seconds("APP_LOCAL_LANDSCAPE_READY_AFTER"),
            local_pool_size=env.integer("APP_LOCAL_LANDSCAPE_POOL_SIZE"),
            runtime_configuration_name=env.text("APP_RUNTIME_CONFIGURATION_CONFIG_MAP_NAME"),
            seeds_cache_name=env.text("APP_BROKER_GARDENER_SEEDS_CACHE_CONFIG_MAP_NAME"),
            kcr_config_map_name=env.text("APP_BROKER_KCR_CONFIG_MAP_NAME"),
            log_level=env.text("APP_LOG_LEVEL").upper(),
            log_format=env.text("APP_LOG_FORMAT"),
            hap_rules=_hap_rules(env, catalog.enabled_plans),
            job_periods=JobPeriods(
                trial_expiration=env.seconds("APP_TRIAL_CLEANUP_EXPIRATION_PERIOD"),
                free_expiration=env.seconds("APP_FREE_EXPIRATION_PERIOD"),
                free_cleanup=env.seconds("APP_FREE_CLEANUP_EXPIRATION_PERIOD"),
            ),
            jobs_interval=env.seconds("APP_JOBS_INTERVAL"),
            scheduled_jobs=env.get("APP_JOBS", _job_names, ("list",), None),
        )
