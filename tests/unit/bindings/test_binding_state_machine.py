"""Bindings as a Hypothesis state machine over the use cases, the memory adapters and a fake clock.

Random sequences of bind, fetch, unbind, clock moves and cleanup runs on two Ready aws runtimes are
checked against a model: the per-instance limit of unexpired bindings, idempotent repeats, 409 for a
different repeat, expired bindings invisible but blocking their id until the cleanup, and revoked tokens.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import datetime, timedelta
from typing import Any, TypeVar

import attrs
import pytest
import yaml
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from keb_adapters.crypto import AesGcmCipher
from keb_adapters.memory.clusters import MemoryGardener, MemoryRuntimeClusters
from keb_domain.errors import (
    BindingConflictError,
    BindingGoneError,
    BindingNotFoundError,
    InvalidRequestError,
)
from keb_domain.model.binding import CredentialStrategy, ExpirationPolicy
from keb_domain.model.plans import KYMA_SERVICE_ID
from keb_domain.secrets import Secret
from keb_domain.usecases.bindings import BindCommand, BindingUseCases, CredentialIssuer
from tests.support import AWS
from tests.unit.harness import Core, default_config, make_core, provision_command

T = TypeVar("T")

LIMIT = 3
INSTANCE_IDS = ("inst-a", "inst-b")
BINDING_IDS = ("b-1", "b-2", "b-3", "b-4", "b-5")
EXPIRATIONS = (None, 600, 1200, 7200)
DEFAULT_EXPIRATION = 600
CLOCK_STEPS = (30, 599, 600, 1200, 3600, 7200)


@attrs.define
class Expected:
    """What the model remembers of a binding that was created."""

    expiration_seconds: int
    token_request: bool
    kubeconfig: str
    expires_at: datetime
    token: str = ""  # the bearer token of a token binding, parsed once

    def expired(self, now: datetime) -> bool:
        return self.expires_at <= now


def token_of(kubeconfig: str) -> str:
    """The bearer token of a token binding's kubeconfig."""
    return str(yaml.safe_load(kubeconfig)["users"][0]["user"]["token"])


class Bindings(RuleBasedStateMachine):
    """Binding use cases over the memory adapters, against a model of the bindings."""

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.core: Core = make_core()
        self.clusters = MemoryRuntimeClusters(self.core.kcp, self.core.clock)
        self.bindings = BindingUseCases(
            self.core.storage,
            self.core.clock,
            issuer=CredentialIssuer(MemoryGardener(self.core.kcp, self.core.clock), self.clusters),
            cipher=AesGcmCipher(Secret("0123456789abcdef")),
            catalog=default_config().catalog,
            policy=ExpirationPolicy(max_bindings=LIMIT),
            reads=self.core.storage,
        )
        for instance_id in INSTANCE_IDS:
            self.run(self.core.instances.provision(provision_command(instance_id, AWS)))
        self.run(self.core.settle())
        self.runtime_ids = {i: self.core.instance(i).runtime_id for i in INSTANCE_IDS}
        assert all(self.runtime_ids.values())
        self.model: dict[tuple[str, str], Expected] = {}
        self.revoked: list[tuple[str, str]] = []  # (runtime id, token) of unbound token bindings

    def teardown(self) -> None:
        self.loop.close()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coroutine)

    @property
    def now(self) -> datetime:
        return self.core.clock.now()

    def unexpired(self, instance_id: str) -> int:
        return sum(
            1
            for (owner, _), known in self.model.items()
            if owner == instance_id and not known.expired(self.now)
        )

    # --- requests ---------------------------------------------------------------------------------

    @rule(
        instance_id=st.sampled_from(INSTANCE_IDS),
        binding_id=st.sampled_from(BINDING_IDS),
        expiration=st.sampled_from(EXPIRATIONS),
        token_request=st.booleans(),
    )
    def create(self, instance_id: str, binding_id: str, expiration: int | None, token_request: bool) -> None:
        """A PUT binding: new, identical repeat, conflicting repeat, blocked id, or over the limit."""
        self.check_create(instance_id, binding_id, expiration, token_request)

    @rule(data=st.data(), instance_id=st.sampled_from(INSTANCE_IDS), token_request=st.booleans())
    def create_new(self, data: st.DataObject, instance_id: str, token_request: bool) -> None:
        """A PUT with an id the instance does not use yet: new, or refused at the limit."""
        free = [b for b in BINDING_IDS if (instance_id, b) not in self.model]
        if not free:
            return
        binding_id = data.draw(st.sampled_from(free), label="binding_id")
        expiration = data.draw(st.sampled_from(EXPIRATIONS), label="expiration")
        self.check_create(instance_id, binding_id, expiration, token_request)

    @precondition(lambda self: bool(self.model))
    @rule(data=st.data())
    def repeat(self, data: st.DataObject) -> None:
        """A PUT that repeats an existing binding exactly (600 s sent or left to the default)."""
        instance_id, binding_id = data.draw(st.sampled_from(sorted(self.model)), label="binding")
        known = self.model[(instance_id, binding_id)]
        omit = known.expiration_seconds == DEFAULT_EXPIRATION and data.draw(st.booleans(), label="omit")
        expiration = None if omit else known.expiration_seconds
        self.check_create(instance_id, binding_id, expiration, known.token_request)

    @precondition(lambda self: any(known.expired(self.now) for known in self.model.values()))
    @rule(data=st.data())
    def repeat_expired(self, data: st.DataObject) -> None:
        """A PUT that repeats an expired binding before the cleanup removed it."""
        expired = sorted(key for key, known in self.model.items() if known.expired(self.now))
        instance_id, binding_id = data.draw(st.sampled_from(expired), label="binding")
        known = self.model[(instance_id, binding_id)]
        self.check_create(instance_id, binding_id, known.expiration_seconds, known.token_request)

    def check_create(
        self, instance_id: str, binding_id: str, expiration: int | None, token_request: bool
    ) -> None:
        parameters: dict[str, Any] = {"token_request": token_request}
        if expiration is not None:
            parameters["expiration_seconds"] = expiration
        command = BindCommand(instance_id, binding_id, KYMA_SERVICE_ID, AWS, parameters)
        seconds = expiration or DEFAULT_EXPIRATION
        known = self.model.get((instance_id, binding_id))
        if known is not None:
            if (known.expiration_seconds, known.token_request) != (seconds, token_request):
                event("create: conflicting repeat")
                with pytest.raises(BindingConflictError):
                    self.run(self.bindings.bind(command))
            elif known.expired(self.now):
                event("create: expired id")
                with pytest.raises(InvalidRequestError, match="expired"):
                    self.run(self.bindings.bind(command))
            else:
                event("create: identical repeat")
                view = self.run(self.bindings.bind(command))
                assert not view.created
                assert view.kubeconfig.reveal() == known.kubeconfig
                assert view.expires_at == known.expires_at
            return
        if self.unexpired(instance_id) >= LIMIT:
            event("create: limit reached")
            with pytest.raises(
                InvalidRequestError, match=f"maximum number of non expired bindings reached: {LIMIT}"
            ):
                self.run(self.bindings.bind(command))
            assert (instance_id, binding_id) not in self.core.storage.bindings
            return
        view = self.run(self.bindings.bind(command))
        assert view.created
        assert view.expires_at == self.now + timedelta(seconds=seconds)
        kubeconfig = view.kubeconfig.reveal()
        if token_request:
            assert self.clusters.token_works(self.runtime_ids[instance_id], token_of(kubeconfig))
        else:
            assert "client-certificate-data" in kubeconfig
        token = token_of(kubeconfig) if token_request else ""
        self.model[(instance_id, binding_id)] = Expected(
            seconds, token_request, kubeconfig, view.expires_at, token
        )

    @rule(instance_id=st.sampled_from(INSTANCE_IDS), binding_id=st.sampled_from(BINDING_IDS))
    def get(self, instance_id: str, binding_id: str) -> None:
        """A GET binding: the stored kubeconfig while it lives, 404 when unknown or expired."""
        known = self.model.get((instance_id, binding_id))
        if known is None or known.expired(self.now):
            with pytest.raises(BindingNotFoundError):
                self.run(self.bindings.get(instance_id, binding_id))
            return
        view = self.run(self.bindings.get(instance_id, binding_id))
        assert view.kubeconfig.reveal() == known.kubeconfig
        assert view.expires_at == known.expires_at

    @rule(instance_id=st.sampled_from(INSTANCE_IDS), binding_id=st.sampled_from(BINDING_IDS))
    def delete(self, instance_id: str, binding_id: str) -> None:
        """A DELETE binding: 410 when unknown; otherwise gone, and a token binding's token revoked."""
        known = self.model.pop((instance_id, binding_id), None)
        if known is None:
            with pytest.raises(BindingGoneError):
                self.run(
                    self.bindings.unbind(instance_id, binding_id, service_id=KYMA_SERVICE_ID, plan_id=AWS)
                )
            return
        self.run(self.bindings.unbind(instance_id, binding_id, service_id=KYMA_SERVICE_ID, plan_id=AWS))
        if known.token_request:
            assert not self.clusters.token_works(self.runtime_ids[instance_id], known.token)
            self.revoked.append((self.runtime_ids[instance_id], known.token))

    @rule(seconds=st.sampled_from(CLOCK_STEPS))
    def advance_clock(self, seconds: int) -> None:
        self.core.clock.advance(seconds)

    @rule()
    def cleanup(self) -> None:
        """The cleanup removes exactly the expired bindings, which frees their ids."""
        expired = {key for key, known in self.model.items() if known.expired(self.now)}
        report = self.run(self.bindings.cleanup_expired())
        assert report.failed == ()
        assert set(report.removed) == expired
        assert len(report.removed) == len(expired)
        for key in expired:
            del self.model[key]

    # --- always -----------------------------------------------------------------------------------

    @invariant()
    def storage_holds_exactly_the_model_s_bindings(self) -> None:
        assert set(self.core.storage.bindings) == set(self.model)

    @invariant()
    def never_more_unexpired_bindings_than_the_limit(self) -> None:
        for instance_id in INSTANCE_IDS:
            stored = [
                binding
                for (owner, _), binding in self.core.storage.bindings.items()
                if owner == instance_id and not binding.expired(self.now)
            ]
            assert len(stored) <= LIMIT

    @invariant()
    def stored_bindings_keep_their_strategy_and_hide_the_kubeconfig(self) -> None:
        for key, known in self.model.items():
            stored = self.core.storage.bindings[key]
            assert stored.strategy is (
                CredentialStrategy.TOKEN_REQUEST
                if known.token_request
                else CredentialStrategy.GARDENER_ADMIN_KUBECONFIG
            )
            assert stored.expires_at == known.expires_at
            assert stored.credentials
            assert known.kubeconfig not in stored.credentials

    @invariant()
    def live_tokens_work_and_revoked_ones_do_not(self) -> None:
        for (instance_id, _), known in self.model.items():
            if known.token_request:
                works = self.clusters.token_works(self.runtime_ids[instance_id], known.token)
                assert works == (not known.expired(self.now))
        for runtime_id, token in self.revoked:
            assert not self.clusters.token_works(runtime_id, token)


Bindings.TestCase.settings = settings(stateful_step_count=50)
TestBindings = Bindings.TestCase
