"""Ports: what the domain needs from the outside world, as ``typing.Protocol``s.

Adapters in ``keb_adapters`` implement them (memory, SQL, Kubernetes); contract tests prove that the
memory and the real implementations agree. Only plain values and domain objects cross a port; adapter
exceptions are translated into ``keb_domain.errors`` before they leave the adapter.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, Self

import attrs

from keb_domain.model.binding import Binding, BindingIdentity, ClusterEndpoint
from keb_domain.model.hap import CredentialsBindingInfo, LabelSelector
from keb_domain.model.instance import ArchivedInstance, Instance
from keb_domain.model.inventory import InfoRuntime, RuntimeFilter, RuntimesPage
from keb_domain.model.operation import Operation, OperationState, OperationType
from keb_domain.model.plans import Provider
from keb_domain.model.resources import DesiredKyma, DesiredRuntime, OidcConfiguration, RuntimeStatus
from keb_domain.model.volumes import VolumeSizeTable
from keb_domain.secrets import Secret


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class IdGenerator(Protocol):
    def new_id(self) -> str:
        """A new random UUID string (operations, runtimes)."""
        ...

    def shoot_name(self) -> str:
        """A new Gardener shoot name: 7 random hex characters, prefixed ``c-`` when the first is a digit."""
        ...


@attrs.frozen
class OperationEvent:
    """One outcome of one step of an operation, for ``GET /events``."""

    instance_id: str
    operation_id: str
    level: str  # "info" or "error"
    message: str
    created_at: datetime


# --- storage -------------------------------------------------------------------------------------------


class InstanceRepository(Protocol):
    async def get(self, instance_id: str) -> Instance | None: ...

    async def add(self, instance: Instance) -> None:
        """Insert. Raises StorageConflictError if the id exists."""
        ...

    async def update(self, instance: Instance) -> Instance:
        """Version-checked write; returns the instance with its new version.

        Raises StorageConflictError if the stored version is not ``instance.version``.
        """
        ...

    async def delete(self, instance_id: str) -> None: ...

    async def exists_for_global_account(self, global_account_id: str) -> bool:
        """Whether any instance of any plan exists for the global account (trial one-per-GA rule)."""
        ...


class OperationRepository(Protocol):
    async def get(self, operation_id: str) -> Operation | None: ...

    async def add(self, operation: Operation) -> None:
        """Insert. Raises StorageConflictError if the id exists."""
        ...

    async def update(self, operation: Operation) -> Operation:
        """Version-checked write. Raises StorageConflictError on a stale version."""
        ...

    async def list_for_instance(self, instance_id: str) -> list[Operation]:
        """All operations of an instance, oldest first."""
        ...

    async def delete_for_instance(self, instance_id: str) -> None: ...


class ArchiveRepository(Protocol):
    async def get(self, instance_id: str) -> ArchivedInstance | None: ...

    async def add(self, archived: ArchivedInstance) -> None:
        """Insert or replace the archive row of an instance."""
        ...


class EventRepository(Protocol):
    async def add(self, event: OperationEvent) -> None: ...

    async def list(
        self,
        *,
        instance_ids: Sequence[str] = (),
        operation_ids: Sequence[str] = (),
    ) -> list[OperationEvent]:
        """Events matching any of the given ids (all of them when no filter is given), oldest first."""
        ...


class BindingRepository(Protocol):
    async def get(self, instance_id: str, binding_id: str) -> Binding | None: ...

    async def add(self, binding: Binding) -> None:
        """Insert. Raises StorageConflictError if (instance id, binding id) exists."""
        ...

    async def update(self, binding: Binding) -> Binding:
        """Version-checked write. Raises StorageConflictError on a stale version."""
        ...

    async def delete(self, instance_id: str, binding_id: str) -> None: ...

    async def list_for_instance(self, instance_id: str) -> list[Binding]:
        """The instance's bindings, oldest first."""
        ...

    async def count_unexpired(self, instance_id: str, now: datetime) -> int: ...

    async def list_expired(
        self, now: datetime, limit: int, after: tuple[datetime, str, str] | None = None
    ) -> list[Binding]:
        """Bindings whose ``expires_at`` has passed, ordered by (expires_at, instance id, binding id),
        starting after that key when ``after`` is given (keyset paging)."""
        ...


@attrs.frozen
class PolledOperation:
    """What ``last_operation`` answers from: the chosen operation's state and description, or, when the
    instance has no operations (any more), whether its archive row says it was deprovisioned."""

    state: OperationState | None
    description: str = ""
    archived: bool = False


@attrs.frozen
class InstanceRead:
    """An instance and the state of the operation that created it (None: there is none)."""

    instance: Instance
    provisioning: OperationState | None


@attrs.frozen
class BindingRead:
    """A binding (None: absent) and the type of its instance's newest started operation."""

    binding: Binding | None
    last_started: OperationType | None


class StorageReads(Protocol):
    """Narrow reads for the endpoints platforms poll, each one indexed query outside any unit of work.

    Each sees what is committed when it runs. The choices they make are the domain's
    (``keb_domain.model.operation.polled_operation``, ``first_provisioning``, ``last_started``); an
    implementation may compute them in the database, and the contract tests hold it to the domain's answer.
    """

    async def polled_operation(self, instance_id: str, operation_id: str | None) -> PolledOperation | None:
        """The operation ``polled_operation`` chooses among the instance's operations; without any,
        ``PolledOperation(None, archived=True)`` when the instance is archived, else None."""
        ...

    async def instance_with_provisioning(self, instance_id: str) -> InstanceRead | None:
        """The instance and the state of its ``first_provisioning`` operation; None without the instance."""
        ...

    async def binding_with_last_started(self, instance_id: str, binding_id: str) -> BindingRead | None:
        """The binding and the type of the instance's ``last_started`` operation; None without the
        instance."""
        ...

    async def binding(self, instance_id: str, binding_id: str) -> Binding | None:
        """One binding, read without a unit of work."""
        ...


class UnitOfWork(Protocol):
    """One transaction. Nothing is visible to others before ``commit``; leaving without commit rolls back.

    The rules every implementation keeps (the contract tests hold memory and SQL to them):

    * reads see what was committed when they ran, plus this unit's own writes (read committed);
    * ``update`` is version-checked against the version read; the loser of a race gets
      StorageConflictError and nothing of its unit is written;
    * ``add`` fails with StorageConflictError when the key exists now, including one a concurrent unit
      committed meanwhile; a key deleted meanwhile may be added again;
    * deletes are not version-checked: they remove the rows as committed now;
    * a database that cannot be reached or used (down, restarting, locked) raises StorageUnavailableError
      from any of these, entering and leaving included; the unit then committed nothing, unless the
      error came from ``commit`` itself, whose outcome is unknown. The queue and inventory ports raise
      it too.
    """

    @property
    def instances(self) -> InstanceRepository: ...

    @property
    def operations(self) -> OperationRepository: ...

    @property
    def archive(self) -> ArchiveRepository: ...

    @property
    def events(self) -> EventRepository: ...

    @property
    def bindings(self) -> BindingRepository: ...

    async def commit(self) -> None:
        """Make the writes durable. Raises StorageConflictError if a concurrent writer won."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...


class OperationQueue(Protocol):
    """How workers find and claim due operations, so each runs on exactly one worker at a time."""

    async def claim_due(self, now: datetime, owner: str, lease_until: datetime, limit: int) -> list[str]:
        """Claim up to ``limit`` unfinished operations whose ``next_run_at`` has come (or is unset) and
        whose lease is free or ended (``lease_until`` < ``now``); returns their ids in the order
        ``next_run_at`` (unset first), creation, id. Concurrent claimers never get the same id."""
        ...

    async def release(self, operation_id: str, owner: str) -> None:
        """Give up the lease (a no-op if another owner holds it now)."""
        ...

    async def next_due_at(self) -> datetime | None:
        """When the earliest unfinished operation becomes due, for the engine's sleep."""
        ...


# --- clusters ------------------------------------------------------------------------------------------


class ControlPlane(Protocol):
    """The Kyma control plane (KCP): the Runtime and Kyma resources of each runtime, and its endpoint.

    Resources are named after the lower-cased runtime id (``resource_name``). Every method raises
    ClusterUnavailableError for 5xx, timeouts and connection failures, and ClusterForbiddenError when the
    broker's credentials are refused.
    """

    async def runtime_status(self, name: str) -> RuntimeStatus | None:
        """What KIM reports about the Runtime, or None if it does not exist (any more)."""
        ...

    async def runtime_oidc(self, name: str) -> tuple[OidcConfiguration, ...] | None:
        """The OIDC issuers the Runtime's API server trusts, or None if the Runtime does not exist."""
        ...

    async def runtime_document(self, name: str) -> dict[str, Any] | None:
        """The Runtime as KCP holds it, without ``managedFields``, for operators to look at
        (``/runtimes?runtime_config=true``); None if it does not exist. The domain never reads into it."""
        ...

    async def add_runtime(self, desired: DesiredRuntime) -> None:
        """Create the Runtime unless one of that name exists (a retry of a create that reached KCP)."""
        ...

    async def update_runtime(self, desired: DesiredRuntime) -> None:
        """Rewrite what an update may change of the existing Runtime (``DesiredRuntime`` says what),
        keeping the rest, as one write of the version read.

        Raises ClusterNotFoundError without the Runtime, ClusterConflictError when it changed meanwhile
        (KIM writes too): read again and retry.
        """
        ...

    async def delete_runtime(self, name: str) -> None:
        """A missing Runtime is not an error; KIM's finalizer keeps it ``being_deleted`` for a while."""
        ...

    async def apply_kyma(self, desired: DesiredKyma) -> None:
        """Create the Kyma resource, or give an existing one the desired labels (its spec is kept).

        Raises ClusterAlreadyExistsError or ClusterConflictError when someone wrote it meanwhile.
        """
        ...

    async def relabel_kyma(self, desired: DesiredKyma) -> None:
        """Give an existing Kyma resource the desired labels (nothing when it has them or is missing).

        Raises ClusterConflictError when someone wrote it meanwhile.
        """
        ...

    async def delete_kyma(self, name: str) -> None:
        """A missing Kyma resource is not an error."""
        ...

    async def runtime_endpoint(self, runtime_id: str) -> ClusterEndpoint:
        """Server URL and CA of a runtime's API server, from its admin kubeconfig (Secret
        ``kubeconfig-{runtime_id}``, key ``config``); the credentials in it never leave the adapter.

        Raises ClusterNotFoundError when the Secret or its key is missing, ClusterError when the kubeconfig
        lacks a current context, a cluster, a server or CA data (KEB's checks).
        """
        ...


class Inventory(Protocol):
    """Read-only queries over many runtimes for operators: ``/runtimes``, ``/info/runtimes``, ``/events``."""

    async def runtimes(
        self, query: RuntimeFilter, *, offset: int, limit: int, bindings: bool
    ) -> RuntimesPage:
        """One page of matching runtimes, oldest first, each with all its operations (and its bindings
        when asked), plus the number of all matches. A fixed number of queries, whatever the limit."""
        ...

    def info_runtimes(self) -> AsyncIterator[InfoRuntime]:
        """Every existing instance, oldest first, streamed so that memory stays flat however many exist."""
        ...

    async def instance_ids_of_runtimes(self, runtime_ids: Sequence[str]) -> list[str]:
        """Instances (live or archived) that have or had one of these runtime ids."""
        ...


# --- credentials ---------------------------------------------------------------------------------------


class Cipher(Protocol):
    """Encryption of credentials at rest."""

    def encrypt(self, plaintext: Secret) -> str: ...

    def decrypt(self, ciphertext: str) -> Secret:
        """Raises CredentialsUnreadableError when the ciphertext was altered or the key is wrong."""
        ...


@attrs.frozen
class IssuedCredentials:
    """A kubeconfig (or token) and when it stops working."""

    secret: Secret
    expires_at: datetime


class Gardener(Protocol):
    """The Gardener API of the landscape's project namespace (``garden-{project}``)."""

    async def request_admin_kubeconfig(self, shoot: str, expiration_seconds: int) -> IssuedCredentials:
        """POST ``shoots/{shoot}/adminkubeconfig``; the decoded client-certificate kubeconfig.

        Raises ClusterNotFoundError (no such shoot), ClusterInvalidError (under 600 s), and the
        ControlPlane errors for transport failures.
        """
        ...


class RuntimeCluster(Protocol):
    """One runtime's own API server, reached with the admin kubeconfig read once by ``connect``."""

    @property
    def endpoint(self) -> ClusterEndpoint:
        """Server URL and CA of the runtime's API server, as its admin kubeconfig names them."""
        ...

    async def ensure_binding_identity(self, identity: BindingIdentity) -> None:
        """The identity's ServiceAccount (in ``identity.namespace``), its ClusterRole with the identity's
        rules, and the ClusterRoleBinding between them, all named ``identity.name``; existing ones are
        kept."""
        ...

    async def request_token(self, name: str, expiration_seconds: int) -> IssuedCredentials:
        """A TokenRequest for the ServiceAccount. Raises ClusterNotFoundError (no ServiceAccount) and
        ClusterInvalidError (under 600 s)."""
        ...

    async def delete_binding_identity(self, name: str) -> None:
        """Delete ClusterRoleBinding, ClusterRole and ServiceAccount, in that order; missing ones are fine."""
        ...


class RuntimeClusters(Protocol):
    """Each runtime's own API server, reached with the admin kubeconfig KIM keeps in KCP."""

    def connect(self, runtime_id: str) -> AbstractAsyncContextManager[RuntimeCluster]:
        """Read the runtime's admin kubeconfig (Secret ``kubeconfig-{runtime_id}``, key ``config``) once
        and reach the runtime with it until the context ends.

        Raises ClusterNotFoundError when the Secret or its key is missing, ClusterError when the kubeconfig
        lacks a current context, a cluster, a server or CA data (KEB's checks), and the ControlPlane errors
        for transport failures.
        """
        ...


# --- observation ---------------------------------------------------------------------------------------


@attrs.frozen
class BrokerStatistics:
    """Counts over the stored state, read when metrics are scraped (KEB's collectors poll the same)."""

    instances: Mapping[tuple[str, str], int]  # (global account id, subaccount id) -> instances
    in_progress: Mapping[tuple[str, str], int]  # (operation type, plan id) -> unfinished operations
    due_operations: int  # unfinished operations due now that no worker holds
    earliest_binding_expiry: datetime | None  # the smallest expires_at of all stored bindings


class Statistics(Protocol):
    async def statistics(self, now: datetime) -> BrokerStatistics:
        """One consistent-enough snapshot; a few aggregate queries whatever the number of rows."""
        ...


class OperationObserver(Protocol):
    """Told what operations do, for logs and metrics; must not raise and must not block."""

    def accepted(self, operation: Operation, why: str) -> None:
        """A request created the operation."""
        ...

    def resumed(self, operation: Operation) -> None:
        """A worker picked up an operation that a process before this one had started."""
        ...

    def stage_finished(self, operation: Operation, stage: str, seconds: float) -> None:
        """A stage is done; ``seconds`` since the stage began (its waits included)."""
        ...

    def stage_retried(self, operation: Operation, stage: str, error: str, attempt: int) -> None:
        """A stage failed in a way that is tried again later."""
        ...

    def finished(self, operation: Operation) -> None:
        """The operation succeeded or failed (its ``state`` and ``description`` say which and why)."""
        ...


class NoObserver:
    """An observer that ignores everything (tests and tools that need no logs or metrics)."""

    def accepted(self, operation: Operation, why: str) -> None:
        return None

    def resumed(self, operation: Operation) -> None:
        return None

    def stage_finished(self, operation: Operation, stage: str, seconds: float) -> None:
        return None

    def stage_retried(self, operation: Operation, stage: str, error: str, attempt: int) -> None:
        return None

    def finished(self, operation: Operation) -> None:
        return None


class BindingObserver(Protocol):
    """Told how long binds and unbinds took, for metrics; must not raise and must not block."""

    def bound(self, plan_id: str, milliseconds: float, created: bool) -> None:
        """A bind finished (also one that went on in the background after its request timed out)."""
        ...

    def unbound(self, milliseconds: float) -> None:
        """An unbind finished."""
        ...


class NoBindingObserver:
    """A binding observer that ignores everything."""

    def bound(self, plan_id: str, milliseconds: float, created: bool) -> None:
        return None

    def unbound(self, milliseconds: float) -> None:
        return None


# --- hyperscaler account pools -------------------------------------------------------------------------


class CredentialsBindings(Protocol):
    """Gardener CredentialsBindings (``security.gardener.cloud/v1alpha1``) of the project namespace, and
    which of them Shoots use. Transport failures raise the ControlPlane errors."""

    async def list(self, selector: LabelSelector) -> list[CredentialsBindingInfo]:
        """The bindings whose labels match ``selector``."""
        ...

    async def get(self, name: str) -> CredentialsBindingInfo | None:
        """One binding, or None when it does not exist."""
        ...

    async def relabel(self, binding: CredentialsBindingInfo, labels: Mapping[str, str]) -> None:
        """Replace the binding's labels, only if it is still at ``binding.resource_version``.

        Raises ClusterConflictError when someone changed it since it was read (optimistic concurrency),
        ClusterNotFoundError when it is gone.
        """
        ...

    async def shoot_usage(self) -> dict[str, int]:
        """How many Shoots of the project use each binding (``spec.secretBindingName`` or
        ``spec.credentialsBindingName``)."""
        ...


class RuntimeConfigurationSource(Protocol):
    """The runtime configuration ConfigMap in KCP, read fresh for every operation that needs it."""

    async def data(self) -> dict[str, str] | None:
        """The ConfigMap's ``data``, or None when it does not exist. Transport failures raise the
        ControlPlane errors."""
        ...


class SeedRegions(Protocol):
    """Where Gardener has seeds, per provider: KEB's ``gardener-seeds-cache`` ConfigMap in KCP
    (``APP_BROKER_GARDENER_SEEDS_CACHE_CONFIG_MAP_NAME``), read fresh for every colocation check."""

    async def seed_regions(self, provider: Provider) -> tuple[str, ...]:
        """The provider's seed regions, in the ConfigMap's order; empty when the ConfigMap or its entry for
        the provider (and a ``default`` entry) is absent. An entry that is not KEB's format raises
        ClusterUnavailableError, as transport failures do: the operator must fix the ConfigMap."""
        ...


class MachineVolumeSizes(Protocol):
    """KEB's dynamic volume sizes: the consumption reporter's ConfigMap in KCP
    (``APP_BROKER_KCR_CONFIG_MAP_NAME``, key ``nodemeterconfig.yaml``), read for every Runtime resource
    written."""

    async def volume_sizes(self) -> VolumeSizeTable | None:
        """The default volume size of each machine type, or None when the ConfigMap does not exist.
        A ConfigMap that is not KEB's format raises ClusterUnavailableError, as transport failures do."""
        ...
