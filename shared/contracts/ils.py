"""Events the ILS posts to the bus. Their subjects are a public API: never rename them."""

from __future__ import annotations

from datetime import date
from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from shared.contracts.base import Event, Id
from shared.libraries import cooperating_libraries

Language = Literal["ja", "en"]
#: The address as the patron registered it. Deliberately not validated here: the mailer
#: checks it and reports the patron's mistake (Q6) as an ``invalid_address`` outcome.
RawAddress = Annotated[str, Field(min_length=0, max_length=320)]
Title = Annotated[str, Field(min_length=1, max_length=500)]


class _Patron(Event):
    patron_id: Id = Field(description="The patron's ILS id (利用者番号); never a name.")


class _Mailable(_Patron):
    email: RawAddress = Field(description="Registered hold-mail address (予約関連メール配信先).")
    language: Language = Field("ja", description="Mail language; Japanese unless asked.")


class LoanItem(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    loan_id: Id
    item_id: Id = Field(description="Item barcode.")
    title: Title
    due_date: date = Field(description="Return due date (2 weeks loan).")


class LoanOnlineIssued(_Mailable):
    """Thursday processing: items loaned online and shipped to a cooperating library."""

    SUBJECT: ClassVar[str] = "ils.loan.online_issued"
    batch_thursday: date = Field(description="The Thursday whose processing issued these loans.")
    pickup_library_no: int = Field(ge=1, le=59, description="Cooperating library number (Q28).")
    items: list[LoanItem] = Field(min_length=1, max_length=10)

    @field_validator("batch_thursday")
    @classmethod
    def _is_thursday(cls, value: date) -> date:
        if value.isoweekday() != 4:
            raise ValueError(f"{value.isoformat()} is not a Thursday")
        return value

    @field_validator("pickup_library_no")
    @classmethod
    def _is_known_library(cls, value: int) -> int:
        if value not in cooperating_libraries():
            raise ValueError(f"no cooperating library numbered {value}")
        return value


class HoldReady(_Mailable):
    """A hold is ready for pickup at the Prefectural Library (貸出可能)."""

    SUBJECT: ClassVar[str] = "ils.hold.ready"
    hold_id: Id
    item_id: Id
    title: Title
    secured_at: AwareDatetime = Field(description="When staff secured the item.")
    pickup_deadline: date = Field(description="受取期限日: last day to pick the item up.")


class HoldCancelled(_Mailable):
    """A hold was cancelled (予約解除), typically because its pickup deadline passed."""

    SUBJECT: ClassVar[str] = "ils.hold.cancelled"
    hold_id: Id
    title: Title
    reason: Literal["pickup_deadline_passed", "patron_request", "staff"] = "pickup_deadline_passed"
    pickup_deadline: date | None = None


class LoanOverdue(_Mailable):
    """A loan is overdue; the ILS decides the reminder level (督促 1–3)."""

    SUBJECT: ClassVar[str] = "ils.loan.overdue"
    loan_id: Id
    item_id: Id
    title: Title
    due_date: date
    reminder_level: int = Field(ge=1, le=3)


class LoanReturned(_Patron):
    """A loan was returned; cancels any pending overdue reminder for it."""

    SUBJECT: ClassVar[str] = "ils.loan.returned"
    loan_id: Id
    returned_at: AwareDatetime


class PatronLoanSuspended(_Mailable):
    """Lending is on hold for the patron (貸出保留), e.g. an expired card (Q16, Q32)."""

    SUBJECT: ClassVar[str] = "ils.patron.loan_suspended"
    reason: Literal["card_expired", "other"] = "card_expired"
    detail: str | None = Field(None, max_length=500, description="Staff note shown in the mail.")
    card_expired_on: date | None = None


class PatronEmailChanged(_Patron):
    """The patron registered a new address; lifts a bad-address suppression."""

    SUBJECT: ClassVar[str] = "ils.patron.email_changed"
    new_email: RawAddress
    old_email: RawAddress | None = None
