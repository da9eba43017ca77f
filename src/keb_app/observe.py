"""Operation lifecycle lines in the log, and the fan-out of observations to logs and metrics."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from keb_domain.model.operation import Operation, OperationState
from keb_domain.ports import OperationObserver

log = logging.getLogger("keb.operations")


def _fields(operation: Operation, **more: object) -> dict[str, object]:
    return {
        "instance_id": operation.instance_id,
        "operation_id": operation.id,
        "type": operation.type.value + (" (temporary)" if operation.temporary else ""),
        **more,
    }


class OperationLog:
    """One line per lifecycle event of an operation, carrying its instance and operation ids."""

    def accepted(self, operation: Operation, why: str) -> None:
        log.info("operation accepted: %s", why, extra=_fields(operation))

    def resumed(self, operation: Operation) -> None:
        log.info(
            "operation resumed after a restart or takeover, at %s",
            operation.finished_stages[-1] if operation.finished_stages else "its first step",
            extra=_fields(operation),
        )

    def stage_finished(self, operation: Operation, stage: str, seconds: float) -> None:
        log.info("step %s done in %.1fs", stage, seconds, extra=_fields(operation, step=stage))

    def stage_retried(self, operation: Operation, stage: str, error: str, attempt: int) -> None:
        log.warning(
            "step %s failed (attempt %d), retried later: %s",
            stage,
            attempt,
            error,
            extra=_fields(operation, step=stage),
        )

    def finished(self, operation: Operation) -> None:
        if operation.state is OperationState.SUCCEEDED:
            log.info("operation succeeded", extra=_fields(operation, state="succeeded"))
        else:
            log.warning(
                "operation failed: %s", operation.description, extra=_fields(operation, state="failed")
            )


class Observers:
    """Tells each observer in turn; one that raises does not keep the others (or the caller) from going on."""

    def __init__(self, observers: Sequence[OperationObserver]) -> None:
        self._observers = tuple(observers)

    def _each(self, method: str, *args: object) -> None:
        for observer in self._observers:
            try:
                getattr(observer, method)(*args)
            except Exception:
                log.exception("an observer failed on %s", method)

    def accepted(self, operation: Operation, why: str) -> None:
        self._each("accepted", operation, why)

    def resumed(self, operation: Operation) -> None:
        self._each("resumed", operation)

    def stage_finished(self, operation: Operation, stage: str, seconds: float) -> None:
        self._each("stage_finished", operation, stage, seconds)

    def stage_retried(self, operation: Operation, stage: str, error: str, attempt: int) -> None:
        self._each("stage_retried", operation, stage, error, attempt)

    def finished(self, operation: Operation) -> None:
        self._each("finished", operation)
