"""The staff queue API: core NATS request/reply on ``staff.bounce.queue.<op>``.

``StaffActions`` holds the behaviour (list, show, contacted, resolve) over the stores;
``serve_staff_api`` binds it to the subjects. Every request gets a reply: a bad body is a
``bad_request`` naming the fields, an unknown patron ``not_in_queue``. Error messages are
for staff (the CLI prints them as they come): Japanese; the codes stay machine values.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar

from nats.aio.client import Client
from nats.aio.msg import Msg
from pydantic import BaseModel, ValidationError

from services.bounce.errors import BounceError, ConflictError, InvalidTransition, NotInQueue
from services.bounce.guidance import guidance_for
from services.bounce.processor import Publish
from services.bounce.queue import StaffStatus, mark
from services.bounce.queue_view import STATUS_JA
from services.bounce.stores import Stores, patron_key
from services.bounce.suppress import resolve_and_lift
from shared.bus.consume import validation_lines
from shared.clock import Clock
from shared.contracts.bounce import PatronFlagUpdated
from shared.contracts.staff import (
    QUEUE_CONTACTED,
    QUEUE_LIST,
    QUEUE_RESOLVE,
    QUEUE_SHOW,
    MailOutcomeLine,
    QueueEntry,
    QueueListReply,
    QueueListRequest,
    QueueShowReply,
    QueueShowRequest,
    QueueSummary,
    QueueUpdateReply,
    QueueUpdateRequest,
    StaffError,
)

log = logging.getLogger(__name__)

OutcomeReader = Callable[[str], Awaitable[list[MailOutcomeLine]]]
Req = TypeVar("Req", bound=BaseModel)
QUEUE_GROUP = "bounce-staff-api"


def summary(entry: QueueEntry) -> QueueSummary | None:
    if entry.status is None or entry.category is None:
        return None
    return QueueSummary(
        patron_id=entry.patron_id,
        status=entry.status,
        category=entry.category,
        bounce_count=entry.bounce_count,
        flagged_at=entry.flagged_at,
        last_seen=entry.last_seen,
    )


class StaffActions:
    def __init__(
        self, stores: Stores, publish: Publish, clock: Clock, outcomes: OutcomeReader
    ) -> None:
        self._stores = stores
        self._publish = publish
        self._clock = clock
        self._outcomes = outcomes

    async def list(self, req: QueueListRequest) -> QueueListReply:
        rows = [s for e in await self._stores.queue.values() if (s := summary(e)) is not None]
        rows = [
            s
            for s in rows
            if (req.status is None or s.status == req.status)
            and (req.category is None or s.category == req.category)
        ]
        rows.sort(key=lambda s: (s.flagged_at or s.last_seen, s.patron_id))
        return QueueListReply(entries=rows[: req.limit], total=len(rows))

    async def show(self, req: QueueShowRequest) -> QueueShowReply:
        entry, _ = await self._stores.queue.get(patron_key(req.patron_id))
        if entry is None or entry.status is None or entry.category is None:
            return QueueShowReply(ok=False, error=_not_in_queue(req.patron_id))
        return QueueShowReply(
            entry=entry,
            guidance=guidance_for(entry.category),
            recent_outcomes=await self._outcomes(req.patron_id),
        )

    async def update(self, req: QueueUpdateRequest, wanted: StaffStatus) -> QueueUpdateReply:
        """Mark the flag; a resolve lifts the patron's suppressions first, so a request
        that failed half-way (a NATS timeout) is completed by sending it again."""
        now = self._clock.now()
        entry: QueueEntry | None
        if wanted == "resolved":
            entry = await self._resolve(req, now)
        else:
            entry = await self._stores.queue.update(
                patron_key(req.patron_id),
                lambda current: mark(current, req.patron_id, wanted, req.note, req.by, now),
            )
        assert entry is not None  # mark() always returns an entry or raises
        await self._publish(
            PatronFlagUpdated(
                event_id=f"flag-updated-{patron_key(req.patron_id)}-{len(entry.notes)}",
                occurred_at=now,
                patron_id=req.patron_id,
                status=wanted,
                note=req.note,
                by=req.by,
            )
        )
        log.info("bounce.flag_updated", extra={"patron_id": req.patron_id, "status": wanted})
        return QueueUpdateReply(entry=entry)

    async def _resolve(self, req: QueueUpdateRequest, now: datetime) -> QueueEntry | None:
        """Lift, mark resolved, settle (``suppress.resolve_and_lift``). A request whose
        resolve is already recorded (the same note, by the same person, is the flag's
        last) is a retry: it settles what the mark recorded as lifted but unsettled and
        publishes again (same event id, de-duplicated by the stream)."""
        return await resolve_and_lift(
            self._stores,
            req.patron_id,
            lambda current: mark(current, req.patron_id, "resolved", req.note, req.by, now),
            now,
            done=lambda entry: _already_resolved(entry, req),
        )


def _already_resolved(entry: QueueEntry, req: QueueUpdateRequest) -> bool:
    if entry.status != "resolved" or not entry.notes:
        return False
    last = entry.notes[-1]
    return (last.status, last.by, last.text) == ("resolved", req.by, req.note)


def _not_in_queue(patron_id: str) -> StaffError:
    return StaffError(
        code="not_in_queue", message=f"利用者 {patron_id} はバウンスキューにありません。"
    )


def _status(status: str) -> str:
    return STATUS_JA.get(status, status)


def staff_error(exc: BounceError) -> StaffError:
    """The staff-facing (Japanese) error of a refused request; ``code`` unchanged."""
    if isinstance(exc, NotInQueue):
        return _not_in_queue(exc.patron_id)
    if isinstance(exc, InvalidTransition):
        message = (
            f"利用者 {exc.patron_id} は「{_status(exc.current)}」のため、"
            f"「{_status(exc.wanted)}」にはできません。"
        )
        return StaffError(code="invalid_transition", message=message)
    if isinstance(exc, ConflictError):
        message = "他の更新と同時だったため保存できませんでした。もう一度実行してください。"
        return StaffError(code="conflict", message=message)
    return _internal(exc.code)


def _internal(what: str) -> StaffError:
    message = f"バウンスサービスの内部エラーです ({what})。運用担当に連絡してください。"
    return StaffError(code="internal", message=message)


def _error_reply(error: StaffError) -> bytes:
    return QueueUpdateReply(ok=False, error=error).model_dump_json(include={"ok", "error"}).encode()


async def _answer(msg: Msg, model: type[Req], run: Callable[[Req], Awaitable[BaseModel]]) -> None:
    try:
        request = model.model_validate_json(msg.data or b"{}")
        reply = (await run(request)).model_dump_json().encode()
    except ValidationError as exc:
        message = "要求の形式が正しくありません: " + "; ".join(validation_lines(exc))
        reply = _error_reply(StaffError(code="bad_request", message=message[:2000]))
    except BounceError as exc:
        reply = _error_reply(staff_error(exc))
    except Exception as exc:  # an RPC must always answer; the error is logged with its type
        log.exception("bounce.staff_api_error", extra={"subject": msg.subject})
        reply = _error_reply(_internal(type(exc).__name__))
    await msg.respond(reply)


async def serve_staff_api(nc: Client, actions: StaffActions, stop: asyncio.Event) -> None:
    """Answer the four staff subjects until ``stop`` is set."""

    async def on_list(msg: Msg) -> None:
        await _answer(msg, QueueListRequest, actions.list)

    async def on_show(msg: Msg) -> None:
        await _answer(msg, QueueShowRequest, actions.show)

    async def on_contacted(msg: Msg) -> None:
        await _answer(msg, QueueUpdateRequest, lambda r: actions.update(r, "contacted"))

    async def on_resolve(msg: Msg) -> None:
        await _answer(msg, QueueUpdateRequest, lambda r: actions.update(r, "resolved"))

    handlers = {
        QUEUE_LIST: on_list,
        QUEUE_SHOW: on_show,
        QUEUE_CONTACTED: on_contacted,
        QUEUE_RESOLVE: on_resolve,
    }
    subs = [await nc.subscribe(s, queue=QUEUE_GROUP, cb=cb) for s, cb in handlers.items()]
    await nc.flush()
    log.info("bounce.staff_api_ready", extra={"subjects": list(handlers)})
    try:
        await stop.wait()
    finally:
        for sub in subs:
            await sub.unsubscribe()
