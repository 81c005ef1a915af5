"""The envelope every event shares.

An event is a frozen pydantic model. Its ``event_id`` doubles as the ``Nats-Msg-Id``
header, so publishing the same event twice inside the stream's duplicate window stores
it once. ``occurred_at`` must carry a time zone: naive datetimes are rejected at the edge.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

#: Library ids as the ILS writes them: digits, letters, dashes (no spaces, no control chars).
Id = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")
]


def new_event_id() -> str:
    """A fresh, random event id (UUID4 hex with dashes)."""
    return str(uuid.uuid4())


class Event(BaseModel):
    """Base of every event on the bus.

    Subclasses set ``SUBJECT`` (the NATS subject, or its prefix when a token is appended)
    and ``schema_version`` as a ``Literal`` so that old consumers reject payloads they do
    not understand instead of misreading them.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)

    SUBJECT: ClassVar[str]

    schema_version: Literal[1] = Field(1, description="Version of this event's schema.")
    event_id: Annotated[str, StringConstraints(min_length=8, max_length=200)] = Field(
        default_factory=new_event_id,
        description="Unique id; used as Nats-Msg-Id for de-duplication.",
    )
    occurred_at: AwareDatetime = Field(description="When the fact happened (with offset).")

    def subject(self) -> str:
        """The subject this event is published on."""
        return self.SUBJECT


def aware(dt: datetime) -> datetime:
    """Reject naive datetimes in code paths that build events programmatically."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("datetime must be timezone-aware")
    return dt
