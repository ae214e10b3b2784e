"""Every request the sandbox answered, so tests can assert on traffic after the fact."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class RequestRecord:
    time: float
    method: str
    path: str
    credential: str  # "bearer", "basic" or "none"
    status: int
    points: int = 0
    client_id: str | None = None
    account_id: str | None = None
    site_cloud_id: str | None = None
    reason: str | None = None  # RateLimit-Reason or fault that shaped the answer

    def as_dict(self) -> dict:
        return asdict(self)


class RequestLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[RequestRecord] = []

    def append(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)

    def __iter__(self):
        return iter(self.records)

    def __len__(self) -> int:
        return len(self._records)

    def __getitem__(self, index):
        return self.records[index]

    @property
    def records(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    def where(self, **filters) -> list[RequestRecord]:
        """Records whose attributes equal every filter; `path_prefix=` matches a path prefix."""
        prefix = filters.pop("path_prefix", None)
        site = filters.pop("site", None)
        if site is not None:
            filters["site_cloud_id"] = getattr(site, "cloud_id", site)
        return [
            r
            for r in self.records
            if (prefix is None or r.path.startswith(prefix))
            and all(getattr(r, k) == v for k, v in filters.items())
        ]
