"""The composition root: every adapter is built here and nowhere else.

``build_services(settings, **overrides)`` builds without I/O; ``Services.start()`` migrates the database
and starts the workers, ``Services.stop()`` undoes both. Tests pass overrides (a fake clock, memory
storage, a memory control plane) instead of monkeypatching.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

import attrs
import yaml

from keb_adapters.auth.local import LocalIssuer
from keb_adapters.auth.verifier import CachedKeys, JwksLoader, JwtVerifier, http_jwks
from keb_adapters.crypto import AesGcmCipher, local_secret_key
from keb_adapters.files import private_directory
from keb_adapters.kubernetes.client import KubeClient, LazyClient, listen_for_errors
from keb_adapters.kubernetes.control_plane import (
    KubernetesControlPlane,
    KubernetesMachineVolumeSizes,
    KubernetesRuntimeConfiguration,
    KubernetesSeedRegions,
)
from keb_adapters.kubernetes.gardener import KubernetesCredentialsBindings, KubernetesGardener
from keb_adapters.kubernetes.runtime_clusters import KubernetesRuntimeClusters
from keb_adapters.memory.accounts import MemoryCredentialsBindings
from keb_adapters.memory.clusters import MemoryControlPlane, MemoryGardener, MemoryRuntimeClusters
from keb_adapters.memory.inventory import MemoryInventory
from keb_adapters.memory.landscape_facts import MemoryMachineVolumeSizes, MemorySeedRegions
from keb_adapters.memory.runtime_config import MemoryRuntimeConfiguration
from keb_adapters.memory.statistics import MemoryStatistics
from keb_adapters.memory.storage import MemoryStorage
from keb_adapters.metrics import Metrics, PoolStatus
from keb_adapters.sql.database import create_engine, current_revision, head_revision, migrate
from keb_adapters.sql.inventory import SqlInventory
from keb_adapters.sql.statistics import SqlStatistics
from keb_adapters.sql.storage import SqlStorage
from keb_adapters.system import RandomIds, SystemClock
from keb_app.engine import OperationEngine
from keb_app.landscape.facts import SEED_REGIONS, built_in_volume_sizes
from keb_app.landscape.local import LocalLandscape
from keb_app.landscape.pools import local_pools
from keb_app.landscape.shared import (
    LandscapeConfig,
    LandscapeUse,
    OwnedLandscape,
    own_landscape,
    start_or_attach,
)
from keb_app.observe import Observers, OperationLog
from keb_app.settings import Settings
from keb_domain.auth import TokenVerifier
from keb_domain.errors import ClusterError, ConfigurationError
from keb_domain.model.plans import Provider
from keb_domain.model.volumes import VolumeSizeTable, missing_volume_sizes
from keb_domain.ports import (
    Cipher,
    Clock,
    ControlPlane,
    CredentialsBindings,
    Gardener,
    IdGenerator,
    Inventory,
    MachineVolumeSizes,
    OperationQueue,
    RuntimeClusters,
    RuntimeConfigurationSource,
    SeedRegions,
    Statistics,
    StorageReads,
    UnitOfWork,
)
from keb_domain.secrets import Secret
from keb_domain.usecases.accounts import HyperscalerAccounts
from keb_domain.usecases.bindings import BindingRequests, BindingUseCases, CleanupReport, CredentialIssuer
from keb_domain.usecases.instances import InstanceUseCases
from keb_domain.usecases.inventory import InventoryUseCases
from keb_domain.usecases.jobs import JobName, JobReport, LandscapeJobs
from keb_domain.usecases.processing import OperationProcessor

log = logging.getLogger("keb")
READINESS_TIMEOUT = 5.0


@attrs.frozen
class Check:
    """One readiness check: ``problem`` is None when it passes."""

    name: str
    problem: str | None


class Storage(OperationQueue, StorageReads, Protocol):
    """What the broker needs from storage: units of work, single-query reads and the operation queue."""

    def __call__(self) -> UnitOfWork: ...


@attrs.define
class Services:
    settings: Settings
    storage: Storage
    control_plane: ControlPlane
    clock: Clock
    ids: IdGenerator
    instances: InstanceUseCases
    binding_cases: BindingUseCases
    inventory: InventoryUseCases
    binding_requests: BindingRequests
    processor: OperationProcessor
    engine: OperationEngine
    metrics: Metrics
    statistics: Statistics
    jobs: LandscapeJobs
    run_engine: bool = True
    landscape: list[LocalLandscape] = attrs.field(factory=list)  # the running local landscape, if any
    verifier: TokenVerifier | None = None  # None: APP_AUTH_MODE=none
    local_issuer: LocalIssuer | None = None
    _cleanup: asyncio.Task[None] | None = None
    _stop_deadline: float | None = None
    _scheduled_jobs: asyncio.Task[None] | None = None
    _startup: list[Callable[[], Awaitable[None]]] = attrs.field(factory=list)
    _shutdown: list[Callable[[], Awaitable[None]]] = attrs.field(factory=list)

    async def start(self) -> None:
        for step in self._startup:
            await step()
        if self.run_engine:
            await self.engine.start()
            self._cleanup = asyncio.create_task(
                self._clean_bindings_periodically(), name="keb-binding-cleanup"
            )
            if self.settings.jobs_interval > 0 and self.settings.scheduled_jobs:
                self._scheduled_jobs = asyncio.create_task(self._run_jobs_periodically(), name="keb-jobs")

    async def begin_stop(self, deadline: float) -> None:
        """The stop has begun (SIGTERM): claim no more operations while open requests finish.

        ``deadline`` (a ``time.monotonic()`` value) bounds the later :meth:`stop`.
        """
        self._stop_deadline = deadline
        await self.engine.stop_claiming()

    async def stop(self, deadline: float | None = None) -> None:
        """Stop the workers: running steps may finish until ``deadline`` (a ``time.monotonic()`` value, by
        default the one :meth:`begin_stop` was given), the rest are cancelled and their leases released.
        """
        deadline = deadline if deadline is not None else self._stop_deadline
        if self._scheduled_jobs is not None:
            self._scheduled_jobs.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._scheduled_jobs
            self._scheduled_jobs = None
        if self._cleanup is not None:
            self._cleanup.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._cleanup
            self._cleanup = None
        await self.engine.stop(deadline)
        await self.binding_requests.drain()
        for step in reversed(self._shutdown):
            await step()

    async def readiness(self) -> list[Check]:
        """Database reachable and at the newest schema, engine running (when this process runs one)."""
        checks = [await self._database_check()]
        if self.run_engine:
            checks.append(
                Check("engine", None if self.engine.running else "the operation engine is not running")
            )
        return checks

    async def _database_check(self) -> Check:
        if not isinstance(self.storage, SqlStorage):
            return Check("database", None)
        try:
            async with asyncio.timeout(READINESS_TIMEOUT):
                async with self.storage.engine.connect() as connection:
                    revision = await current_revision(connection)
        except Exception as error:  # any driver error means: not reachable now
            return Check("database", f"not reachable ({type(error).__name__})")
        newest = head_revision()
        if revision != newest:
            return Check("database", f"schema at revision {revision or 'none'}, the newest is {newest}")
        return Check("database", None)

    def pool_status(self) -> PoolStatus | None:
        """Connections of this process's database pool, when the storage is SQL with a counting pool."""
        if not isinstance(self.storage, SqlStorage):
            return None
        pool = self.storage.engine.pool
        size, checked_out, overflow = (
            getattr(pool, name, None) for name in ("size", "checkedout", "overflow")
        )
        if not (callable(size) and callable(checked_out) and callable(overflow)):
            return None
        return PoolStatus(size=int(size()), checked_out=int(checked_out()), overflow=int(overflow()))

    async def clean_bindings(self) -> CleanupReport:
        """Remove expired bindings (and their cluster identities) and log what happened."""
        report = await self.binding_cases.cleanup_expired()
        for instance_id, binding_id in report.removed:
            log.info("removed expired binding %s of instance %s", binding_id, instance_id)
        for instance_id, binding_id, why in report.failed:
            log.warning(
                "could not remove expired binding %s of instance %s: %s", binding_id, instance_id, why
            )
        return report

    async def run_job(self, job: JobName, *, dry_run: bool = False) -> JobReport:
        """One run of a landscape job, counted in the metrics."""
        report = await self.jobs.run(job, dry_run=dry_run)
        self.metrics.job_ran(report)
        return report

    async def run_scheduled_jobs(self) -> list[JobReport]:
        """One round of the jobs ``APP_JOBS`` names (each safe to run on several replicas at once)."""
        return [await self.run_job(job) for job in self.settings.scheduled_jobs]

    async def _run_jobs_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.settings.jobs_interval)
            try:
                await self.run_scheduled_jobs()
            except Exception:
                log.exception(
                    "a scheduled job failed; the jobs run again in %ss", self.settings.jobs_interval
                )

    async def _clean_bindings_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.settings.binding_cleanup_interval)
            try:
                await self.clean_bindings()
            except Exception:
                log.exception(
                    "the binding cleanup failed; it runs again in %ss", self.settings.binding_cleanup_interval
                )


# Tests on the memory control plane provision many runtimes of one global account and of many accounts.
MEMORY_POOL_SIZE = 200


def build_services(
    settings: Settings,
    *,
    storage: Storage | None = None,
    control_plane: ControlPlane | None = None,
    clock: Clock | None = None,
    ids: IdGenerator | None = None,
    verifier: TokenVerifier | None = None,
    gardener: Gardener | None = None,
    runtime_clusters: RuntimeClusters | None = None,
    cipher: Cipher | None = None,
    credentials_bindings: CredentialsBindings | None = None,
    runtime_configuration: RuntimeConfigurationSource | None = None,
    seed_regions: SeedRegions | None = None,
    volume_sizes: MachineVolumeSizes | None = None,
    run_engine: bool = True,
    idle_poll: float = 1.0,
    metrics: Metrics | None = None,
    migrate_at_start: bool = True,
    landscape_in_process: bool = False,
    start_landscape: bool = True,
) -> Services:
    """Build the broker without I/O.

    Args:
        migrate_at_start: ``start()`` migrates the database (``keb serve`` migrates once before its workers).
        landscape_in_process: with the local landscape, run it inside this process instead of in a process
            of its own (tests that look inside it); either way one landscape serves one data directory.
        start_landscape: start (or attach to) the local landscape at ``start()``; off for ``keb job``,
            which only writes operations to the database.
    """
    clock = clock or SystemClock()
    metrics = metrics or Metrics()
    ids = ids or RandomIds()
    startup: list[Callable[[], Awaitable[None]]] = []
    shutdown: list[Callable[[], Awaitable[None]]] = []
    if storage is None:
        if settings.database_kind == "sqlite":
            private_directory(settings.data_dir)
        engine = create_engine(settings.database_url, tls=settings.database_tls, pool=settings.database_pool)
        storage = SqlStorage(engine)

        async def _migrate() -> None:
            await migrate(engine)

        if migrate_at_start:
            startup.append(_migrate)
        shutdown.append(storage.dispose)
    statistics: Statistics
    if isinstance(storage, SqlStorage):
        inventory: Inventory = SqlInventory(storage.engine)
        statistics = SqlStatistics(storage.engine)
    elif isinstance(storage, MemoryStorage):
        inventory = MemoryInventory(storage)
        statistics = MemoryStatistics(storage)
    else:
        raise ConfigurationError("storage must be the SQL or the memory storage")
    landscape: list[LocalLandscape] = []
    if control_plane is None:
        kcp_client, garden_client = _kubernetes_clients(
            settings, landscape, startup if start_landscape else [], shutdown, in_process=landscape_in_process
        )
        control_plane = KubernetesControlPlane(kcp_client)
        runtime_configuration = runtime_configuration or KubernetesRuntimeConfiguration(
            kcp_client, settings.runtime_configuration_name
        )
        seed_regions = seed_regions or KubernetesSeedRegions(kcp_client, settings.seeds_cache_name)
        volume_sizes = volume_sizes or KubernetesMachineVolumeSizes(kcp_client, settings.kcr_config_map_name)
        gardener = gardener or KubernetesGardener(garden_client, settings.gardener_project)
        credentials_bindings = credentials_bindings or KubernetesCredentialsBindings(
            garden_client, settings.gardener_project
        )
        runtime_clusters = runtime_clusters or KubernetesRuntimeClusters(
            control_plane, settings.kubernetes_timeout
        )
    if isinstance(control_plane, MemoryControlPlane):
        gardener = gardener or MemoryGardener(control_plane, clock)
        runtime_clusters = runtime_clusters or MemoryRuntimeClusters(control_plane, clock)
        if credentials_bindings is None:
            memory_pools = MemoryCredentialsBindings(control_plane)
            for name, labels in local_pools(MEMORY_POOL_SIZE):
                memory_pools.add(name, labels)
            credentials_bindings = memory_pools
        runtime_configuration = runtime_configuration or MemoryRuntimeConfiguration()
        # What the local landscape seeds, so a memory broker behaves as `make run` does.
        seed_regions = seed_regions or MemorySeedRegions(
            {p: SEED_REGIONS[p.value] for p in Provider if p.value in SEED_REGIONS}
        )
        volume_sizes = volume_sizes or MemoryMachineVolumeSizes(VolumeSizeTable(built_in_volume_sizes()))
    if (
        gardener is None
        or runtime_clusters is None
        or credentials_bindings is None
        or runtime_configuration is None
        or seed_regions is None
        or volume_sizes is None
    ):
        raise ConfigurationError(
            "a control plane other than the memory one needs Gardener, runtime clusters, "
            "credentials bindings, the runtime configuration, the seed regions and the volume sizes"
        )
    if settings.broker.runtime.dynamic_volume_size:
        startup.append(_volume_sizes_check(settings, volume_sizes))
    observer = Observers([OperationLog(), metrics])
    accounts = HyperscalerAccounts(settings.hap_rules, credentials_bindings)
    processor = OperationProcessor(
        storage,
        control_plane,
        clock,
        ids,
        settings.broker,
        observer=observer,
        accounts=accounts,
        runtime_configuration=runtime_configuration,
        volume_sizes=volume_sizes,
    )
    operation_engine = OperationEngine(
        storage,
        processor,
        clock,
        owner=f"{socket.gethostname()}-{os.getpid()}-{ids.new_id()[:8]}",
        workers=settings.workers,
        lease_seconds=settings.recovery_delay,
        idle_poll=idle_poll,
        on_busy=metrics.busy_workers,
    )
    instances = InstanceUseCases(
        storage,
        clock,
        ids,
        settings.broker,
        notify=operation_engine.wake,
        observer=observer,
        reads=storage,
        seed_regions=seed_regions,
    )
    stop_listening = listen_for_errors(metrics.cluster_error)

    async def stop_counting_errors() -> None:
        stop_listening()

    shutdown.append(stop_counting_errors)
    binding_cases = BindingUseCases(
        storage,
        clock,
        issuer=CredentialIssuer(gardener, runtime_clusters),
        cipher=cipher or AesGcmCipher(_secret_key(settings)),
        catalog=settings.broker.catalog,
        policy=settings.binding_policy,
        reads=storage,
    )
    local_issuer, verifier = _auth(settings, verifier)
    return Services(
        settings=settings,
        verifier=verifier,
        local_issuer=local_issuer,
        storage=storage,
        control_plane=control_plane,
        clock=clock,
        ids=ids,
        instances=instances,
        binding_cases=binding_cases,
        inventory=InventoryUseCases(inventory, storage, control_plane),
        binding_requests=BindingRequests(
            binding_cases, clock, timeout=settings.binding_timeout, observer=metrics
        ),
        processor=processor,
        engine=operation_engine,
        metrics=metrics,
        statistics=statistics,
        jobs=LandscapeJobs(inventory, instances, clock, settings.job_periods),
        run_engine=run_engine,
        landscape=landscape,
        startup=startup,
        shutdown=shutdown,
    )


def _client_from_file(path: Path, timeout: float) -> LazyClient:
    async def load() -> KubeClient:
        try:
            kubeconfig = yaml.safe_load(await asyncio.to_thread(path.read_text, encoding="utf-8"))
        except (OSError, yaml.YAMLError) as error:
            raise ConfigurationError(f"cannot read kubeconfig {path}: {error}") from None
        return await KubeClient.from_kubeconfig(kubeconfig, timeout)

    return LazyClient(load)


def _volume_sizes_check(
    settings: Settings, volume_sizes: MachineVolumeSizes
) -> Callable[[], Awaitable[None]]:
    """KEB's start-up check of dynamic volume sizes: the ConfigMap exists and sizes every machine type."""
    key = "APP_BROKER_DYNAMIC_VOLUME_SIZE_ENABLED"
    where = f"ConfigMap kcp-system/{settings.kcr_config_map_name} (APP_BROKER_KCR_CONFIG_MAP_NAME)"

    async def check() -> None:
        try:
            table = await volume_sizes.volume_sizes()
        except ClusterError as error:
            raise ConfigurationError(f"{key}: cannot read the {where}: {error.description}") from None
        if table is None:
            raise ConfigurationError(f"{key}: the {where} does not exist")
        missing = missing_volume_sizes(table, settings.broker.policy, settings.broker.catalog.enabled_plans)
        if missing:
            raise ConfigurationError(f"{key}: the {where} has no volume size for {', '.join(missing)}")

    return check


def landscape_config(settings: Settings) -> LandscapeConfig:
    """The local landscape of the data directory, as the settings configure it."""
    return LandscapeConfig(
        root=settings.data_dir / "landscape",
        port=settings.local_landscape_port,
        ready_after=settings.local_ready_after,
        project=settings.gardener_project,
        failing_subaccount_prefix=settings.local_failing_subaccount_prefix,
        pool_size=settings.local_pool_size,
        runtime_configuration_name=settings.runtime_configuration_name,
        seeds_cache_name=settings.seeds_cache_name,
        kcr_config_map_name=settings.kcr_config_map_name,
        log_level=settings.log_level,
        log_format=settings.log_format,
    )


def _kubernetes_clients(
    settings: Settings,
    landscape: list[LocalLandscape],
    startup: list[Callable[[], Awaitable[None]]],
    shutdown: list[Callable[[], Awaitable[None]]],
    *,
    in_process: bool,
) -> tuple[LazyClient, LazyClient]:
    """KCP and Gardener clients for the configured mode; ``local`` starts the landscape at startup."""
    timeout = settings.kubernetes_timeout
    if settings.cluster_mode == "local":
        config = landscape_config(settings)
        kcp_path, garden_path = config.kubeconfigs / "kcp.yaml", config.kubeconfigs / "garden.yaml"
        held: list[OwnedLandscape | LandscapeUse] = []

        async def start_landscape() -> None:
            if in_process:
                owned = await asyncio.to_thread(own_landscape, config)
                if owned is None:
                    raise ConfigurationError(
                        f"the local landscape of {config.root} is served by another process; "
                        "stop it to run the landscape inside this one"
                    )
                held.append(owned)
                landscape.append(owned.landscape)
            else:
                held.append(await asyncio.to_thread(start_or_attach, config))

        async def stop_landscape() -> None:
            landscape.clear()
            while held:
                await asyncio.to_thread(held.pop().close)

        startup.append(start_landscape)
        shutdown.append(stop_landscape)
        kcp, garden = _client_from_file(kcp_path, timeout), _client_from_file(garden_path, timeout)
    elif settings.cluster_mode == "kubeconfig" and settings.kcp_kubeconfig is not None:
        kcp = _client_from_file(settings.kcp_kubeconfig, timeout)
    else:

        async def in_cluster() -> KubeClient:
            return KubeClient.in_cluster(timeout)

        kcp = LazyClient(in_cluster)
    if settings.cluster_mode != "local":
        if settings.gardener_kubeconfig is None:
            raise ConfigurationError("APP_GARDENER_KUBECONFIG_PATH is required with a real KCP")
        garden = _client_from_file(settings.gardener_kubeconfig, timeout)
    shutdown.append(kcp.close)
    shutdown.append(garden.close)
    return kcp, garden


def _auth(
    settings: Settings, verifier: TokenVerifier | None
) -> tuple[LocalIssuer | None, TokenVerifier | None]:
    """The token verifier of the auth mode; ``local`` also makes the embedded issuer."""
    auth = settings.auth
    if auth.mode == "none":
        return None, verifier
    issuer = LocalIssuer(settings.data_dir, auth.issuer, auth.audience) if auth.mode == "local" else None
    if verifier is None:
        if issuer is not None:
            local = issuer

            async def keys() -> Mapping[str, Any]:
                return local.jwks()

            loader: JwksLoader = keys
        else:
            loader = http_jwks(auth.jwks_url)
        keys_cache = CachedKeys(loader, min_interval=auth.jwks_min_refresh)
        verifier = JwtVerifier(keys_cache, issuer=auth.issuer, audience=auth.audience, leeway=auth.leeway)
    return issuer, verifier


def _secret_key(settings: Settings) -> Secret:
    """``APP_DATABASE_SECRET_KEY``; the embedded SQLite run generates one into its data directory."""
    if settings.database_secret_key is not None:
        return settings.database_secret_key
    if settings.database_kind == "sqlite":
        return local_secret_key(settings.data_dir)
    raise ConfigurationError(
        "APP_DATABASE_SECRET_KEY is required with PostgreSQL: it encrypts binding credentials"
    )
