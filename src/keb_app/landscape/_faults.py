"""Test hooks of a cluster: scripted failures for matching requests, and the log of requests it answered."""

from __future__ import annotations

import copy
import re
import threading
from collections import deque
from typing import Literal

import attrs

#: An HTTP status to answer, ``"timeout"`` (answer nothing, then close) or ``"drop"`` (close at once).
FaultAction = int | Literal["timeout", "drop"]


@attrs.frozen
class RequestRecord:
    """One request as the cluster saw it, for assertions in tests."""

    method: str
    path: str
    status: int
    query: str = ""


@attrs.define
class Fault:
    """A scripted failure for requests whose method and path match (see :meth:`Faults.inject`)."""

    method: str
    path_pattern: re.Pattern[str]
    action: FaultAction
    remaining: int | None
    delay: float

    def matches(self, method: str, path: str) -> bool:
        return self.method in ("*", method.upper()) and self.path_pattern.search(path) is not None


class Faults:
    """The failures scripted for one cluster, consumed by the HTTP layer before a request reaches it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def inject(
        self, method: str, path_regex: str, action: FaultAction, times: int | None, delay: float
    ) -> None:
        with self._lock:
            self._faults.append(Fault(method.upper(), re.compile(path_regex), action, times, delay))

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, method: str, path: str) -> Fault | None:
        """The first fault matching this request, consuming one of its uses."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    if fault.remaining is not None:
                        fault.remaining -= 1
                        if fault.remaining <= 0:
                            self._faults.remove(fault)
                    return copy.copy(fault)
            return None


class RequestLog:
    """The last ``size`` requests a cluster answered (faults included), oldest first."""

    def __init__(self, size: int) -> None:
        self._lock = threading.Lock()
        self._records: deque[RequestRecord] = deque(maxlen=size)

    def record(self, method: str, path: str, status: int, query: str = "") -> None:
        with self._lock:
            self._records.append(RequestRecord(method.upper(), path, status, query))

    def records(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
