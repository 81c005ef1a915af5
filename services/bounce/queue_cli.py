"""``otayori queue ...``: the staff bounce queue from the command line (over NATS).

otayori queue list [--status S] [--category C] [--json]
otayori queue show PATRON [--json]
otayori queue contacted PATRON --note TEXT [--by NAME]
otayori queue resolve PATRON --note TEXT [--by NAME]

Exit codes (docs/bounce-service.md): 2 for bad input or a refused change, 1 when NATS or
the bounce service cannot be reached; the message is printed in Japanese after ``エラー:``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from nats.errors import Error as NatsError
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

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
from shared.runtime.logging import mask_url
from shared.settings import CommonSettings, load_settings

R = TypeVar("R", bound=BaseModel)
Q = TypeVar("Q", bound=BaseModel)
STATUSES: tuple[FlagStatus, ...] = ("open", "contacted", "resolved")
CATEGORIES: tuple[BounceCategory, ...] = (
    "bad_address", "domain_rejection", "mailbox_full", "forwarding_failure",
    "transient", "sender_side", "not_a_bounce", "unknown",
)  # fmt: skip


JSON_HELP = "Print the staff API's reply as JSON (for scripts) instead of the Japanese text."
#: Exit 2: the input or the change was refused; any other error code exits 1.
REFUSED = ("bad_input", "bad_request", "not_in_queue", "invalid_transition")
#: Staff-facing names of the request fields.
FIELD_NAMES = {"patron_id": "利用者番号", "note": "--note", "by": "--by"}


def _field_ja(err: ErrorDetails) -> str:
    name = str(err["loc"][0]) if err["loc"] else "入力"
    return FIELD_NAMES.get(name, name)


def _reason_ja(err: ErrorDetails) -> str:
    ctx = err.get("ctx", {})
    if err["type"] == "string_too_short":
        least = ctx.get("min_length", 1)
        return "空にはできません" if least == 1 else f"{least}文字以上にしてください"
    if err["type"] == "string_too_long":
        return f"{ctx.get('max_length')}文字以内にしてください"
    if err["type"] == "string_pattern_mismatch":
        return "英数字で始まり、英数字と . _ : - だけからなる値にしてください"
    return "値が正しくありません"


def build(model: type[Q], **fields: object) -> Q:
    """The request body from the command line; bad input is a ``StaffApiError`` (exit 2)
    naming each field in Japanese. Text is taken without its surrounding white space."""
    clean = {k: v.strip() if isinstance(v, str) else v for k, v in fields.items()}
    try:
        return model.model_validate(clean)
    except ValidationError as exc:
        parts = [
            f"{_field_ja(err)} は{_reason_ja(err)}"
            for err in exc.errors(include_url=False, include_input=False)
        ]
        message = "入力が正しくありません: " + "。".join(parts) + "。"
        raise StaffApiError("bad_input", message) from None


def _unreachable(settings: CommonSettings, exc: Exception) -> StaffApiError:
    detail = f"{type(exc).__name__} {exc}".strip()
    message = f"NATS に接続できません ({settings.nats_url}): {detail}"
    return StaffApiError("unreachable", mask_url(message))


async def request(subject: str, body: BaseModel, reply: type[R], timeout: float = 10.0) -> R:
    """One request to the bounce service's staff API; raises ``StaffApiError`` on errors."""
    settings = load_settings(CommonSettings)
    try:
        nc = await connect_once(settings, name="otayori-queue-cli")
    except (OSError, TimeoutError, NatsError) as exc:  # NatsError: also a malformed URL
        raise _unreachable(settings, exc) from exc
    try:
        msg = await nc.request(subject, body.model_dump_json().encode(), timeout=timeout)
    except NoRespondersError:
        raise StaffApiError("no_service", "バウンスサービスが起動していません。") from None
    except (NatsTimeoutError, TimeoutError):
        raise StaffApiError("timeout", "バウンスサービスから応答がありません。") from None
    except (OSError, NatsError) as exc:  # the connection broke during the request
        raise _unreachable(settings, exc) from exc
    finally:
        await nc.close()
    try:
        answer = reply.model_validate_json(msg.data)
    except ValidationError:
        message = "バウンスサービスの応答を読めません（サービスと CLI の版の違いかもしれません）。"
        raise StaffApiError("bad_reply", message) from None
    error = getattr(answer, "error", None)
    if error is not None:
        raise StaffApiError(error.code, error.message)
    return answer


async def _list(args: argparse.Namespace) -> int:
    req = build(QueueListRequest, status=args.status, category=args.category)
    _print(await request(QUEUE_LIST, req, QueueListReply), render_list, args.json)
    return 0


async def _show(args: argparse.Namespace) -> int:
    req = build(QueueShowRequest, patron_id=args.patron)
    _print(await request(QUEUE_SHOW, req, QueueShowReply), render_show, args.json)
    return 0


def _print(reply: R, render: Callable[[R], str], as_json: bool) -> None:
    print(reply.model_dump_json(indent=2) if as_json else render(reply).rstrip("\n"))


async def _update(args: argparse.Namespace) -> int:
    subject = QUEUE_CONTACTED if args.queue_command == "contacted" else QUEUE_RESOLVE
    req = build(QueueUpdateRequest, patron_id=args.patron, note=args.note, by=args.by)
    print(render_update(await request(subject, req, QueueUpdateReply)), end="")
    return 0


async def _guarded(func: Any, args: argparse.Namespace) -> int:
    try:
        return int(await func(args))
    except StaffApiError as exc:
        print(f"エラー: {exc.message}", file=sys.stderr)
        return 2 if exc.code in REFUSED else 1


def _runner(func: Any) -> Any:
    return lambda args: _guarded(func, args)


def register(sub: Any) -> None:
    """Add ``otayori queue`` and its sub-commands."""
    parser = sub.add_parser("queue", help="Staff bounce queue: list, show, contacted, resolve.")
    queue = parser.add_subparsers(dest="queue_command", required=True, metavar="ACTION")
    p_list = queue.add_parser("list", help="Patrons in the queue.")
    p_list.add_argument("--status", choices=STATUSES, help="Only this status.")
    p_list.add_argument("--category", choices=CATEGORIES, help="Only this cause.")
    p_list.add_argument("--json", action="store_true", help=JSON_HELP)
    p_list.set_defaults(func=_runner(_list))
    p_show = queue.add_parser("show", help="A patron's flag, evidence, guidance and mail.")
    p_show.add_argument("patron", help="Patron id (利用者番号).")
    p_show.add_argument("--json", action="store_true", help=JSON_HELP)
    p_show.set_defaults(func=_runner(_show))
    for name, text in (("contacted", "Staff reached the patron."), ("resolve", "Close the flag.")):
        p = queue.add_parser(name, help=text)
        p.add_argument("patron", help="Patron id (利用者番号).")
        p.add_argument("--note", required=True, help="What was said or done (kept in history).")
        p.add_argument("--by", default="staff", help="Staff name or id (default: staff).")
        p.set_defaults(func=_runner(_update))
