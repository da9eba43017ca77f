"""The operation engine: in-process workers that claim due operations and advance them.

Operations are rows. A dispatcher claims due ones with a lease (``OperationQueue.claim_due``), a worker
runs the processor until the operation waits or ends, then releases the lease. A broker that dies mid-step
leaves a lease that expires after ``lease_seconds`` (``APP_OPERATION_RECOVERY_DELAY``), and any replica then
takes the operation over; between steps an operation holds no lease and resumes at once after a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from keb_domain.errors import StorageUnavailableError
from keb_domain.ports import Clock, OperationQueue
from keb_domain.usecases.processing import OperationProcessor

log = logging.getLogger("keb.engine")

# Longest pause between attempts while the database is unavailable.
STORAGE_RETRY_MAX = 10.0


class OperationEngine:
    def __init__(
        self,
        queue: OperationQueue,
        processor: OperationProcessor,
        clock: Clock,
        *,
        owner: str,
        workers: int = 20,
        lease_seconds: float = 120.0,
        idle_poll: float = 1.0,
    ) -> None:
        self._queue = queue
        self._processor = processor
        self._clock = clock
        self._owner = owner
        self._workers = max(1, workers)
        self._lease = lease_seconds
        self._idle_poll = idle_poll
        self._wakeup = asyncio.Event()
        self._running: set[asyncio.Task[None]] = set()
        self._dispatcher: asyncio.Task[None] | None = None

    @property
    def busy(self) -> int:
        return len(self._running)

    def wake(self) -> None:
        """A new operation exists: look for work now rather than at the next poll."""
        self._wakeup.set()

    async def start(self) -> None:
        if self._dispatcher is None:
            self._dispatcher = asyncio.create_task(self._dispatch(), name="keb-engine")

    async def stop(self) -> None:
        """Stop claiming and cancel running steps; their leases expire and another start resumes them."""
        if self._dispatcher is not None:
            self._dispatcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._dispatcher
            self._dispatcher = None
        for task in list(self._running):
            task.cancel()
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

    async def run_once(self) -> int:
        """Claim what is due and wait for those operations to settle; returns how many ran (for tests)."""
        claimed = await self._claim()
        tasks = [self._spawn(operation_id) for operation_id in claimed]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        return len(tasks)

    async def _claim(self) -> list[str]:
        free = self._workers - len(self._running)
        if free <= 0:
            return []
        now = self._clock.now()
        return await self._queue.claim_due(now, self._owner, now + timedelta(seconds=self._lease), free)

    def _spawn(self, operation_id: str) -> asyncio.Task[None]:
        task = asyncio.create_task(self._run(operation_id), name=f"keb-operation-{operation_id}")
        self._running.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._wakeup.set()  # a worker is free and the operation may be due again soon

    async def _run(self, operation_id: str) -> None:
        try:
            await self._while_storage_unavailable(
                lambda: self._processor.process(operation_id), f"operation {operation_id}"
            )
        except asyncio.CancelledError:
            raise
        except Exception:
            # Keep the lease: the operation is retried once it expires, which paces a persistent failure.
            log.exception("operation %s failed unexpectedly; retried once its lease expires", operation_id)
            return
        await self._while_storage_unavailable(
            lambda: self._queue.release(operation_id, self._owner), f"the lease of operation {operation_id}"
        )

    async def _while_storage_unavailable(self, action: Callable[[], Awaitable[object]], what: str) -> None:
        """Run ``action``, again with backoff while the database is unavailable, so that an operation
        continues as soon as the database is back instead of when its lease expires.

        Its steps are idempotent and every write is version-checked, so repeating a step is safe.
        """
        attempts = 0
        while True:
            try:
                await action()
            except StorageUnavailableError:
                attempts += 1
                delay = min(STORAGE_RETRY_MAX, self._idle_poll * 2 ** min(attempts - 1, 10))
                log.warning("the database is unavailable; %s is tried again in %.1fs", what, delay)
                await asyncio.sleep(delay)
            else:
                if attempts:
                    log.info("the database is back; %s went on", what)
                return

    async def _dispatch(self) -> None:
        while True:
            try:
                for operation_id in await self._claim():
                    self._spawn(operation_id)
                timeout = self._idle_poll
                due = await self._queue.next_due_at()
                now = self._clock.now()
                # A due time in the past belongs to an operation a worker holds; its end wakes us.
                if due is not None and due > now:
                    timeout = min(timeout, (due - now).total_seconds())
            except asyncio.CancelledError:
                raise
            except StorageUnavailableError:
                log.warning(
                    "the database is unavailable; the engine looks for work again in %.1fs", self._idle_poll
                )
                timeout = self._idle_poll
            except Exception:
                log.exception("the engine could not look for work; trying again")
                timeout = self._idle_poll
            self._wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout=max(timeout, 0.01))
