"""An in-memory KV bucket with real compare-and-set (unit tests: no sockets)."""

from __future__ import annotations

from dataclasses import dataclass

from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError, NoKeysError


@dataclass
class _Entry:
    value: bytes
    revision: int


class FakeKV:
    """The subset of ``nats.js.kv.KeyValue`` the stores use, with real CAS semantics."""

    def __init__(self) -> None:
        self.data: dict[str, tuple[bytes, int]] = {}
        self.rev = 0

    async def get(self, key: str) -> _Entry:
        if key not in self.data:
            raise KeyNotFoundError
        value, rev = self.data[key]
        return _Entry(value, rev)

    async def put(self, key: str, value: bytes) -> int:
        self.rev += 1
        self.data[key] = (value, self.rev)
        return self.rev

    async def create(self, key: str, value: bytes) -> int:
        if key in self.data:
            raise KeyWrongLastSequenceError
        return await self.put(key, value)

    async def update(self, key: str, value: bytes, last: int) -> int:
        if key not in self.data or self.data[key][1] != last:
            raise KeyWrongLastSequenceError
        return await self.put(key, value)

    async def delete(self, key: str, last: int | None = None) -> bool:
        if last is not None and (key not in self.data or self.data[key][1] != last):
            raise KeyWrongLastSequenceError
        self.data.pop(key, None)
        return True

    async def keys(self) -> list[str]:
        if not self.data:
            raise NoKeysError
        return list(self.data)
