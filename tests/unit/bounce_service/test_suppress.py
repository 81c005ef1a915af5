"""Lifting a suppression never deletes one another patron's bounce has just written."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from services.bounce.stores import Bucket, Stores
from services.bounce.suppress import lift, suppress
from shared.mailrecord import Suppression
from tests.support.fakekv import FakeKV
from tests.unit.bounce_service.fakes import T0, fake_stores

AKEY = "addr-key-1"


class RacingKV(FakeKV):
    """Runs ``after_update`` once, right after the next update (another writer's turn)."""

    def __init__(self) -> None:
        super().__init__()
        self.after_update: Callable[[], Awaitable[None]] | None = None

    async def update(self, key: str, value: bytes, last: int) -> int:
        rev = await super().update(key, value, last)
        hook, self.after_update = self.after_update, None
        if hook is not None:
            await hook()
        return rev


def stores_with(kv: FakeKV) -> Stores:
    base = fake_stores()
    base.suppressions = Bucket(kv, Suppression, "suppressions")  # type: ignore[arg-type]
    return base


async def test_lifting_the_last_holder_deletes_the_suppression() -> None:
    kv = FakeKV()
    stores = stores_with(kv)
    await suppress(stores, AKEY, "P1", "bad_address", T0)
    assert await lift(stores, AKEY, "P1") is True
    assert AKEY not in kv.data


async def test_a_suppression_written_while_lifting_survives() -> None:
    kv = RacingKV()
    stores = stores_with(kv)
    await suppress(stores, AKEY, "P1", "bad_address", T0)

    async def another_bounce() -> None:
        await suppress(stores, AKEY, "P2", "bad_address", T0)

    kv.after_update = another_bounce  # P2's bounce lands between P1's release and the delete
    assert await lift(stores, AKEY, "P1") is False
    held, _ = await stores.suppressions.get(AKEY)
    assert held is not None and held.patron_ids == ["P2"]
