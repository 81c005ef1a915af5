"""Errors of the bounce service: one root, structured fields instead of prose."""

from __future__ import annotations


class BounceError(Exception):
    """Root of every error the bounce service raises on purpose."""

    code = "bounce_error"


class NotInQueue(BounceError):
    """The patron has no flag in the staff queue."""

    code = "not_in_queue"

    def __init__(self, patron_id: str) -> None:
        super().__init__(f"patron {patron_id} is not in the bounce queue")
        self.patron_id = patron_id


class InvalidTransition(BounceError):
    """A staff action that the flag's current status does not allow."""

    code = "invalid_transition"

    def __init__(self, patron_id: str, current: str, wanted: str) -> None:
        super().__init__(f"patron {patron_id}: cannot mark {wanted} a flag that is {current}")
        self.patron_id = patron_id
        self.current = current
        self.wanted = wanted


class ConflictError(BounceError):
    """A compare-and-set update lost too many races in a row."""

    code = "conflict"

    def __init__(self, bucket: str, key: str) -> None:
        super().__init__(f"{bucket}/{key}: too many concurrent updates")
        self.bucket = bucket
        self.key = key


class ImapError(BounceError):
    """The IMAP server answered a command with NO/BAD, or the session broke."""

    code = "imap_error"

    def __init__(self, command: str, result: str, detail: str = "") -> None:
        super().__init__(f"IMAP {command} failed: {result} {detail}".strip())
        self.command = command
        self.result = result
        self.detail = detail


class StaffApiError(BounceError):
    """The staff API answered with an error (raised by the CLI's client)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class SinkFailed(BounceError):
    """Handling a fetched message failed (e.g. NATS unavailable): it stays in the inbox."""

    code = "sink_failed"

    def __init__(self, uid: int, cause: BaseException) -> None:
        super().__init__(f"message uid {uid} not handled: {type(cause).__name__}")
        self.uid = uid
        self.cause_name = type(cause).__name__
