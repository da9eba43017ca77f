"""What /runtimes tells of a runtime's life, decided in the domain."""

from __future__ import annotations

from keb_domain.model.inventory import RuntimeState, live_history
from keb_domain.model.operation import OperationState, OperationType
from tests import builders


def test_the_history_skips_pending_operations_and_shows_two_updates() -> None:
    """/runtimes tells a runtime's story from started operations only, with the newest two updates."""
    provisioned = builders.operation("op-1", state=OperationState.SUCCEEDED)
    updates = [
        builders.operation(
            f"op-u{n}", type=OperationType.UPDATE, state=OperationState.SUCCEEDED, created_at=builders.at(n)
        )
        for n in (10, 20, 30)
    ]
    waiting = builders.operation(
        "op-w", type=OperationType.UPDATE, state=OperationState.PENDING, created_at=builders.at(40)
    )
    history = live_history(builders.instance(), [provisioned, *updates, waiting], last_only=False)
    assert history.state is RuntimeState.SUCCEEDED
    assert history.provisioning == provisioned
    assert history.updates is not None
    assert [op.id for op in history.updates.operations] == ["op-u30", "op-u20"]
    assert history.updates.total == 3
    assert history.modified_at == max(op.updated_at for op in [provisioned, *updates])
    last = live_history(builders.instance(), [provisioned, *updates, waiting], last_only=True)
    assert last.updates is not None
    assert [op.id for op in last.updates.operations] == ["op-u30"]
