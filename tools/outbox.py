"""The local SMTP server of `make run`: stores every accepted mail in a Maildir.

``python -m tools.outbox`` lists the mails in ``var/outbox`` with decoded headers;
``python -m tools.outbox --show N`` prints mail N of that list (counting from 1) whole.
Before the first `make run` there is no outbox yet: it says so and exits 0.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import mailbox
import sys
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

OUTBOX = Path("var/outbox")


class MaildirHandler:
    """Delivers each accepted message into a Maildir, with the envelope as headers."""

    def __init__(self, path: Path) -> None:
        for sub in ("tmp", "new", "cur"):
            (path / sub).mkdir(parents=True, exist_ok=True)
        self._box = mailbox.Maildir(path, create=True)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        head = f"X-Envelope-From: {envelope.mail_from}\r\n".encode()
        head += b"".join(f"X-Envelope-To: {r}\r\n".encode() for r in envelope.rcpt_tos)
        self._box.add(head + bytes(envelope.content))
        return "250 2.0.0 Ok: stored"


def start_outbox(path: Path, port: int) -> Controller:
    controller = Controller(MaildirHandler(path), hostname="127.0.0.1", port=port)
    controller.start()
    return controller


def _messages(path: Path) -> list[EmailMessage] | None:
    """The mails in ``path``, oldest first; None when there is no Maildir there yet."""
    try:
        box = mailbox.Maildir(path, create=False)
        keys = list(box.iterkeys())
    except (mailbox.NoSuchMailboxError, FileNotFoundError):
        return None
    found = []
    for key in keys:
        raw = box.get_bytes(key)
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        found.append(msg)
    return sorted(found, key=lambda m: parsedate_to_datetime(str(m["Date"])))


def _show(msg: EmailMessage) -> None:
    for name in ("From", "To", "Subject", "Date", "Message-ID"):
        print(f"{name}: {msg[name]}")
    print()
    body = msg.get_body(("plain",))
    print(body.get_content() if body is not None else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", type=Path, default=OUTBOX)
    parser.add_argument(
        "--show", type=int, metavar="N", help="print mail number N (1 = the first listed) in full"
    )
    args = parser.parse_args(argv)
    if args.show is not None and args.show < 1:
        parser.error("--show N counts from 1, as the list does")
    messages = _messages(args.dir)
    if not messages:
        showing = args.show is not None
        note = f"no mail yet in {args.dir} (`make run` delivers the demo's mails there)"
        print(note, file=sys.stderr if showing else sys.stdout)
        return 2 if showing else 0
    if args.show is not None:
        if args.show > len(messages):
            held = len(messages)
            print(f"error: no mail {args.show}: {args.dir} holds {held}", file=sys.stderr)
            return 2
        _show(messages[args.show - 1])
        return 0
    for n, msg in enumerate(messages, 1):
        print(f"{n:3d}  {msg['Date']}  {msg['To']}  {msg['Subject']}")
    print(f"{len(messages)} mail(s) in {args.dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
