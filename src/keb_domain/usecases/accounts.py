"""Choosing, claiming and releasing a runtime's hyperscaler account (KEB's ``Resolve_Credentials_Binding``
and ``Free_Credentials_Binding_Step``).

Claims are safe across broker replicas by optimistic concurrency on the CredentialsBinding itself: every
replica reads the pool, takes the unclaimed binding with the lowest name, and writes ``tenantName`` with the
``resourceVersion`` it read. Two provisions for one new global account therefore race on the same object;
Gardener's API server accepts one write and answers 409 to the other, which then reads the pool again and
finds the binding its global account now holds. No database lock is held while talking to Gardener.
"""

from __future__ import annotations

import logging

from keb_domain.errors import ClusterConflictError, ClusterNotFoundError, KebError
from keb_domain.model.hap import (
    DIRTY,
    TENANT_NAME,
    HapRules,
    Pool,
    PoolRequest,
    first_by_name,
    least_used,
)
from keb_domain.model.instance import Instance
from keb_domain.ports import CredentialsBindings

_log = logging.getLogger(__name__)

EMPTY_POOL = (
    "Currently, no unassigned provider accounts are available. Please contact us for further assistance."
)
MAX_CLAIM_ATTEMPTS = 10


class AccountPoolExhaustedError(KebError):
    """The pool has no binding this global account could use."""


def pool_request(instance: Instance) -> PoolRequest:
    return PoolRequest(
        plan=instance.plan_name,
        platform_region=instance.platform_region,
        hyperscaler_region=instance.cluster_region,
        hyperscaler=instance.provider.value,
    )


class HyperscalerAccounts:
    """Resolves and releases the CredentialsBinding of an instance."""

    def __init__(self, rules: HapRules, bindings: CredentialsBindings) -> None:
        self._rules = rules
        self._bindings = bindings

    def pool_for(self, instance: Instance) -> Pool:
        """Raises NoMatchingRuleError."""
        return self._rules.pool_for(pool_request(instance))

    async def resolve(self, instance: Instance) -> str:
        """The binding name for the instance's Runtime, claiming one for its global account if needed.

        Raises NoMatchingRuleError, AccountPoolExhaustedError and the cluster errors.
        """
        pool = self.pool_for(instance)
        tenant = instance.global_account_id
        for _ in range(MAX_CLAIM_ATTEMPTS):
            held = await self._bindings.list(pool.claimed_by(tenant))
            if held and pool.shared:
                return least_used(held, await self._bindings.shoot_usage())
            if held:
                return first_by_name(held).name
            if pool.shared:
                break
            free = await self._bindings.list(pool.unclaimed())
            if not free:
                break
            candidate = first_by_name(free)
            try:
                await self._bindings.relabel(candidate, {**candidate.labels, TENANT_NAME: tenant})
            except (ClusterConflictError, ClusterNotFoundError):
                continue  # another replica claimed or changed it: read the pool again
            _log.info(
                "claimed credentials binding %s for global account %s (pool %s)",
                candidate.name,
                tenant,
                pool.rule,
            )
            return candidate.name
        else:
            raise AccountPoolExhaustedError(
                f"could not claim a credentials binding in pool {pool.rule!r}: "
                f"{MAX_CLAIM_ATTEMPTS} attempts collided with other claims"
            )
        selector = pool.claimed_by(tenant) if pool.shared else pool.unclaimed()
        _log.error("hyperscaler account pool empty: selector %s", selector)
        raise AccountPoolExhaustedError(f"{EMPTY_POOL} (pool {pool.rule!r}, selector {selector})")

    async def release(self, binding_name: str, shoot_name: str) -> bool:
        """Mark the binding ``dirty=true`` (keeping ``tenantName``) once no Shoot uses it; True if released.

        Shared, internal and already dirty bindings are never released. ``shoot_name`` is this
        instance's Shoot, which must be gone first (the caller waits for the Runtime's deletion).
        """
        for _ in range(MAX_CLAIM_ATTEMPTS):
            binding = await self._bindings.get(binding_name)
            if binding is None or not binding.releasable:
                return False
            usage = await self._bindings.shoot_usage()
            if usage.get(binding_name, 0) > 0:
                _log.info("credentials binding %s is still used by a Shoot; not released", binding_name)
                return False
            try:
                await self._bindings.relabel(binding, {**binding.labels, DIRTY: "true"})
            except ClusterConflictError:
                continue
            except ClusterNotFoundError:
                return False
            _log.info("released credentials binding %s (dirty=true) after shoot %s", binding_name, shoot_name)
            return True
        return False
