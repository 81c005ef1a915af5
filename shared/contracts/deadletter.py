"""The record a rejected message leaves on the bus: nothing is dropped silently."""

from __future__ import annotations

import base64
from typing import ClassVar

from pydantic import Field

from shared.contracts.base import Event


class DeadLetter(Event):
    """A consumed message that could not be handled, with the reason spelled out."""

    SUBJECT: ClassVar[str] = "deadletter"
    service: str = Field(max_length=40)
    consumer: str = Field(max_length=80)
    original_subject: str = Field(max_length=300)
    original_msg_id: str | None = None
    deliveries: int = Field(1, ge=1)
    reason: str = Field(max_length=4000)
    errors: list[str] = Field(default_factory=list, description="One line per validation error.")
    payload_text: str | None = Field(None, description="The original payload, when UTF-8.")
    payload_b64: str | None = Field(None, description="The original payload, otherwise.")

    def subject(self) -> str:
        return f"{self.SUBJECT}.{self.service}.{self.original_subject}"

    def payload(self) -> bytes:
        if self.payload_text is not None:
            return self.payload_text.encode()
        return base64.b64decode(self.payload_b64 or "")
