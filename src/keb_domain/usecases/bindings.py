"""Use cases of the OSB binding endpoints: bind, fetch, unbind, binding last_operation, cleanup.

Bindings are synchronous. Binding creation writes a placeholder row first (so a concurrent repeat sees
"in progress"), creates the credentials outside any transaction, then stores them encrypted. A failure
removes the placeholder again, so a retry can start afresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from keb_domain.errors import (
    BindingConflictError,
    BindingGoneError,
    BindingNotFoundError,
    BindingNotSupportedError,
    BindingTimeoutError,
    ClusterError,
    ClusterNotFoundError,
    InstanceNotFoundError,
    InvalidRequestError,
    StorageConflictError,
    UnprocessableError,
)
from keb_domain.model.binding import (
    Binding,
    BindingIdentity,
    BindingParameters,
    CredentialStrategy,
    ExpirationPolicy,
    binding_resource_name,
    build_token_kubeconfig,
    check_nameable,
)
from keb_domain.model.catalog import (
    CatalogSettings,
    require_instance_plan,
    require_plan,
    require_service,
)
from keb_domain.model.instance import Instance, redacted_context
from keb_domain.model.operation import Operation, OperationState, OperationType, last_started
from keb_domain.model.plans import PLANS_BY_ID
from keb_domain.ports import (
    BindingObserver,
    Cipher,
    Clock,
    Gardener,
    IssuedCredentials,
    NoBindingObserver,
    RuntimeClusters,
    StorageReads,
    UnitOfWorkFactory,
)
from keb_domain.secrets import Secret

log = logging.getLogger("keb.bindings")


@attrs.frozen
class BindCommand:
    instance_id: str
    binding_id: str
    service_id: str
    plan_id: str
    parameters: Mapping[str, Any] = attrs.field(factory=dict)
    context: Mapping[str, Any] = attrs.field(factory=dict, repr=redacted_context)


@attrs.frozen
class BindingView:
    kubeconfig: Secret
    expires_at: datetime
    created: bool = False  # this request made it (OSB 201); otherwise it existed (200)


@attrs.frozen
class CleanupReport:
    removed: tuple[tuple[str, str], ...]  # (instance id, binding id)
    failed: tuple[tuple[str, str, str], ...]  # (instance id, binding id, why)


class CredentialIssuer:
    """Makes and revokes a binding's credentials with the strategy the binding names."""

    def __init__(self, gardener: Gardener, clusters: RuntimeClusters) -> None:
        self._gardener = gardener
        self._clusters = clusters

    async def issue(
        self, instance: Instance, binding_id: str, strategy: CredentialStrategy, expiration_seconds: int
    ) -> IssuedCredentials:
        if strategy is CredentialStrategy.GARDENER_ADMIN_KUBECONFIG:
            return await self._gardener.request_admin_kubeconfig(instance.shoot_name, expiration_seconds)
        identity = BindingIdentity.of_binding(binding_id)
        async with self._clusters.connect(instance.runtime_id) as cluster:
            await cluster.ensure_binding_identity(identity)
            token = await cluster.request_token(identity.name, expiration_seconds)
            endpoint = cluster.endpoint
        kubeconfig = build_token_kubeconfig(instance.cluster_name, endpoint, token.secret.reveal())
        return IssuedCredentials(Secret(kubeconfig), token.expires_at)

    async def revoke(self, instance: Instance, binding: Binding) -> None:
        """Token bindings lose their ServiceAccount and RBAC; admin kubeconfigs cannot be revoked."""
        if binding.strategy.revocable and instance.runtime_id:
            async with self._clusters.connect(instance.runtime_id) as cluster:
                await cluster.delete_binding_identity(binding_resource_name(binding.binding_id))


def _runtime_gone(instance: Instance, operations: list[Operation]) -> bool:
    """Suspended, or its last operation deprovisions it: there is no cluster to talk to."""
    last = last_started(operations)
    return (
        instance.suspended
        or not instance.runtime_id
        or (last is not None and last.type is OperationType.DEPROVISION)
    )


class BindingUseCases:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        *,
        issuer: CredentialIssuer,
        cipher: Cipher,
        catalog: CatalogSettings,
        policy: ExpirationPolicy,
        reads: StorageReads,
    ) -> None:
        """``reads`` answers the polled endpoints (fetch, binding last_operation) without a unit of work."""
        self._uow = uow
        self._reads = reads
        self._clock = clock
        self._issuer = issuer
        self._cipher = cipher
        self._catalog = catalog
        self._policy = policy

    # --- bind -------------------------------------------------------------------------------------

    async def bind(self, cmd: BindCommand) -> BindingView:
        """PUT binding (keb-reference §4.2 with decisions.md §3)."""
        require_service(cmd.service_id)
        require_plan(cmd.plan_id)
        now = self._clock.now()
        async with self._uow() as uow:
            instance = await uow.instances.get(cmd.instance_id)
            if instance is None:
                raise InstanceNotFoundError("instance does not exist")
            require_instance_plan(cmd.plan_id, instance.plan_id)
            plan = PLANS_BY_ID.get(instance.plan_id)
            if plan is None or not self._catalog.is_bindable(plan):
                raise BindingNotSupportedError("binding is not supported")
            parameters = BindingParameters.parse(cmd.parameters)
            check_nameable(cmd.binding_id, parameters.strategy)
            expiration = self._policy.seconds(parameters.expiration_seconds)
            self._check_instance(instance, await uow.operations.list_for_instance(instance.instance_id))
            existing = await uow.bindings.get(cmd.instance_id, cmd.binding_id)
            if existing is not None:
                return self._repeat(existing, parameters.strategy, expiration, now)
            if await uow.bindings.count_unexpired(cmd.instance_id, now) >= self._policy.max_bindings:
                raise InvalidRequestError(
                    f"maximum number of non expired bindings reached: {self._policy.max_bindings}"
                )
            placeholder = Binding.placeholder(
                instance_id=cmd.instance_id,
                binding_id=cmd.binding_id,
                strategy=parameters.strategy,
                expiration_seconds=expiration,
                now=now,
                created_by=str(cmd.context.get("email") or cmd.context.get("origin") or ""),
            )
            try:
                await uow.bindings.add(placeholder)
                await uow.commit()
            except StorageConflictError:
                raise UnprocessableError("binding creation already in progress") from None
        return await self._create_credentials(instance, placeholder)

    @staticmethod
    def _check_instance(instance: Instance, operations: list[Operation]) -> None:
        provisioning = last_started(operations, OperationType.PROVISION)
        if provisioning is not None and provisioning.state is OperationState.IN_PROGRESS:
            raise InvalidRequestError(f"instance {instance.instance_id} creation is in progress")
        if provisioning is not None and provisioning.state is OperationState.FAILED:
            raise InvalidRequestError(f"instance {instance.instance_id} creation failed")
        if _runtime_gone(instance, operations):
            raise InvalidRequestError(f"instance {instance.instance_id} has no running runtime to bind to")

    def _repeat(
        self, existing: Binding, strategy: CredentialStrategy, expiration: int, now: datetime
    ) -> BindingView:
        if existing.expiration_seconds != expiration or existing.strategy is not strategy:
            raise BindingConflictError("binding already exists but with different parameters")
        if existing.expired(now):
            raise InvalidRequestError(
                f"binding {existing.binding_id} expired; its id is free again once the cleanup removed it"
            )
        if existing.in_progress:
            raise UnprocessableError("binding creation already in progress")
        return BindingView(
            kubeconfig=self._cipher.decrypt(existing.credentials),
            expires_at=existing.expires_at,
            created=False,
        )

    async def _create_credentials(self, instance: Instance, placeholder: Binding) -> BindingView:
        try:
            issued = await self._issuer.issue(
                instance, placeholder.binding_id, placeholder.strategy, placeholder.expiration_seconds
            )
        except Exception:
            await self._forget(placeholder)
            raise
        async with self._uow() as uow:
            stored = await uow.bindings.get(placeholder.instance_id, placeholder.binding_id)
            if stored is None:  # unbound while we were creating it: undo in the cluster too
                await self._issuer.revoke(instance, placeholder)
                raise BindingGoneError("the binding was deleted while it was being created")
            await uow.bindings.update(
                stored.with_credentials(self._cipher.encrypt(issued.secret), issued.expires_at)
            )
            await uow.commit()
        return BindingView(kubeconfig=issued.secret, expires_at=issued.expires_at, created=True)

    async def _forget(self, placeholder: Binding) -> None:
        """Creation failed: drop the placeholder and what the cluster got, so a retry starts afresh."""
        try:
            async with self._uow() as uow:
                instance = await uow.instances.get(placeholder.instance_id)
                await uow.bindings.delete(placeholder.instance_id, placeholder.binding_id)
                await uow.commit()
            if instance is not None:
                await self._issuer.revoke(instance, placeholder)
        except Exception:
            log.exception("could not clean up binding %s after its creation failed", placeholder.binding_id)

    # --- fetch ------------------------------------------------------------------------------------

    async def get(self, instance_id: str, binding_id: str) -> BindingView:
        now = self._clock.now()
        found = await self._reads.binding_with_last_started(instance_id, binding_id)
        if found is None:
            raise InstanceNotFoundError("instance does not exist")
        if found.last_started is OperationType.DEPROVISION:
            raise BindingNotFoundError("Binding not found")
        binding = found.binding
        if binding is None:
            raise BindingNotFoundError("Binding not found")
        if binding.expired(now):
            raise BindingNotFoundError("Binding expired")
        if binding.in_progress:
            raise BindingNotFoundError("Binding creation in progress")
        return BindingView(
            kubeconfig=self._cipher.decrypt(binding.credentials), expires_at=binding.expires_at
        )

    async def exists(self, instance_id: str, binding_id: str) -> bool:
        """Binding last_operation: bindings are synchronous, so a binding that exists has succeeded."""
        binding = await self._reads.binding(instance_id, binding_id)
        return binding is not None and not binding.in_progress

    # --- unbind -----------------------------------------------------------------------------------

    async def unbind(self, instance_id: str, binding_id: str, *, service_id: str, plan_id: str) -> None:
        """DELETE binding: the cluster identity first, the row only after that worked (keb-reference §4.5).

        ``service_id`` and ``plan_id`` must be the catalog's and the instance's (decisions.md §3): a
        request that names another plan deletes nothing.
        """
        require_service(service_id)
        require_plan(plan_id)
        async with self._uow() as uow:
            binding = await uow.bindings.get(instance_id, binding_id)
            instance = await uow.instances.get(instance_id)
            if binding is not None and instance is None:
                await uow.bindings.delete(instance_id, binding_id)  # an orphan of a removed instance
                await uow.commit()
            if binding is None or instance is None:
                raise BindingGoneError("binding does not exist")
            require_instance_plan(plan_id, instance.plan_id)
            operations = await uow.operations.list_for_instance(instance_id)
        if not _runtime_gone(instance, operations):
            await self._issuer.revoke(instance, binding)
        async with self._uow() as uow:
            await uow.bindings.delete(instance_id, binding_id)
            await uow.commit()

    # --- cleanup ----------------------------------------------------------------------------------

    async def cleanup_expired(self, batch: int = 100) -> CleanupReport:
        """Remove every binding expired by now, revoking token identities of running runtimes first.

        Each expired binding is tried once, in pages of ``batch``; one that cannot be removed is reported
        and stays for the next cleanup.
        """
        now = self._clock.now()
        removed: list[tuple[str, str]] = []
        failed: list[tuple[str, str, str]] = []
        after: tuple[datetime, str, str] | None = None
        while True:
            async with self._uow() as uow:
                expired = await uow.bindings.list_expired(now, batch, after=after)
            for binding in expired:
                key = (binding.instance_id, binding.binding_id)
                try:
                    await self._remove_expired(binding)
                except (ClusterError, StorageConflictError) as error:
                    failed.append((*key, error.description))
                    continue
                removed.append(key)
            if len(expired) < batch:
                return CleanupReport(removed=tuple(removed), failed=tuple(failed))
            last = expired[-1]
            after = (last.expires_at, last.instance_id, last.binding_id)

    async def _remove_expired(self, binding: Binding) -> None:
        async with self._uow() as uow:
            instance = await uow.instances.get(binding.instance_id)
            operations = await uow.operations.list_for_instance(binding.instance_id) if instance else []
        if instance is not None and not _runtime_gone(instance, operations):
            # A missing runtime kubeconfig means the runtime is gone: nothing left to revoke.
            with contextlib.suppress(ClusterNotFoundError):
                await self._issuer.revoke(instance, binding)
        async with self._uow() as uow:
            await uow.bindings.delete(binding.instance_id, binding.binding_id)
            await uow.commit()


class BindingRequests:
    """Bind and unbind as the platform asks for them: a bind gets ``timeout`` seconds to finish.

    Binding is synchronous in OSB. A bind that takes longer than ``APP_BROKER_BINDING_CREATE_BINDING_TIMEOUT``
    is answered with BindingTimeoutError (decisions.md §3: 503) and goes on in the background: repeating the
    request returns the binding once it exists. Both are timed for the observer.
    """

    def __init__(
        self,
        bindings: BindingUseCases,
        clock: Clock,
        *,
        timeout: float,
        observer: BindingObserver | None = None,
    ) -> None:
        self._bindings = bindings
        self._clock = clock
        self.timeout = timeout
        self._observer: BindingObserver = observer or NoBindingObserver()
        self._tasks: set[asyncio.Task[BindingView]] = set()

    def _milliseconds_since(self, started: datetime) -> float:
        return (self._clock.now() - started).total_seconds() * 1000

    async def bind(self, command: BindCommand) -> BindingView:
        started = self._clock.now()
        task = asyncio.ensure_future(self._bindings.bind(command))
        self._tasks.add(task)

        def done(finished: asyncio.Task[BindingView]) -> None:
            self._tasks.discard(finished)
            if finished.cancelled() or finished.exception() is not None:  # observed when nobody waits
                return
            self._observer.bound(
                command.plan_id, self._milliseconds_since(started), finished.result().created
            )

        task.add_done_callback(done)
        try:
            return await asyncio.wait_for(asyncio.shield(task), self.timeout)
        except TimeoutError:
            raise BindingTimeoutError(
                f"creating the binding takes longer than {self.timeout:g}s; it goes on in the background, "
                "repeat the request to get it"
            ) from None

    async def unbind(self, instance_id: str, binding_id: str, *, service_id: str, plan_id: str) -> None:
        started = self._clock.now()
        await self._bindings.unbind(instance_id, binding_id, service_id=service_id, plan_id=plan_id)
        self._observer.unbound(self._milliseconds_since(started))

    async def drain(self) -> None:
        """Wait for binds still running in the background (at shutdown)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
