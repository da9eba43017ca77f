"""The Gardener port: ``shoots/{name}/adminkubeconfig`` by the real adapter and by the memory implementation
(kubernetes-wire §1.2)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import yaml

from keb_domain.errors import ClusterInvalidError, ClusterNotFoundError

from .conftest import Side

SHOOT = "c-1234567"
#: The double stamps whole seconds; the real side's clock also runs while the request is served.
SLACK = timedelta(seconds=5)


async def test_admin_kubeconfig_expires_after_the_requested_time(side: Side) -> None:
    """An admin kubeconfig for an existing shoot expires ``expiration_seconds`` from now."""
    await side.add_runtime("rt-1", SHOOT)
    issued = await side.gardener.request_admin_kubeconfig(SHOOT, 3600)
    assert abs(issued.expires_at - (side.now() + timedelta(seconds=3600))) < SLACK


async def test_admin_kubeconfig_expiration_is_capped_at_a_day(side: Side) -> None:
    """A request for more than 24 h is granted 24 h, as Gardener's default maximum expiration."""
    await side.add_runtime("rt-1", SHOOT)
    issued = await side.gardener.request_admin_kubeconfig(SHOOT, 3 * 24 * 3600)
    assert abs(issued.expires_at - (side.now() + timedelta(hours=24))) < SLACK


async def test_admin_kubeconfig_authenticates_with_a_client_certificate(side: Side) -> None:
    """The kubeconfig is decoded YAML with a current context, server, CA data and a certificate user."""
    await side.add_runtime("rt-1", SHOOT)
    issued = await side.gardener.request_admin_kubeconfig(SHOOT, 600)
    kubeconfig = yaml.safe_load(issued.secret.reveal())
    assert kubeconfig["current-context"]
    cluster = kubeconfig["clusters"][0]["cluster"]
    assert cluster["server"].startswith("https://")
    assert cluster["certificate-authority-data"]
    user = kubeconfig["users"][0]["user"]
    assert user["client-certificate-data"]
    assert user["client-key-data"]
    assert "token" not in user


async def test_admin_kubeconfig_without_expiration_lasts_an_hour(side: Side) -> None:
    """An expiration of 0 means "not given", and Gardener defaults it to one hour."""
    await side.add_runtime("rt-1", SHOOT)
    issued = await side.gardener.request_admin_kubeconfig(SHOOT, 0)
    assert abs(issued.expires_at - (side.now() + timedelta(hours=1))) < SLACK


async def test_admin_kubeconfig_beyond_two_to_the_32_seconds_is_invalid(side: Side) -> None:
    """More than 2^32 seconds fails Gardener's validation (ClusterInvalidError) rather than being capped."""
    await side.add_runtime("rt-1", SHOOT)
    with pytest.raises(ClusterInvalidError):
        await side.gardener.request_admin_kubeconfig(SHOOT, 2**32 + 1)


@pytest.mark.parametrize("seconds", [1, 599])
async def test_admin_kubeconfig_under_ten_minutes_is_invalid(side: Side, seconds: int) -> None:
    """Less than 600 seconds is refused with ClusterInvalidError (422 from Gardener's validation)."""
    await side.add_runtime("rt-1", SHOOT)
    with pytest.raises(ClusterInvalidError, match="less than 10 minutes"):
        await side.gardener.request_admin_kubeconfig(SHOOT, seconds)


async def test_admin_kubeconfig_of_an_unknown_shoot_raises_not_found(side: Side) -> None:
    """A shoot that does not exist is ClusterNotFoundError."""
    await side.add_runtime("rt-1", SHOOT)
    with pytest.raises(ClusterNotFoundError):
        await side.gardener.request_admin_kubeconfig("c-7654321", 600)
