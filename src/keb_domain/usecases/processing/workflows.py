"""The stages of each kind of operation, in order (KEB's ``cmd/broker/{provisioning,update,
deprovisioning}.go``).

* provision: runtime id, the hyperscaler account (a CredentialsBinding from its pool), Runtime, wait for
  ``Ready``, Kyma;
* update: rewrite the Runtime, wait for ``Ready``, relabel the Kyma;
* deprovision: delete the Kyma, delete the Runtime, wait until it is gone, release the hyperscaler account
  if no Shoot uses it any more, then archive and remove the instance; a suspension (a temporary
  deprovisioning) only forgets the runtime id instead.
"""

from __future__ import annotations

from collections.abc import Sequence

from keb_domain.model.operation import Operation, OperationType
from keb_domain.usecases.processing.outcomes import Stage
from keb_domain.usecases.processing.steps import Steps


def workflow(operation: Operation, steps: Steps) -> Sequence[Stage]:
    if operation.type is OperationType.PROVISION:
        return (
            ("create_runtime_id", steps.create_runtime_id),
            ("resolve_credentials_binding", steps.resolve_credentials_binding),
            ("create_runtime_resource", steps.create_runtime_resource),
            ("check_runtime_resource", steps.check_runtime_created),
            ("apply_kyma_resource", steps.apply_kyma_resource),
        )
    if operation.type is OperationType.UPDATE:
        return (
            ("update_runtime_resource", steps.update_runtime_resource),
            ("check_runtime_resource", steps.check_runtime_updated),
            ("update_kyma_resource", steps.update_kyma_resource),
        )
    final: Stage = (
        ("forget_runtime", steps.forget_runtime)
        if operation.temporary
        else ("archive_and_remove_instance", steps.archive_and_remove)
    )
    return (
        ("delete_kyma_resource", steps.delete_kyma_resource),
        ("delete_runtime_resource", steps.delete_runtime_resource),
        ("check_runtime_resource_deleted", steps.check_runtime_deleted),
        ("free_credentials_binding", steps.free_credentials_binding),
        final,
    )


def next_stage(operation: Operation, steps: Steps) -> Stage | None:
    """The first stage of the operation's workflow it has not finished; None when all are done."""
    for stage in workflow(operation, steps):
        if stage[0] not in operation.finished_stages:
            return stage
    return None
