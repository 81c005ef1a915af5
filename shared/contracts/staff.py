"""The staff bounce queue: its stored entry and the request/reply API over NATS.

The API is core NATS request/reply (not JetStream) on ``staff.bounce.queue.<op>``; the
subjects sit outside every stream on purpose (a request on a stream subject would also be
answered by the stream's publish ack). Bodies are JSON of the models below; every reply
carries ``ok`` and, when not ok, an ``error`` with a machine ``code``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.contracts.base import Id
from shared.contracts.bounce import BounceCategory, FlagStatus
from shared.contracts.mail import CarrierGroup, MailKind, OutcomeName

QUEUE_LIST = "staff.bounce.queue.list"
QUEUE_SHOW = "staff.bounce.queue.show"
QUEUE_CONTACTED = "staff.bounce.queue.contacted"
QUEUE_RESOLVE = "staff.bounce.queue.resolve"
STAFF_SUBJECTS = (QUEUE_LIST, QUEUE_SHOW, QUEUE_CONTACTED, QUEUE_RESOLVE)

Correlation = Literal["verp", "message_id", "address", "none"]
VerpCheck = Literal["verified", "forged", "absent"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class QueueEvidence(_Model):
    """One bounce as staff see it: when, why, which mail."""

    bounce_id: str = Field(max_length=80, description="Idempotency id of the bounce.")
    received_at: AwareDatetime
    source: Literal["imap", "smtp"]
    category: BounceCategory
    status: str = Field("", max_length=20)
    reason: str = Field("", max_length=500)
    diagnostic: str = Field("", max_length=1000)
    remote_mta: str = Field("", max_length=255)
    rule: str = Field("", max_length=120)
    correlation: Correlation
    verp: VerpCheck = Field("absent", description="forged: a token whose MAC did not verify.")
    carrier_group: CarrierGroup = "other"
    mail_key: str | None = Field(None, max_length=300)
    mail_kind: MailKind | None = None
    message_id: str | None = Field(None, max_length=300)
    moved_away: bool = Field(
        False,
        # Written only when true: other evidence reads exactly as before this field, also
        # to readers that predate it (they forbid unknown fields).
        exclude_if=lambda moved: not moved,
        description="The mail went to an address the patron had already left: evidence only.",
    )


class SoftHit(_Model):
    """A soft bounce still inside the repeat window."""

    bounce_id: str = Field(max_length=80)
    category: BounceCategory
    at: AwareDatetime


class FlagNote(_Model):
    at: AwareDatetime
    by: str = Field(max_length=80)
    status: FlagStatus
    text: str = Field(max_length=2000)


class QueueEntry(_Model):
    """Value of ``bounce_queue[<patron key>]``.

    ``status`` is ``None`` while the patron only has soft bounces below the threshold:
    such an entry is not in the queue (lists skip it) but keeps the repeat count.
    """

    patron_id: Id
    status: FlagStatus | None = None
    category: BounceCategory | None = None
    bounce_count: int = Field(0, ge=0, description="Bounces counted since the flag opened.")
    counts: dict[str, int] = Field(default_factory=dict, description="All bounces by category.")
    first_seen: AwareDatetime
    last_seen: AwareDatetime
    flagged_at: AwareDatetime | None = None
    flagged_by: str | None = Field(None, description="Bounce id that opened the current flag.")
    evidence: list[QueueEvidence] = Field(default_factory=list)
    soft_recent: list[SoftHit] = Field(default_factory=list)
    bounce_ids: list[str] = Field(default_factory=list, description="Recent ids (idempotency).")
    address_keys: list[str] = Field(
        default_factory=list, description="address_key() of addresses suppressed for this flag."
    )
    lifted_unsettled: list[str] = Field(
        default_factory=list,
        # Written only when not empty: entries read exactly as before this field, also to
        # readers that predate it (they forbid unknown fields); older entries read as [].
        exclude_if=lambda keys: not keys,
        description="address_key() of addresses a resolve lifted whose suppressions it has "
        "not settled yet (``suppress.resolve_and_lift``); cleared once they are.",
    )
    notes: list[FlagNote] = Field(default_factory=list)
    updated_at: AwareDatetime


class Guidance(_Model):
    """What staff tell the patron on the phone, per category (Japanese)."""

    category: BounceCategory
    title: str
    script: str


class MailOutcomeLine(_Model):
    """One of the patron's recent mail outcomes (no address: staff have it in the ILS)."""

    occurred_at: AwareDatetime
    kind: MailKind
    outcome: OutcomeName
    cause: str | None = None
    detail: str | None = None
    smtp_code: int | None = None
    message_id: str | None = None
    carrier_group: CarrierGroup = "other"


class StaffError(_Model):
    code: Literal["not_in_queue", "invalid_transition", "bad_request", "conflict", "internal"]
    message: str = Field(max_length=2000)


class QueueListRequest(_Model):
    status: FlagStatus | None = None
    category: BounceCategory | None = None
    limit: int = Field(500, ge=1, le=5000)


class QueueSummary(_Model):
    patron_id: Id
    status: FlagStatus
    category: BounceCategory
    bounce_count: int
    flagged_at: AwareDatetime | None
    last_seen: AwareDatetime


class QueueListReply(_Model):
    ok: bool = True
    error: StaffError | None = None
    entries: list[QueueSummary] = Field(default_factory=list)
    total: int = 0


class QueueShowRequest(_Model):
    patron_id: Id


class QueueShowReply(_Model):
    ok: bool = True
    error: StaffError | None = None
    entry: QueueEntry | None = None
    guidance: Guidance | None = None
    recent_outcomes: list[MailOutcomeLine] = Field(default_factory=list)


class QueueUpdateRequest(_Model):
    """Body of ``contacted`` and ``resolve``."""

    patron_id: Id
    note: str = Field(min_length=1, max_length=2000)
    by: str = Field("staff", min_length=1, max_length=80)


class QueueUpdateReply(_Model):
    ok: bool = True
    error: StaffError | None = None
    entry: QueueEntry | None = None
