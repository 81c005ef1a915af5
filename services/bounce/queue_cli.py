"""``otayori queue ...``: the staff bounce queue from the command line (over NATS).

otayori queue list [--status S] [--category C]
otayori queue show PATRON
otayori queue contacted PATRON --note TEXT [--by NAME]
otayori queue resolve PATRON --note TEXT [--by NAME]
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, TypeVar

import nats
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from pydantic import BaseModel

from services.bounce.errors import StaffApiError
from services.bounce.queue_view import render_list, render_show, render_update
from shared.bus.connect import connect_once
from shared.contracts.bounce import BounceCategory, FlagStatus
from shared.contracts.staff import (
    QUEUE_CONTACTED,
    QUEUE_LIST,
    QUEUE_RESOLVE,
    QUEUE_SHOW,
    QueueListReply,
    QueueListRequest,
    QueueShowReply,
    QueueShowRequest,
    QueueUpdateReply,
    QueueUpdateRequest,
)
from shared.settings import CommonSettings, load_settings

R = TypeVar("R", bound=BaseModel)
STATUSES: tuple[FlagStatus, ...] = ("open", "contacted", "resolved")
CATEGORIES: tuple[BounceCategory, ...] = (
    "bad_address", "domain_rejection", "mailbox_full", "forwarding_failure",
    "transient", "sender_side", "not_a_bounce", "unknown",
)  # fmt: skip


async def request(subject: str, body: BaseModel, reply: type[R], timeout: float = 10.0) -> R:
    """One request to the bounce service's staff API; raises ``StaffApiError`` on errors."""
    settings = load_settings(CommonSettings)
    try:
        nc = await connect_once(settings, name="otayori-queue-cli")
    except (OSError, nats.errors.NoServersError) as exc:
        message = f"NATS に接続できません ({settings.nats_url}): {type(exc).__name__}"
        raise StaffApiError("unreachable", message) from exc
    try:
        msg = await nc.request(subject, body.model_dump_json().encode(), timeout=timeout)
    except NoRespondersError:
        raise StaffApiError("no_service", "バウンスサービスが起動していません。") from None
    except NatsTimeoutError:
        raise StaffApiError("timeout", "バウンスサービスから応答がありません。") from None
    finally:
        await nc.close()
    answer = reply.model_validate_json(msg.data)
    error = getattr(answer, "error", None)
    if error is not None:
        raise StaffApiError(error.code, error.message)
    return answer


async def _list(args: argparse.Namespace) -> int:
    req = QueueListRequest(status=args.status, category=args.category)
    print(render_list(await request(QUEUE_LIST, req, QueueListReply)), end="")
    return 0


async def _show(args: argparse.Namespace) -> int:
    req = QueueShowRequest(patron_id=args.patron)
    print(render_show(await request(QUEUE_SHOW, req, QueueShowReply)), end="")
    return 0


async def _update(args: argparse.Namespace) -> int:
    subject = QUEUE_CONTACTED if args.queue_command == "contacted" else QUEUE_RESOLVE
    req = QueueUpdateRequest(patron_id=args.patron, note=args.note, by=args.by)
    print(render_update(await request(subject, req, QueueUpdateReply)), end="")
    return 0


async def _guarded(func: Any, args: argparse.Namespace) -> int:
    try:
        return int(await func(args))
    except StaffApiError as exc:
        print(f"エラー: {exc.message}", file=sys.stderr)
        return 2 if exc.code in ("not_in_queue", "invalid_transition") else 1


def _runner(func: Any) -> Any:
    return lambda args: _guarded(func, args)


def register(sub: Any) -> None:
    """Add ``otayori queue`` and its sub-commands."""
    parser = sub.add_parser("queue", help="Staff bounce queue: list, show, contacted, resolve.")
    queue = parser.add_subparsers(dest="queue_command", required=True, metavar="ACTION")
    p_list = queue.add_parser("list", help="Patrons in the queue.")
    p_list.add_argument("--status", choices=STATUSES, help="Only this status.")
    p_list.add_argument("--category", choices=CATEGORIES, help="Only this cause.")
    p_list.set_defaults(func=_runner(_list))
    p_show = queue.add_parser("show", help="A patron's flag, evidence, guidance and mail.")
    p_show.add_argument("patron", help="Patron id (利用者番号).")
    p_show.set_defaults(func=_runner(_show))
    for name, text in (("contacted", "Staff reached the patron."), ("resolve", "Close the flag.")):
        p = queue.add_parser(name, help=text)
        p.add_argument("patron", help="Patron id (利用者番号).")
        p.add_argument("--note", required=True, help="What was said or done (kept in history).")
        p.add_argument("--by", default="staff", help="Staff name or id (default: staff).")
        p.set_defaults(func=_runner(_update))
