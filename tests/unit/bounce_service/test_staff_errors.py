"""Errors staff see (staff API replies, the CLI) are Japanese; codes and exit codes are not."""

from __future__ import annotations

import argparse
import json
import re

import pytest

from services.bounce.errors import ConflictError, ImapError, StaffApiError
from services.bounce.queue_cli import _guarded
from services.bounce.staff_api import StaffActions, _answer, staff_error
from shared.contracts.staff import MailOutcomeLine, QueueShowRequest, QueueUpdateRequest
from tests.unit.bounce_service.dsn import build_dsn, ledger_record, verp_for
from tests.unit.bounce_service.fakes import KEY, World, world

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
REC = ledger_record("online_loan:P1:batch-2026-12-03", "P1", "taro@example.jp")


class Msg:
    subject = "staff.bounce.queue.contacted"

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.reply = b""

    async def respond(self, data: bytes) -> None:
        self.reply = data


async def no_outcomes(_: str) -> list[MailOutcomeLine]:
    return []


async def flagged_then_resolved() -> tuple[World, StaffActions]:
    w = world()
    await w.stores.ledger.put(REC.mail_id, REC)
    await w.processor.handle_message(build_dsn(recipient=REC.recipient, verp_to=verp_for(KEY, REC)))
    actions = StaffActions(w.stores, w.publish, w.clock, no_outcomes)
    await actions.update(QueueUpdateRequest(patron_id="P1", note="済", by="k"), "resolved")
    return w, actions


async def answer(body: bytes, run: object) -> dict[str, str]:
    msg = Msg(body)
    await _answer(msg, QueueUpdateRequest, run)  # type: ignore[arg-type]
    error = json.loads(msg.reply)["error"]
    assert isinstance(error, dict)
    return error


async def test_contacting_a_resolved_flag_is_refused_in_japanese() -> None:
    _, actions = await flagged_then_resolved()
    body = QueueUpdateRequest(patron_id="P1", note="再", by="k").model_dump_json().encode()
    error = await answer(body, lambda r: actions.update(r, "contacted"))
    assert error["code"] == "invalid_transition"
    assert error["message"] == "利用者 P1 は「解決済み」のため、「連絡済み」にはできません。"


async def test_a_bad_body_is_refused_in_japanese_naming_the_field() -> None:
    _, actions = await flagged_then_resolved()
    error = await answer(b'{"patron_id": "P1"}', lambda r: actions.update(r, "contacted"))
    assert error["code"] == "bad_request" and JAPANESE.search(error["message"])
    assert "note" in error["message"]


async def test_an_unexpected_error_is_internal_in_japanese_with_its_type() -> None:
    async def broken(_: object) -> object:
        raise KeyError("x")

    body = QueueUpdateRequest(patron_id="P1", note="n").model_dump_json().encode()
    error = await answer(body, broken)
    assert error["code"] == "internal" and "KeyError" in error["message"]
    assert JAPANESE.search(error["message"])


@pytest.mark.parametrize(
    ("exc", "code"),
    [(ConflictError("bounce_queue", "P1"), "conflict"), (ImapError("LOGIN", "NO"), "internal")],
)
def test_every_refusal_has_a_japanese_message_and_its_machine_code(
    exc: ConflictError | ImapError, code: str
) -> None:
    error = staff_error(exc)
    assert error.code == code and JAPANESE.search(error.message)


async def test_showing_an_unknown_patron_says_so_in_japanese() -> None:
    w = world()
    actions = StaffActions(w.stores, w.publish, w.clock, no_outcomes)
    reply = await actions.show(QueueShowRequest(patron_id="P-NONE"))
    assert reply.error is not None and JAPANESE.search(reply.error.message)


async def test_the_cli_prints_the_refusal_in_japanese_and_exits_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, actions = await flagged_then_resolved()
    body = QueueUpdateRequest(patron_id="P1", note="再", by="k").model_dump_json().encode()
    error = await answer(body, lambda r: actions.update(r, "contacted"))

    async def contacted(_: argparse.Namespace) -> int:
        raise StaffApiError(error["code"], error["message"])

    assert await _guarded(contacted, argparse.Namespace()) == 2
    err = capsys.readouterr().err
    assert err.startswith("エラー: 利用者 P1 は「解決済み」") and not re.search(r"[a-z]{4}", err)
