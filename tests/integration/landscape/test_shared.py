"""One landscape per data directory: the lock, ``serving.json``, and attaching instead of starting."""

from __future__ import annotations

import os
from pathlib import Path

from keb_app.landscape.shared import LandscapeConfig, Serving, own_landscape, probe, start_or_attach


def config_in(tmp_path: Path) -> LandscapeConfig:
    return LandscapeConfig(
        root=tmp_path / "landscape",
        port=None,
        ready_after=0.1,
        project="kyma-dev",
        failing_subaccount_prefix="",
    )


def test_a_second_owner_of_the_same_data_directory_is_refused(tmp_path: Path) -> None:
    """While one owner holds the lock, another own_landscape gets None and probe names the owner."""
    config = config_in(tmp_path)
    assert probe(config) == "free"
    first = own_landscape(config)
    assert first is not None
    try:
        assert own_landscape(config) is None
        found = probe(config)
        assert found == Serving(pid=os.getpid(), base_url=first.landscape.server.base_url)
    finally:
        first.close()
    assert probe(config) == "free"
    assert not config.serving_file.exists()


def test_start_or_attach_uses_a_running_landscape_and_leaves_it_running(tmp_path: Path) -> None:
    """A landscape served elsewhere is attached to; closing the attachment does not stop it."""
    config = config_in(tmp_path)
    owner = own_landscape(config)
    assert owner is not None
    try:
        use = start_or_attach(config, timeout=10)
        assert not use.owned
        assert use.serving.base_url == owner.landscape.server.base_url
        use.close()
        assert probe(config) == Serving(pid=os.getpid(), base_url=owner.landscape.server.base_url)
    finally:
        owner.close()


def test_start_or_attach_starts_a_process_of_its_own_and_stops_it(tmp_path: Path) -> None:
    """With no landscape running, one starts in a child process, serves, and is gone after close."""
    config = config_in(tmp_path)
    use = start_or_attach(config, timeout=60)
    try:
        assert use.owned
        assert use.serving.pid != os.getpid()
        assert (config.kubeconfigs / "kcp.yaml").exists()
        assert probe(config) == use.serving
    finally:
        use.close()
    assert probe(config) == "free"
