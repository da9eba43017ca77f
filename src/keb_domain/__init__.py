"""keb_domain: the Kyma Environment Broker's rules, as a library.

Pure functions and frozen values, no I/O (the built-in configuration is package data): what a platform
region offers, whether a provisioning or update request is valid and where its runtime goes, the state of
a runtime, a binding's expiration. The broker (``keb_app``) is built on it; a validation service, an
offline CLI or an audit tool can use it without the server's dependencies (``pip install .``, see
docs/domain.md). Everything listed here is the stable API; other modules may change.

Regions and the catalog
    ``RegionPolicy`` (``RegionPolicy.from_keb_configuration(plans, providers)`` from KEB's YAML formats,
    parsed), ``default_region_policy()`` (the built-in configuration), ``default_plans_configuration()``,
    ``default_providers_configuration()``, ``catalog_for(policy, platform_region)`` -> ``Catalog`` of
    ``OfferedPlan`` (plan, create/update JSON schemas), ``CatalogSettings``, ``SchemaOptions``,
    ``TrialRegionMapping``.
EU Access
    ``is_eu_access(platform_region)``, ``EU_ACCESS_REGIONS`` (platform region -> its one provider and
    cluster region), ``canonical_platform_region(name)``.
Plans
    ``Plan``, ``PlanKind``, ``Provider``, ``ALL_PLANS``, ``PLANS_BY_ID``, ``PLANS_BY_NAME``,
    ``KYMA_SERVICE_ID``.
Validation
    ``validate_provisioning(policy, plan_id=, platform_region=, parameters=, context=)`` ->
    ``ValidProvisioning`` (plan, provider, cluster region, parameters to store, EU Access);
    ``validate_update(policy, plan=, ..., parameters=, previous=)`` -> ``ValidUpdate``.
Runtime state
    ``derive_state(operations)`` -> ``RuntimeState``, from ``Operation`` values (``OperationType``,
    ``OperationState``).
Bindings
    ``ExpirationPolicy`` (``expiration_seconds`` default, bounds, per-instance limit),
    ``BindingParameters.parse(raw)``, ``CredentialStrategy``.
Errors
    ``KebError`` (every refusal; ``.description`` is the message a client sees), its subclasses
    ``InvalidRequestError``, ``InvalidParametersError``, ``UnprocessableError``,
    ``PlatformRegionNotServedError``; ``ConfigurationError`` for configuration that cannot be used.
"""

from keb_domain.defaults import plans_configuration as default_plans_configuration
from keb_domain.defaults import providers_configuration as default_providers_configuration
from keb_domain.defaults import region_policy as default_region_policy
from keb_domain.errors import (
    ConfigurationError,
    InvalidParametersError,
    InvalidRequestError,
    KebError,
    PlatformRegionNotServedError,
    UnprocessableError,
)
from keb_domain.model.binding import BindingParameters, CredentialStrategy, ExpirationPolicy
from keb_domain.model.catalog import Catalog, CatalogSettings, OfferedPlan, catalog_for
from keb_domain.model.configuration import TrialRegionMapping
from keb_domain.model.inventory import RuntimeState, derive_state
from keb_domain.model.operation import Operation, OperationState, OperationType
from keb_domain.model.plans import (
    ALL_PLANS,
    KYMA_SERVICE_ID,
    PLANS_BY_ID,
    PLANS_BY_NAME,
    Plan,
    PlanKind,
    Provider,
)
from keb_domain.model.provisioning import (
    ValidProvisioning,
    ValidUpdate,
    validate_provisioning,
    validate_update,
)
from keb_domain.model.regions import EU_ACCESS_REGIONS, RegionPolicy, canonical_platform_region, is_eu_access
from keb_domain.model.schemas import SchemaOptions

__all__ = [
    "ALL_PLANS",
    "EU_ACCESS_REGIONS",
    "KYMA_SERVICE_ID",
    "PLANS_BY_ID",
    "PLANS_BY_NAME",
    "BindingParameters",
    "Catalog",
    "CatalogSettings",
    "ConfigurationError",
    "CredentialStrategy",
    "ExpirationPolicy",
    "InvalidParametersError",
    "InvalidRequestError",
    "KebError",
    "OfferedPlan",
    "Operation",
    "OperationState",
    "OperationType",
    "Plan",
    "PlanKind",
    "PlatformRegionNotServedError",
    "Provider",
    "RegionPolicy",
    "RuntimeState",
    "SchemaOptions",
    "TrialRegionMapping",
    "UnprocessableError",
    "ValidProvisioning",
    "ValidUpdate",
    "canonical_platform_region",
    "catalog_for",
    "default_plans_configuration",
    "default_providers_configuration",
    "default_region_policy",
    "derive_state",
    "is_eu_access",
    "validate_provisioning",
    "validate_update",
]
