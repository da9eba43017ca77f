"""Plans of the ``kymaruntime`` service and the cloud providers behind them.

Plan ids and names are KEB's (``internal/broker/plans.go``), so platforms that already know KEB's catalog
keep working.
"""

from __future__ import annotations

import enum
import re

import attrs

KYMA_SERVICE_ID = "47c9dcbf-ff30-448e-ab36-d3bad66ba281"
KYMA_SERVICE_NAME = "kymaruntime"


class Provider(enum.Enum):
    """A hyperscaler as Gardener names it (``spec.shoot.provider.type`` of the Runtime CR)."""

    AWS = "aws"
    AZURE = "azure"
    GCP = "gcp"
    OPENSTACK = "openstack"
    ALICLOUD = "alicloud"
    GDCH = "gdch"  # Google Distributed Cloud Hosted

    @property
    def keb_name(self) -> str:
        """KEB's cloud-provider name, used in labels and in the inventory."""
        return _KEB_PROVIDER_NAMES[self]

    @classmethod
    def from_trial_parameter(cls, value: str) -> Provider:
        """The trial plan's ``provider`` parameter: ``AWS``, ``Azure`` or ``GCP`` (case-sensitive, as KEB)."""
        for provider in (cls.AWS, cls.AZURE, cls.GCP):
            if provider.keb_name == value:
                return provider
        raise ValueError(value)


_KEB_PROVIDER_NAMES = {
    Provider.AWS: "AWS",
    Provider.AZURE: "Azure",
    Provider.GCP: "GCP",
    Provider.OPENSTACK: "SapConvergedCloud",
    Provider.ALICLOUD: "Alicloud",
    Provider.GDCH: "GDCH",
}


class PlatformProvider(enum.Enum):
    """The provider a BTP platform region runs on, read from the first digit of its name (KEB's rule)."""

    SAP_CONVERGED_CLOUD = "SapConvergedCloud"
    AWS = "AWS"
    AZURE = "Azure"
    GCP = "GCP"
    ALICLOUD = "Alicloud"
    UNKNOWN = "unknown"

    @classmethod
    def of_region(cls, platform_region: str | None) -> PlatformProvider:
        """``cf-eu11`` -> AWS, ``cf-ch20`` -> Azure, ``cf-sa30`` -> GCP, ``cf-eu01`` -> SapConvergedCloud.

        A path without a region has no provider, even though its region defaults to ``cf-eu10``
        (``internal/middleware/provider.go``).
        """
        if not platform_region:
            return cls.UNKNOWN
        # KEB matches [0-9]; Python's \d would also match digits of other scripts (Arabic-Indic, fullwidth).
        match = re.search(r"[0-9]", platform_region)
        if match is None:
            return cls.UNKNOWN
        return _PLATFORM_BY_DIGIT.get(match.group(), cls.UNKNOWN)

    @property
    def cloud(self) -> Provider | None:
        """The hyperscaler of this platform, where the broker has one."""
        return {
            PlatformProvider.AWS: Provider.AWS,
            PlatformProvider.AZURE: Provider.AZURE,
            PlatformProvider.GCP: Provider.GCP,
            PlatformProvider.SAP_CONVERGED_CLOUD: Provider.OPENSTACK,
            PlatformProvider.ALICLOUD: Provider.ALICLOUD,
        }.get(self)


_PLATFORM_BY_DIGIT = {
    "0": PlatformProvider.SAP_CONVERGED_CLOUD,
    "1": PlatformProvider.AWS,
    "2": PlatformProvider.AZURE,
    "3": PlatformProvider.GCP,
    "4": PlatformProvider.ALICLOUD,
}


class PlanKind(enum.Enum):
    """How a plan chooses its provider and which parameters it accepts."""

    STANDARD = "standard"  # fixed provider, machine type, autoscaler, worker pools, networking
    LITE = "lite"  # like standard with a smaller autoscaler range (azure_lite)
    TRIAL = "trial"  # provider from the ``provider`` parameter, abstract regions, one node
    FREE = "free"  # provider from the platform region, one node


@attrs.frozen
class AutoscalerBounds:
    """Range and defaults of ``autoScalerMin``/``autoScalerMax`` for a plan."""

    lowest: int
    highest: int
    default_min: int
    default_max: int  # the schema's default
    # What a runtime gets when the request leaves ``autoScalerMax`` out, where KEB's provider values differ
    # from the schema's default (``internal/provider``: GDCH gives 10 while its schema says 20).
    unset_max: int | None = None

    @property
    def max_when_unset(self) -> int:
        return self.default_max if self.unset_max is None else self.unset_max


STANDARD_AUTOSCALER = AutoscalerBounds(lowest=3, highest=300, default_min=3, default_max=20)
LITE_AUTOSCALER = AutoscalerBounds(lowest=2, highest=40, default_min=2, default_max=10)
GDCH_AUTOSCALER = attrs.evolve(STANDARD_AUTOSCALER, unset_max=10)


@attrs.frozen
class Plan:
    """A plan of the ``kymaruntime`` service."""

    id: str
    name: str
    kind: PlanKind
    provider: Provider | None  # None: chosen per request (trial, free)
    display_name: str

    @property
    def is_trial(self) -> bool:
        return self.kind is PlanKind.TRIAL

    @property
    def is_free(self) -> bool:
        return self.kind is PlanKind.FREE

    @property
    def autoscaler(self) -> AutoscalerBounds | None:
        """Bounds of the user-set autoscaler; None where the plan runs a fixed single node."""
        if self.kind is PlanKind.STANDARD:
            return GDCH_AUTOSCALER if self.provider is Provider.GDCH else STANDARD_AUTOSCALER
        if self.kind is PlanKind.LITE:
            return LITE_AUTOSCALER
        return None


def _plan(plan_id: str, name: str, kind: PlanKind, provider: Provider | None, display: str) -> Plan:
    return Plan(id=plan_id, name=name, kind=kind, provider=provider, display_name=display)


# Display names follow KEB's catalog.yaml; plans missing there get the upper-cased name, as in KEB.
ALL_PLANS: tuple[Plan, ...] = (
    _plan("361c511f-f939-4621-b228-d0fb79a1fe15", "aws", PlanKind.STANDARD, Provider.AWS, "AWS"),
    _plan("4deee563-e5ec-4731-b9b1-53b42d855f0c", "azure", PlanKind.STANDARD, Provider.AZURE, "Azure"),
    _plan("8cb22518-aa26-44c5-91a0-e669ec9bf443", "azure_lite", PlanKind.LITE, Provider.AZURE, "Azure Lite"),
    _plan("ca6e5357-707f-4565-bbbd-b3ab732597c6", "gcp", PlanKind.STANDARD, Provider.GCP, "GCP"),
    _plan(
        "03b812ac-c991-4528-b5bd-08b303523a63",
        "sap-converged-cloud",
        PlanKind.STANDARD,
        Provider.OPENSTACK,
        "SAP Converged Cloud",
    ),
    _plan("7d55d31d-35ae-4438-bf13-6ffdfa107d9f", "trial", PlanKind.TRIAL, None, "Trial"),
    _plan("b1a5764e-2ea1-4f95-94c0-2b4538b37b55", "free", PlanKind.FREE, None, "Free"),
    _plan("5cb3d976-b85c-42ea-a636-79cadda109a9", "preview", PlanKind.STANDARD, Provider.AWS, "PREVIEW"),
    _plan(
        "6aae0ff3-89f7-4f12-86de-51466145422e",
        "build-runtime-aws",
        PlanKind.STANDARD,
        Provider.AWS,
        "BUILD-RUNTIME-AWS",
    ),
    _plan(
        "a310cd6b-6452-45a0-935d-d24ab53f9eba",
        "build-runtime-gcp",
        PlanKind.STANDARD,
        Provider.GCP,
        "BUILD-RUNTIME-GCP",
    ),
    _plan(
        "499244b4-1bef-48c9-be68-495269899f8e",
        "build-runtime-azure",
        PlanKind.STANDARD,
        Provider.AZURE,
        "BUILD-RUNTIME-AZURE",
    ),
    _plan(
        "9f2c3b4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d", "alicloud", PlanKind.STANDARD, Provider.ALICLOUD, "Alicloud"
    ),
    _plan(
        "72efa867-7b54-4d59-8df7-68f4759ff271",
        "build-runtime-alicloud",
        PlanKind.STANDARD,
        Provider.ALICLOUD,
        "BUILD-RUNTIME-ALICLOUD",
    ),
    _plan("024e11fb-40df-4753-a992-24d136e2d15c", "gdch", PlanKind.STANDARD, Provider.GDCH, "GDCH"),
)

PLANS_BY_ID: dict[str, Plan] = {plan.id: plan for plan in ALL_PLANS}
PLANS_BY_NAME: dict[str, Plan] = {plan.name: plan for plan in ALL_PLANS}
