"""Settings the use cases need, already parsed (the application builds them from the environment)."""

from __future__ import annotations

import attrs

from keb_domain.model.catalog import CatalogSettings
from keb_domain.model.regions import RegionPolicy
from keb_domain.model.resources import RuntimeDefaults


@attrs.frozen
class Timeouts:
    """KEB's step timeouts (``APP_STEP_TIMEOUTS_CHECK_RUNTIME_RESOURCE_*``), in seconds."""

    runtime_create: float = 60 * 60.0
    runtime_update: float = 180 * 60.0
    runtime_deletion: float = 60 * 60.0
    operation: float = 24 * 3600.0  # APP_BROKER_OPERATION_TIMEOUT
    slow_provisioning_notice: float = 20 * 60.0  # when the "takes longer than usual" text appears


@attrs.frozen
class Pacing:
    """How often operations look at the clusters, and how they back off from temporary failures."""

    poll_interval: float = 10.0  # APP_OPERATION_POLL_INTERVAL
    retry_base: float = 1.0
    retry_max: float = 60.0

    def backoff(self, attempts: int) -> float:
        """Exponential backoff after ``attempts`` consecutive temporary failures, capped."""
        return float(min(self.retry_max, self.retry_base * (2 ** min(attempts, 30))))


@attrs.frozen
class BrokerConfig:
    """Everything a use case decides on besides its ports."""

    policy: RegionPolicy
    catalog: CatalogSettings = attrs.field(factory=CatalogSettings)
    runtime: RuntimeDefaults = attrs.field(factory=RuntimeDefaults)
    timeouts: Timeouts = attrs.field(factory=Timeouts)
    pacing: Pacing = attrs.field(factory=Pacing)
    default_platform_region: str = "cf-eu10"  # APP_BROKER_DEFAULT_REQUEST_REGION
    only_single_trial_per_global_account: bool = True  # APP_BROKER_ONLY_SINGLE_TRIAL_PER_GA
    update_processing_enabled: bool = True  # APP_UPDATE_PROCESSING_ENABLED
    dashboard_landscape_url: str = (
        "https://dashboard.kyma.cloud.sap"  # APP_KYMA_DASHBOARD_CONFIG_LANDSCAPE_URL
    )
    broker_url: str = "http://127.0.0.1:8080"  # APP_BROKER_URL, for the KubeconfigURL label
    trial_expiration_days: int = 14
    free_expiration_days: float = 30.0  # APP_BROKER_FREE_EXPIRATION_PERIOD
    # APP_GVISOR_WHITELISTED_GLOBAL_ACCOUNTS_FILE_PATH: the global accounts that may enable gVisor
    gvisor_allowed_global_accounts: frozenset[str] = frozenset()
