"""Every environment variable keb reads, declared once: name, KEB's name and aliases, type, default, meaning.

``Settings.from_env`` reads variables only through this table, ``docs/configuration.md`` is generated from
it (``keb config docs``), and a test keeps the committed document current. The second table lists every
``APP_*`` variable of KEB's Helm chart (``resources/keb/templates/deployment.yaml``) that keb does not read,
and why: either it does not apply to keb, or it switches on a KEB feature keb does not have, in which case
keb refuses to start when it is set to anything but its "off" value, so nothing an operator sets is
silently ignored.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

KINDS = ("text", "bool", "int", "duration", "list", "path", "url", "choice")


@attrs.frozen
class Variable:
    """One environment variable keb reads."""

    name: str
    kind: str
    default: str | None  # the text parsed when unset; None: computed, see ``default_doc``
    meaning: str
    group: str
    keb: bool = True  # KEB's chart has a variable of this name
    aliases: tuple[str, ...] = ()
    secret: bool = False
    choices: tuple[str, ...] = ()
    default_doc: str = ""

    @property
    def shown_default(self) -> str:
        if self.default_doc:
            return self.default_doc
        if self.default is None or self.default == "":
            return "(empty)"
        return f"`{self.default}`"


def _v(
    name: str,
    kind: str,
    default: str | None,
    meaning: str,
    *,
    keb: bool = True,
    aliases: tuple[str, ...] = (),
    secret: bool = False,
    choices: tuple[str, ...] = (),
    default_doc: str = "",
) -> Variable:
    return Variable(
        name=name,
        kind=kind,
        default=default,
        meaning=meaning,
        group=_group,
        keb=keb,
        aliases=aliases,
        secret=secret,
        choices=choices,
        default_doc=default_doc,
    )


_group = "Server"
_SERVER = [
    _v("APP_BROKER_HOST", "text", "127.0.0.1", "Address the HTTP server listens on.", keb=False),
    _v("APP_BROKER_PORT", "int", "8080", "Port the HTTP server listens on (0-65535)."),
    _v(
        "APP_BROKER_STATUS_PORT",
        "int",
        "8071",
        "Port of the status server (`/healthz`, `/readyz`, `/metrics`) on `APP_BROKER_HOST`; 0: none.",
    ),
    _v(
        "APP_BROKER_URL",
        "url",
        None,
        "The broker's public URL; used in the `KubeconfigURL` label of instances.",
        default_doc="`http://{APP_BROKER_HOST}:{APP_BROKER_PORT}`",
    ),
    _v(
        "APP_DATA_DIR",
        "path",
        None,
        "Data directory of the embedded run (SQLite, keys).",
        keb=False,
        default_doc="the nearest `.keb` directory here or above, else `./.keb`",
    ),
    _v(
        "APP_LOG_LEVEL",
        "choice",
        "info",
        "Log level.",
        keb=False,
        choices=("debug", "info", "warning", "error"),
    ),
    _v("APP_LOG_FORMAT", "choice", "text", "Log format.", keb=False, choices=("text", "json")),
    _v(
        "APP_KUBECONFIG_ALLOW_ORIGINS",
        "list",
        "*",
        "CORS origins allowed on `GET /kubeconfig/{instance_id}`.",
    ),
]

_group = "Serving"
_SERVING = [
    _v(
        "APP_HTTP_WORKERS",
        "int",
        None,
        "HTTP worker processes of `keb serve`, each a whole broker with its own operation engine; "
        "at least 1.",
        keb=False,
        default_doc="the number of CPUs",
    ),
    _v(
        "APP_HTTP_HEADER_TIMEOUT",
        "duration",
        "10s",
        "A request's line and headers must arrive within this, else the connection closes; above zero.",
        keb=False,
    ),
    _v(
        "APP_HTTP_BODY_TIMEOUT",
        "duration",
        "30s",
        "A request's body must arrive within this after its headers; above zero.",
        keb=False,
    ),
    _v(
        "APP_HTTP_KEEP_ALIVE_TIMEOUT",
        "duration",
        "65s",
        "An idle keep-alive connection closes after this (above the 60 s idle timeout of common load "
        "balancers); above zero.",
        keb=False,
    ),
    _v(
        "APP_HTTP_MAX_CONNECTIONS",
        "int",
        "1000",
        "Open connections per worker process; a connection beyond it is closed at once; at least 1.",
        keb=False,
    ),
    _v(
        "APP_SHUTDOWN_GRACE",
        "duration",
        "20s",
        "On SIGTERM: how long open requests and running steps may take to finish; above zero.",
        keb=False,
    ),
]

_group = "Database"
_DATABASE = [
    _v(
        "APP_DATABASE_URL",
        "url",
        "",
        "A whole database URL (`postgresql://...` or `sqlite+aiosqlite:///...`); wins over the parts below. "
        "Empty: the parts below, or SQLite in the data directory.",
        keb=False,
        secret=True,
    ),
    _v("APP_DATABASE_HOST", "text", "", "PostgreSQL host; set, keb uses PostgreSQL."),
    _v("APP_DATABASE_PORT", "int", "5432", "PostgreSQL port."),
    _v("APP_DATABASE_NAME", "text", "broker", "PostgreSQL database."),
    _v("APP_DATABASE_USER", "text", "postgres", "PostgreSQL user."),
    _v("APP_DATABASE_PASSWORD", "text", "", "PostgreSQL password.", secret=True),
    _v(
        "APP_DATABASE_SSLMODE",
        "choice",
        "disable",
        "TLS to PostgreSQL, as libpq's `sslmode`.",
        choices=("disable", "allow", "prefer", "require", "verify-ca", "verify-full"),
    ),
    _v(
        "APP_DATABASE_SSLROOTCERT",
        "path",
        "",
        "CA certificate file (PEM) the server certificate is checked against with `verify-ca` and "
        "`verify-full`; empty: the system's CAs. A server certificate that fails the check (another CA, "
        "or with `verify-full` not issued for `APP_DATABASE_HOST`) stops startup, naming both variables.",
    ),
    _v(
        "APP_DATABASE_MAX_OPEN_CONNS",
        "int",
        "10",
        "Connections to the database one broker process opens at most (KEB: 8); above zero.",
    ),
    _v(
        "APP_DATABASE_MAX_IDLE_CONNS",
        "int",
        "10",
        "Of those, how many stay open between uses (KEB: 2); the others are closed when returned. Below "
        "the maximum, a steady load opens and closes connections all the time.",
    ),
    _v(
        "APP_DATABASE_CONN_MAX_LIFETIME",
        "duration",
        "30m",
        "A connection older than this is replaced when it is next taken from the pool.",
    ),
    _v(
        "APP_DATABASE_SECRET_KEY",
        "text",
        "",
        "AES key (16, 24 or 32 bytes) encrypting binding credentials at rest; required with PostgreSQL, "
        "generated into the data directory for the embedded run.",
        secret=True,
    ),
]

_group = "Clusters"
_CLUSTERS = [
    _v(
        "APP_KCP_KUBECONFIG",
        "path",
        "",
        "Kubeconfig of the Kyma Control Plane. Empty: in-cluster configuration when running in a pod, "
        "else the embedded local landscape.",
        keb=False,
    ),
    _v(
        "APP_GARDENER_KUBECONFIG_PATH",
        "path",
        "",
        "Kubeconfig of the Gardener project (admin kubeconfigs for bindings); required with a real KCP.",
        aliases=("APP_GARDENER_KUBECONFIG",),
    ),
    _v("APP_GARDENER_PROJECT", "text", "kyma-dev", "Gardener project (namespace `garden-{project}`)."),
    _v("APP_GARDENER_SHOOT_DOMAIN", "text", "kyma.example.com", "DNS domain of the shoots."),
    _v("APP_KUBERNETES_REQUEST_TIMEOUT", "duration", "30s", "Timeout of one Kubernetes API call.", keb=False),
    _v("APP_LOCAL_LANDSCAPE_PORT", "int", "0", "Port of the local landscape; 0: any free port.", keb=False),
    _v(
        "APP_LOCAL_LANDSCAPE_READY_AFTER",
        "duration",
        "3s",
        "How long the local landscape's KIM takes to make a runtime Ready.",
        keb=False,
    ),
    _v(
        "APP_LOCAL_LANDSCAPE_FAILING_SUBACCOUNT_PREFIX",
        "text",
        "fail-",
        "Runtimes of subaccounts starting with this fail in the local landscape (to show failures).",
        keb=False,
    ),
]

_group = "Catalog and plans"
_CATALOG = [
    _v(
        "APP_BROKER_ENABLE_PLANS",
        "list",
        None,
        "Plans offered (names, as in the catalog); a platform region's catalog lists an enabled plan where "
        "the plans configuration gives it regions there.",
        default_doc="all plans",
    ),
    _v(
        "APP_BROKER_ENABLE_PLAN_UPGRADES",
        "bool",
        "false",
        "Allow updates that change the plan (as the plans configuration's `upgradableToPlans`).",
    ),
    _v(
        "APP_BROKER_REJECT_UNSUPPORTED_PARAMETERS",
        "bool",
        "false",
        "Refuse parameters the plan's schema does not have (else they are accepted and dropped).",
    ),
    _v(
        "APP_BROKER_DEFAULT_MODULE_CHANNEL",
        "text",
        "regular",
        "Kyma module channel of new runtimes.",
        keb=False,
    ),
    _v(
        "APP_BROKER_AUDIT_LOG_ACCESS",
        "bool",
        "false",
        "Offer the `auditLogAccess` parameter (all plans but trial and free); `true` sets the Runtime "
        "resource's `spec.auditLogAccessEnabled`, and it cannot be switched off again.",
    ),
    _v(
        "APP_BROKER_GVISOR_ENABLED",
        "bool",
        "false",
        "Offer the `gvisor` parameter (main worker and worker pools) in every plan but those whose "
        "configuration sets `disableGvisor`; `gvisor.enabled` gives a worker gVisor as container runtime "
        "(`cri`). Only the global accounts of `APP_GVISOR_WHITELISTED_GLOBAL_ACCOUNTS_FILE_PATH` may "
        "enable it.",
    ),
    _v(
        "APP_GVISOR_WHITELISTED_GLOBAL_ACCOUNTS_FILE_PATH",
        "path",
        "",
        "YAML file `whitelist: [<global account id>, ...]`: the accounts that may enable gVisor; "
        "empty: none.",
    ),
    _v(
        "APP_BROKER_ACL_ENABLED_PLANS",
        "list",
        "",
        "Plans offering `accessControlList` (`spec.shoot.kubernetes.kubeAPIServer.acl`); `all`: every plan, "
        "`no-plan`: none.",
    ),
    _v(
        "APP_BROKER_ADDITIONAL_VOLUME_SIZE_GI_PLANS",
        "list",
        "",
        "Plans offering `additionalVolumeSizeGi` (main worker and worker pools), added to each worker's "
        "volume; needs `APP_BROKER_DYNAMIC_VOLUME_SIZE_ENABLED=true`, as in KEB.",
    ),
    _v(
        "APP_BROKER_ADDITIONAL_VOLUME_SIZE_GI_MAX_SIZE",
        "int",
        "100",
        "Largest `additionalVolumeSizeGi` the schemas allow (KEB's chart default).",
    ),
    _v(
        "APP_BROKER_DYNAMIC_VOLUME_SIZE_ENABLED",
        "bool",
        "false",
        "Size each worker's volume by its machine type from the ConfigMap `APP_BROKER_KCR_CONFIG_MAP_NAME` "
        "instead of the plan's `volumeSizeGb`; startup stops unless it sizes every machine type of the "
        "providers configuration (for enabled plans), as in KEB.",
    ),
    _v(
        "APP_PLANS_CONFIGURATION_FILE_PATH",
        "path",
        "",
        "Plans configuration in KEB's YAML format; empty: the built-in one.",
    ),
    _v(
        "APP_PROVIDERS_CONFIGURATION_FILE_PATH",
        "path",
        "",
        "Providers configuration in KEB's YAML format; empty: the built-in one.",
    ),
    _v(
        "APP_TRIAL_REGION_MAPPING_FILE_PATH",
        "path",
        "",
        "YAML mapping from platform region to the trial plan's abstract region.",
    ),
    _v(
        "APP_BROKER_DEFAULT_REQUEST_REGION",
        "text",
        "cf-eu10",
        "Platform region of requests under `/oauth/v2/...` (no region in the path); must be one of "
        "`APP_BROKER_PLATFORM_REGIONS`, written in its canonical (lower-case) form.",
    ),
    _v(
        "APP_BROKER_PLATFORM_REGIONS",
        "list",
        None,
        "Platform regions served besides those the plans configuration names; a request under "
        "`/oauth/{region}/...` for any other region is refused.",
        keb=False,
        default_doc="SAP BTP's Cloud Foundry regions (`keb_domain.model.regions.BTP_PLATFORM_REGIONS`)",
    ),
    _v(
        "APP_BROKER_ONLY_SINGLE_TRIAL_PER_GA",
        "bool",
        "true",
        "At most one trial instance per global account.",
    ),
    _v(
        "APP_BROKER_FREE_EXPIRATION_PERIOD",
        "duration",
        "720h",
        "Lifetime of a free-plan instance, for its expiration label.",
    ),
    _v("APP_UPDATE_PROCESSING_ENABLED", "bool", "true", "Accept updates of instances (else 422)."),
    _v(
        "APP_KYMA_DASHBOARD_CONFIG_LANDSCAPE_URL",
        "url",
        "https://dashboard.kyma.cloud.sap",
        "Base of the instances' `dashboard_url`.",
    ),
]

_group = "Runtime resource"
_RUNTIME = [
    _v(
        "APP_INFRASTRUCTURE_MANAGER_KUBERNETES_VERSION", "text", "1.33", "Kubernetes version of new runtimes."
    ),
    _v(
        "APP_INFRASTRUCTURE_MANAGER_MACHINE_IMAGE",
        "text",
        "",
        "Machine image name; empty: Gardener's default.",
    ),
    _v(
        "APP_INFRASTRUCTURE_MANAGER_MACHINE_IMAGE_VERSION",
        "text",
        "",
        "Machine image version; empty: Gardener's default.",
    ),
    _v(
        "APP_INFRASTRUCTURE_MANAGER_DEFAULT_GARDENER_SHOOT_PURPOSE",
        "text",
        "development",
        "Shoot purpose of paid plans (trial and free get `evaluation`).",
    ),
    _v(
        "APP_INFRASTRUCTURE_MANAGER_MULTI_ZONE_CLUSTER",
        "bool",
        "true",
        "Spread workers of paid plans over three zones.",
    ),
    _v(
        "APP_INFRASTRUCTURE_MANAGER_CONTROL_PLANE_FAILURE_TOLERANCE",
        "choice",
        "",
        "`spec.shoot.controlPlane.highAvailability.failureTolerance.type` of the standard plans' runtimes "
        "(`node` or `zone`); empty: no highly available control plane.",
        choices=("", "node", "zone"),
    ),
    _v(
        "APP_INFRASTRUCTURE_MANAGER_INGRESS_FILTERING_PLANS",
        "list",
        "",
        "Plans offering the `ingressFiltering` parameter (geo-blocking, "
        "`spec.security.networking.filter.ingress`); internal accounts only.",
    ),
    _v(
        "APP_INFRASTRUCTURE_MANAGER_DEFAULT_TRIAL_PROVIDER",
        "choice",
        "Azure",
        "Provider of trial runtimes when the platform region does not decide it.",
        choices=("AWS", "Azure", "GCP"),
    ),
    _v(
        "APP_SKR_OIDC_DEFAULT_VALUES_YAML_FILE_PATH",
        "path",
        "",
        "YAML with the default OIDC values of runtimes (`clientID`, `issuerURL`, ...).",
    ),
]

_group = "Bindings"
_BINDINGS = [
    _v("APP_BROKER_BINDING_ENABLED", "bool", "true", "Offer bindings (kubeconfigs)."),
    _v(
        "APP_BROKER_BINDING_BINDABLE_PLANS", "list", None, "Plans that are bindable.", default_doc="all plans"
    ),
    _v("APP_BROKER_BINDING_EXPIRATION_SECONDS", "int", "600", "Default `expiration_seconds`."),
    _v("APP_BROKER_BINDING_MIN_EXPIRATION_SECONDS", "int", "600", "Smallest `expiration_seconds` (>= 600)."),
    _v("APP_BROKER_BINDING_MAX_EXPIRATION_SECONDS", "int", "7200", "Largest `expiration_seconds`."),
    _v("APP_BROKER_BINDING_MAX_BINDINGS_COUNT", "int", "10", "Unexpired bindings allowed per instance."),
    _v(
        "APP_BROKER_BINDING_CREATE_BINDING_TIMEOUT",
        "duration",
        "15s",
        "Longest a bind request may take before it answers 503.",
    ),
    _v(
        "APP_BROKER_BINDING_CLEANUP_INTERVAL",
        "duration",
        "1h",
        "How often expired bindings are removed.",
        keb=False,
    ),
]

_group = "Operations"
_OPERATIONS = [
    _v(
        "APP_OPERATION_WORKERS",
        "int",
        "60",
        "Operations processed at once by this replica (one pool for provisioning, update and "
        "deprovisioning; KEB runs three pools of 20). A worker waits mostly on KCP and the database, so "
        "more workers finish more operations per second (bench/README.md).",
        keb=False,
    ),
    _v(
        "APP_OPERATION_POLL_INTERVAL",
        "duration",
        None,
        "How often a Runtime resource is polled.",
        keb=False,
        default_doc="`1s` with the local landscape, else `10s`",
    ),
    _v(
        "APP_OPERATION_RECOVERY_DELAY",
        "duration",
        "2m",
        "Lease of an operation: a replica takes over an operation whose owner is silent this long.",
    ),
    _v("APP_BROKER_OPERATION_TIMEOUT", "duration", "24h", "Longest a whole operation may take."),
    _v(
        "APP_STEP_TIMEOUTS_CHECK_RUNTIME_RESOURCE_CREATE",
        "duration",
        "60m",
        "Longest wait for a new Runtime resource to be Ready.",
    ),
    _v(
        "APP_STEP_TIMEOUTS_CHECK_RUNTIME_RESOURCE_UPDATE",
        "duration",
        "180m",
        "Longest wait for an updated Runtime resource to be Ready.",
    ),
    _v(
        "APP_STEP_TIMEOUTS_CHECK_RUNTIME_RESOURCE_DELETION",
        "duration",
        "60m",
        "Longest wait for a Runtime resource to be gone.",
    ),
]

_group = "Authentication"
_AUTH = [
    _v(
        "APP_AUTH_MODE",
        "choice",
        "local",
        "Who checks bearer tokens: `local` (the embedded issuer), `jwt` (an external issuer), `none`.",
        keb=False,
        choices=("local", "jwt", "none"),
    ),
    _v(
        "APP_AUTH_ISSUER",
        "url",
        None,
        "Issuer (`iss`) of accepted tokens; required with `jwt`.",
        keb=False,
        default_doc="the broker URL with `local`",
    ),
    _v(
        "APP_AUTH_JWKS_URL",
        "url",
        None,
        "Where the issuer's keys are.",
        keb=False,
        default_doc="`{APP_AUTH_ISSUER}/oauth2/certs`",
    ),
    _v("APP_AUTH_AUDIENCE", "text", "", "Required `aud` of tokens; empty: not checked.", keb=False),
    _v("APP_AUTH_LEEWAY", "duration", "30s", "Clock skew allowed on `exp` and `nbf`.", keb=False),
    _v(
        "APP_AUTH_JWKS_MIN_REFRESH_INTERVAL",
        "duration",
        "10s",
        "Least time between two fetches of the issuer's keys.",
        keb=False,
    ),
]

_group = "Accounts, runtime configuration and jobs"
_LANDSCAPE = [
    _v(
        "APP_HAP_RULE_FILE_PATH",
        "path",
        "",
        "YAML file with a `rule` list in KEB's HAP rule language (the chart's `hap.rule`); "
        "empty: the chart's rules, built in, plus those of KEB's test rules for the plans the chart leaves "
        "out (`build-runtime-*`, `alicloud`, `gdch`).",
    ),
    _v(
        "APP_RUNTIME_CONFIGURATION_CONFIG_MAP_NAME",
        "text",
        "keb-runtime-config",
        "ConfigMap in kcp-system with the Kyma template per plan (`default` as fallback); absent: built in.",
    ),
    _v(
        "APP_BROKER_GARDENER_SEEDS_CACHE_CONFIG_MAP_NAME",
        "text",
        "gardener-seeds-cache",
        'ConfigMap in kcp-system with Gardener\'s seed regions per provider (`aws: "seedRegions: [...]"`, '
        "`default` as fallback): `colocateControlPlane` is refused outside them.",
    ),
    _v(
        "APP_BROKER_KCR_CONFIG_MAP_NAME",
        "text",
        "consumption-reporter-config",
        "ConfigMap in kcp-system whose `nodemeterconfig.yaml` gives the volume size per provider and machine "
        "type (`meters.node.machine_types.<provider>.<machine>.default_volume_size`); read with "
        "`APP_BROKER_DYNAMIC_VOLUME_SIZE_ENABLED`.",
    ),
    _v(
        "APP_LOCAL_LANDSCAPE_POOL_SIZE",
        "int",
        "20",
        "CredentialsBindings the local landscape seeds per hyperscaler pool.",
        keb=False,
    ),
    _v(
        "APP_TRIAL_CLEANUP_EXPIRATION_PERIOD",
        "duration",
        "336h",
        "`keb job trial-expiration` suspends trials older than this.",
        keb=False,
    ),
    _v(
        "APP_FREE_EXPIRATION_PERIOD",
        "duration",
        "720h",
        "`keb job free-expiration` expires free instances older than this.",
        keb=False,
    ),
    _v(
        "APP_FREE_CLEANUP_EXPIRATION_PERIOD",
        "duration",
        "2160h",
        "`keb job free-cleanup` deprovisions expired free instances older than this.",
        keb=False,
    ),
    _v(
        "APP_JOBS_INTERVAL",
        "duration",
        "0s",
        "Run the jobs of `APP_JOBS` in the broker this often; 0: only as `keb job` (CronJobs).",
        keb=False,
    ),
    _v(
        "APP_JOBS",
        "list",
        "trial-expiration,free-expiration,free-cleanup,deprovision-retrigger",
        "The jobs the in-process schedule runs.",
        keb=False,
    ),
]

VARIABLES: tuple[Variable, ...] = (
    *_SERVER,
    *_SERVING,
    *_DATABASE,
    *_CLUSTERS,
    *_CATALOG,
    *_LANDSCAPE,
    *_RUNTIME,
    *_BINDINGS,
    *_OPERATIONS,
    *_AUTH,
)
BY_NAME: Mapping[str, Variable] = {v.name: v for v in VARIABLES}
ALIASES: Mapping[str, Variable] = {alias: v for v in VARIABLES for alias in v.aliases}


@attrs.frozen
class Unread:
    """A variable of KEB's chart keb does not read.

    ``off`` lists the values that leave the KEB feature switched off; any other value stops startup,
    because keb cannot do what it asks. Empty ``off``: the variable does not apply, any value is accepted.
    """

    name: str
    reason: str
    off: tuple[str, ...] = ()


_DISABLED = ("", "false")
_NOT_SET = ("",)

UNREAD: tuple[Unread, ...] = (
    Unread(
        "APP_INFRASTRUCTURE_MANAGER_USE_SMALLER_MACHINE_TYPES",
        "KEB's smaller trial and free machine types are not implemented; `true` stops startup.",
        _DISABLED,
    ),
    Unread(
        "APP_INFRASTRUCTURE_MANAGER_MAX_PODS",
        "Only applied to the global accounts of `APP_MAX_PODS_WHITELISTED_GLOBAL_ACCOUNTS_FILE_PATH`.",
    ),
    Unread(
        "APP_MAX_PODS_WHITELISTED_GLOBAL_ACCOUNTS_FILE_PATH",
        "Per-account max pods are not implemented; a file path stops startup.",
        _NOT_SET,
    ),
    Unread(
        "APP_BROKER_RESTRICT_TO_ALLOWED_GLOBAL_ACCOUNTS",
        "Restricting the broker to listed global accounts is not implemented; `true` stops startup.",
        _DISABLED,
    ),
    Unread(
        "APP_BROKER_ALLOWED_GLOBAL_ACCOUNTS",
        "Only used with `APP_BROKER_RESTRICT_TO_ALLOWED_GLOBAL_ACCOUNTS`, which keb refuses.",
    ),
    Unread(
        "APP_BROKER_ONLY_ONE_FREE_PER_GA",
        "A limit of one free instance per global account is not implemented; `true` stops startup.",
        _DISABLED,
    ),
    Unread(
        "APP_BROKER_SUBACCOUNT_MOVEMENT_ENABLED",
        "Moving instances between global accounts is not implemented; `true` stops startup.",
        _DISABLED,
    ),
    Unread(
        "APP_BROKER_UPDATE_CUSTOM_RESOURCES_LABELS_ON_ACCOUNT_MOVE",
        "Only used with subaccount movement (see above); `true` stops startup.",
        _DISABLED,
    ),
    Unread(
        "APP_BROKER_SYNC_EMPTY_UPDATE_RESPONSE_ENABLED",
        "keb always answers an update that changes nothing synchronously (200), as KEB's chart default.",
    ),
    Unread(
        "APP_BROKER_CHECK_QUOTA_LIMIT",
        "The CIS entitlements quota check is not implemented; `true` stops startup.",
        _DISABLED,
    ),
    *(
        Unread(name, "Only used with `APP_BROKER_CHECK_QUOTA_LIMIT`, which keb refuses.")
        for name in (
            "APP_QUOTA_AUTH_URL",
            "APP_QUOTA_CLIENT_ID",
            "APP_QUOTA_CLIENT_SECRET",
            "APP_QUOTA_INTERVAL",
            "APP_QUOTA_RETRIES",
            "APP_QUOTA_SERVICE_URL",
            "APP_QUOTA_WHITELISTED_SUBACCOUNTS_FILE_PATH",
        )
    ),
    *(
        Unread(
            name,
            "keb claims one CredentialsBinding per global account and pool (APP_HAP_RULE_FILE_PATH); KEB's "
            "multiHyperscalerAccount limits are not implemented.",
        )
        for name in (
            "APP_HAP_MULTI_HYPERSCALER_ACCOUNT_ALLOWED_GLOBAL_ACCOUNTS",
            "APP_HAP_MULTI_HYPERSCALER_ACCOUNT_LIMITS_ALICLOUD",
            "APP_HAP_MULTI_HYPERSCALER_ACCOUNT_LIMITS_AWS",
            "APP_HAP_MULTI_HYPERSCALER_ACCOUNT_LIMITS_AZURE",
            "APP_HAP_MULTI_HYPERSCALER_ACCOUNT_LIMITS_DEFAULT",
            "APP_HAP_MULTI_HYPERSCALER_ACCOUNT_LIMITS_GCP",
            "APP_HAP_MULTI_HYPERSCALER_ACCOUNT_LIMITS_GDCH",
            "APP_HAP_MULTI_HYPERSCALER_ACCOUNT_LIMITS_OPENSTACK",
            "APP_HAP_MULTI_HYPERSCALER_ACCOUNT_MIN_BINDINGS_FOR_GUARD",
            "APP_USE_HAP_FOR_DEPROVISIONING",
        )
    ),
    Unread(
        "APP_CATALOG_FILE_PATH",
        "keb's service metadata is built in; a catalog file stops startup rather than be ignored.",
        _NOT_SET,
    ),
    Unread(
        "APP_OPERATION_BLOCKLIST_FILE_PATH",
        "Blocking operations of listed subaccounts is not implemented; a file path stops startup.",
        _NOT_SET,
    ),
    Unread(
        "APP_DISABLE_PROCESS_OPERATIONS_IN_PROGRESS",
        "keb always resumes unfinished operations (its queue is the database); `true` stops startup.",
        _DISABLED,
    ),
    Unread("APP_PROFILER_MEMORY", "KEB's Go memory profiler; nothing like it in keb."),
    Unread(
        "APP_BROKER_MONITOR_ADDITIONAL_PROPERTIES",
        "KEB writes unknown provisioning properties to a file for monitoring; keb accepts and drops them "
        "(or refuses them with `APP_BROKER_REJECT_UNSUPPORTED_PARAMETERS`).",
    ),
    Unread(
        "APP_DOMAIN_NAME",
        "KEB derives its own URLs from it; keb uses `APP_BROKER_URL`.",
    ),
    *(
        Unread(name, "Links in KEB's schema descriptions; keb's schema texts carry no links.")
        for name in (
            "APP_BROKER_TRIAL_DOCS_URL",
            "APP_BROKER_FREE_DOCS_URL",
            "APP_BROKER_DUAL_STACK_DOCS_URL",
        )
    ),
    Unread("APP_EVENTS_ENABLED", "keb always records operation events for `/events`."),
    Unread(
        "APP_FREEMIUM_WHITELISTED_GLOBAL_ACCOUNTS_FILE_PATH",
        "KEB restricts the free plan to listed accounts in some regions; keb offers it everywhere the "
        "plans configuration does.",
    ),
    Unread(
        "APP_OPEN_SHELL_WHITELISTED_GLOBAL_ACCOUNTS_FILE_PATH",
        "KEB's `openstack` plan allow-list; keb does not offer `openstack` (`sap-converged-cloud`) "
        "to any restricted set of accounts.",
    ),
    Unread(
        "APP_MACHINES_AVAILABILITY_ENDPOINT",
        "KEB's machine availability endpoint asks the cloud providers; keb has no cloud access.",
    ),
    Unread(
        "APP_SKR_DNS_PROVIDERS_VALUES_YAML_FILE_PATH",
        "DNS providers of runtimes are KIM's business; keb sends none.",
    ),
    *(
        Unread(
            name, "keb runs one worker pool for all operations: `APP_OPERATION_WORKERS` (60, KEB's 3 x 20)."
        )
        for name in (
            "APP_PROVISIONING_WORKERS_AMOUNT",
            "APP_UPDATE_WORKERS_AMOUNT",
            "APP_DEPROVISIONING_WORKERS_AMOUNT",
        )
    ),
    *(
        Unread(
            name,
            "keb bounds steps with `APP_STEP_TIMEOUTS_*` and operations with `APP_BROKER_OPERATION_TIMEOUT`.",
        )
        for name in (
            "APP_PROVISIONING_MAX_STEP_PROCESSING_TIME",
            "APP_UPDATE_MAX_STEP_PROCESSING_TIME",
            "APP_DEPROVISIONING_MAX_STEP_PROCESSING_TIME",
        )
    ),
    *(
        Unread(name, "KEB's metrics collectors; keb's `/metrics` are described in the README.")
        for name in (
            "APP_METRICS_ENABLED",
            "APP_METRICS_AVAILABLE_CREDENTIALS_BINDINGS_POLLING_INTERVAL",
            "APP_METRICS_CREDENTIALS_BINDINGS_POLLING_INTERVAL",
            "APP_METRICS_OPERATION_RESULT_FINISHED_OPERATION_RETENTION_PERIOD",
            "APP_METRICS_OPERATION_RESULT_POLLING_INTERVAL",
            "APP_METRICS_OPERATION_RESULT_RETENTION_PERIOD",
            "APP_METRICS_OPERATION_STATS_POLLING_INTERVAL",
        )
    ),
)
UNREAD_BY_NAME: Mapping[str, Unread] = {u.name: u for u in UNREAD}

# The APP_* variables of KEB's Helm chart (resources/keb/templates/deployment.yaml), by name.
KEB_CHART_VARIABLES: tuple[str, ...] = (
    "APP_BROKER_ACL_ENABLED_PLANS",
    "APP_BROKER_ADDITIONAL_VOLUME_SIZE_GI_MAX_SIZE",
    "APP_BROKER_ADDITIONAL_VOLUME_SIZE_GI_PLANS",
    "APP_BROKER_ALLOWED_GLOBAL_ACCOUNTS",
    "APP_BROKER_AUDIT_LOG_ACCESS",
    "APP_BROKER_BINDING_BINDABLE_PLANS",
    "APP_BROKER_BINDING_CREATE_BINDING_TIMEOUT",
    "APP_BROKER_BINDING_ENABLED",
    "APP_BROKER_BINDING_EXPIRATION_SECONDS",
    "APP_BROKER_BINDING_MAX_BINDINGS_COUNT",
    "APP_BROKER_BINDING_MAX_EXPIRATION_SECONDS",
    "APP_BROKER_BINDING_MIN_EXPIRATION_SECONDS",
    "APP_BROKER_CHECK_QUOTA_LIMIT",
    "APP_BROKER_DEFAULT_REQUEST_REGION",
    "APP_BROKER_DUAL_STACK_DOCS_URL",
    "APP_BROKER_DYNAMIC_VOLUME_SIZE_ENABLED",
    "APP_BROKER_ENABLE_PLANS",
    "APP_BROKER_ENABLE_PLAN_UPGRADES",
    "APP_BROKER_FREE_DOCS_URL",
    "APP_BROKER_FREE_EXPIRATION_PERIOD",
    "APP_BROKER_GARDENER_SEEDS_CACHE_CONFIG_MAP_NAME",
    "APP_BROKER_GVISOR_ENABLED",
    "APP_BROKER_KCR_CONFIG_MAP_NAME",
    "APP_BROKER_MONITOR_ADDITIONAL_PROPERTIES",
    "APP_BROKER_ONLY_ONE_FREE_PER_GA",
    "APP_BROKER_ONLY_SINGLE_TRIAL_PER_GA",
    "APP_BROKER_OPERATION_TIMEOUT",
    "APP_BROKER_PORT",
    "APP_BROKER_REJECT_UNSUPPORTED_PARAMETERS",
    "APP_BROKER_RESTRICT_TO_ALLOWED_GLOBAL_ACCOUNTS",
    "APP_BROKER_STATUS_PORT",
    "APP_BROKER_SUBACCOUNT_MOVEMENT_ENABLED",
    "APP_BROKER_SYNC_EMPTY_UPDATE_RESPONSE_ENABLED",
    "APP_BROKER_TRIAL_DOCS_URL",
    "APP_BROKER_UPDATE_CUSTOM_RESOURCES_LABELS_ON_ACCOUNT_MOVE",
    "APP_BROKER_URL",
    "APP_CATALOG_FILE_PATH",
    "APP_DATABASE_HOST",
    "APP_DATABASE_NAME",
    "APP_DATABASE_PASSWORD",
    "APP_DATABASE_PORT",
    "APP_DATABASE_SECRET_KEY",
    "APP_DATABASE_SSLMODE",
    "APP_DATABASE_SSLROOTCERT",
    "APP_DATABASE_USER",
    "APP_DEPROVISIONING_MAX_STEP_PROCESSING_TIME",
    "APP_DEPROVISIONING_WORKERS_AMOUNT",
    "APP_DISABLE_PROCESS_OPERATIONS_IN_PROGRESS",
    "APP_DOMAIN_NAME",
    "APP_EVENTS_ENABLED",
    "APP_FREEMIUM_WHITELISTED_GLOBAL_ACCOUNTS_FILE_PATH",
    "APP_GARDENER_KUBECONFIG_PATH",
    "APP_GARDENER_PROJECT",
    "APP_GARDENER_SHOOT_DOMAIN",
    "APP_GVISOR_WHITELISTED_GLOBAL_ACCOUNTS_FILE_PATH",
    "APP_HAP_MULTI_HYPERSCALER_ACCOUNT_ALLOWED_GLOBAL_ACCOUNTS",
    "APP_HAP_MULTI_HYPERSCALER_ACCOUNT_LIMITS_ALICLOUD",
    "APP_HAP_MULTI_HYPERSCALER_ACCOUNT_LIMITS_AWS",
    "APP_HAP_MULTI_HYPERSCALER_ACCOUNT_LIMITS_AZURE",
    "APP_HAP_MULTI_HYPERSCALER_ACCOUNT_LIMITS_DEFAULT",
    "APP_HAP_MULTI_HYPERSCALER_ACCOUNT_LIMITS_GCP",
    "APP_HAP_MULTI_HYPERSCALER_ACCOUNT_LIMITS_GDCH",
    "APP_HAP_MULTI_HYPERSCALER_ACCOUNT_LIMITS_OPENSTACK",
    "APP_HAP_MULTI_HYPERSCALER_ACCOUNT_MIN_BINDINGS_FOR_GUARD",
    "APP_HAP_RULE_FILE_PATH",
    "APP_INFRASTRUCTURE_MANAGER_CONTROL_PLANE_FAILURE_TOLERANCE",
    "APP_INFRASTRUCTURE_MANAGER_DEFAULT_GARDENER_SHOOT_PURPOSE",
    "APP_INFRASTRUCTURE_MANAGER_DEFAULT_TRIAL_PROVIDER",
    "APP_INFRASTRUCTURE_MANAGER_INGRESS_FILTERING_PLANS",
    "APP_INFRASTRUCTURE_MANAGER_KUBERNETES_VERSION",
    "APP_INFRASTRUCTURE_MANAGER_MACHINE_IMAGE",
    "APP_INFRASTRUCTURE_MANAGER_MACHINE_IMAGE_VERSION",
    "APP_INFRASTRUCTURE_MANAGER_MAX_PODS",
    "APP_INFRASTRUCTURE_MANAGER_MULTI_ZONE_CLUSTER",
    "APP_INFRASTRUCTURE_MANAGER_USE_SMALLER_MACHINE_TYPES",
    "APP_KUBECONFIG_ALLOW_ORIGINS",
    "APP_KYMA_DASHBOARD_CONFIG_LANDSCAPE_URL",
    "APP_MACHINES_AVAILABILITY_ENDPOINT",
    "APP_MAX_PODS_WHITELISTED_GLOBAL_ACCOUNTS_FILE_PATH",
    "APP_METRICS_AVAILABLE_CREDENTIALS_BINDINGS_POLLING_INTERVAL",
    "APP_METRICS_CREDENTIALS_BINDINGS_POLLING_INTERVAL",
    "APP_METRICS_ENABLED",
    "APP_METRICS_OPERATION_RESULT_FINISHED_OPERATION_RETENTION_PERIOD",
    "APP_METRICS_OPERATION_RESULT_POLLING_INTERVAL",
    "APP_METRICS_OPERATION_RESULT_RETENTION_PERIOD",
    "APP_METRICS_OPERATION_STATS_POLLING_INTERVAL",
    "APP_OPEN_SHELL_WHITELISTED_GLOBAL_ACCOUNTS_FILE_PATH",
    "APP_OPERATION_BLOCKLIST_FILE_PATH",
    "APP_OPERATION_RECOVERY_DELAY",
    "APP_PLANS_CONFIGURATION_FILE_PATH",
    "APP_PROFILER_MEMORY",
    "APP_PROVIDERS_CONFIGURATION_FILE_PATH",
    "APP_PROVISIONING_MAX_STEP_PROCESSING_TIME",
    "APP_PROVISIONING_WORKERS_AMOUNT",
    "APP_QUOTA_AUTH_URL",
    "APP_QUOTA_CLIENT_ID",
    "APP_QUOTA_CLIENT_SECRET",
    "APP_QUOTA_INTERVAL",
    "APP_QUOTA_RETRIES",
    "APP_QUOTA_SERVICE_URL",
    "APP_QUOTA_WHITELISTED_SUBACCOUNTS_FILE_PATH",
    "APP_RUNTIME_CONFIGURATION_CONFIG_MAP_NAME",
    "APP_SKR_DNS_PROVIDERS_VALUES_YAML_FILE_PATH",
    "APP_SKR_OIDC_DEFAULT_VALUES_YAML_FILE_PATH",
    "APP_STEP_TIMEOUTS_CHECK_RUNTIME_RESOURCE_CREATE",
    "APP_STEP_TIMEOUTS_CHECK_RUNTIME_RESOURCE_DELETION",
    "APP_STEP_TIMEOUTS_CHECK_RUNTIME_RESOURCE_UPDATE",
    "APP_TRIAL_REGION_MAPPING_FILE_PATH",
    "APP_UPDATE_MAX_STEP_PROCESSING_TIME",
    "APP_UPDATE_PROCESSING_ENABLED",
    "APP_UPDATE_WORKERS_AMOUNT",
    "APP_USE_HAP_FOR_DEPROVISIONING",
)

# APP_* variables KEB's code reads with a default of its own that its chart does not set
# (internal/storage/config.go: the database pool).
KEB_CODE_VARIABLES: tuple[str, ...] = (
    "APP_DATABASE_CONN_MAX_LIFETIME",
    "APP_DATABASE_MAX_IDLE_CONNS",
    "APP_DATABASE_MAX_OPEN_CONNS",
)
KEB_VARIABLES: tuple[str, ...] = KEB_CHART_VARIABLES + KEB_CODE_VARIABLES


def keb_status(name: str) -> tuple[str, str]:
    """How keb treats KEB's variable ``name``: (status, note) for the document's KEB table."""
    if name in BY_NAME:
        return "read", BY_NAME[name].meaning
    if name in ALIASES:
        return "read", f"alias of `{ALIASES[name].name}`"
    unread = UNREAD_BY_NAME[name]
    if unread.off:
        shown = ", ".join(f"`{value}`" if value else "empty" for value in unread.off)
        return f"refused unless {shown}", unread.reason
    return "not applicable", unread.reason


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_document() -> str:
    """``docs/configuration.md``: keb's variables, then KEB's chart variables and what keb does with each."""
    lines = [
        "# Configuration",
        "",
        "<!-- Generated by `keb config docs` from src/keb_app/variables.py; do not edit by hand. -->",
        "",
        "keb is configured by environment variables. Names are KEB's where KEB has the setting, so a KEB",
        "operator's values carry over. Durations are Go strings (`500ms`, `10s`, `60m`, `1h30m`) or seconds;",
        "booleans `true`/`false`; lists comma-separated. A bad value stops startup with a message naming the",
        "variable. Secret values never appear in logs or error messages.",
        "",
    ]
    group = ""
    for variable in VARIABLES:
        if variable.group != group:
            group = variable.group
            lines += [
                f"## {group}",
                "",
                "| Variable | Type | Default | Meaning |",
                "|---|---|---|---|",
            ]
        kind = variable.kind
        if variable.choices:
            kind = " \\| ".join(f"`{c}`" if c else "(empty)" for c in variable.choices)
        notes = []
        if variable.aliases:
            notes.append("also read as " + ", ".join(f"`{a}`" for a in variable.aliases))
        if variable.secret:
            notes.append("secret")
        if not variable.keb:
            notes.append("keb only")
        meaning = variable.meaning + (f" ({'; '.join(notes)})" if notes else "")
        lines.append(f"| `{variable.name}` | {kind} | {_cell(variable.shown_default)} | {_cell(meaning)} |")
        if variable is VARIABLES[-1] or VARIABLES[VARIABLES.index(variable) + 1].group != group:
            lines.append("")
    lines += [
        "## KEB's variables",
        "",
        "Every `APP_*` variable of KEB's Helm chart (and the few its code reads that the chart leaves at",
        "their defaults) and what keb does with it. *refused unless* means the variable switches on a KEB",
        "feature keb does not have: any other value stops startup, so nothing is silently ignored.",
        "",
        "| KEB variable | keb | Why / meaning |",
        "|---|---|---|",
    ]
    for name in KEB_VARIABLES:
        status, note = keb_status(name)
        lines.append(f"| `{name}` | {status} | {_cell(note)} |")
    lines.append("")
    return "\n".join(lines)
