"""Event contracts: the one place every message exchanged on the bus is defined."""

from shared.contracts.base import Event, new_event_id
from shared.contracts.bounce import (
    BounceCategory,
    BounceClassified,
    BounceDigest,
    BounceEvidence,
    DigestEntry,
    FlagStatus,
    PatronFlagged,
    PatronFlagUpdated,
)
from shared.contracts.deadletter import DeadLetter
from shared.contracts.ils import (
    HoldCancelled,
    HoldReady,
    LoanItem,
    LoanOnlineIssued,
    LoanOverdue,
    LoanReturned,
    PatronEmailChanged,
    PatronLoanSuspended,
)
from shared.contracts.mail import CarrierGroup, MailKind, MailOutcome, OutcomeName
from shared.contracts.registry import CHANNELS, Channel, channel_for, decode
from shared.contracts.schedule import (
    TRIGGER_NAMES,
    BatchWindow,
    ServiceSuspended,
    TriggerFired,
    TriggerMissed,
    TriggerName,
)

__all__ = [
    "CHANNELS",
    "TRIGGER_NAMES",
    "BatchWindow",
    "BounceCategory",
    "BounceClassified",
    "BounceDigest",
    "BounceEvidence",
    "CarrierGroup",
    "Channel",
    "DeadLetter",
    "DigestEntry",
    "Event",
    "FlagStatus",
    "HoldCancelled",
    "HoldReady",
    "LoanItem",
    "LoanOnlineIssued",
    "LoanOverdue",
    "LoanReturned",
    "MailKind",
    "MailOutcome",
    "OutcomeName",
    "PatronEmailChanged",
    "PatronFlagUpdated",
    "PatronFlagged",
    "PatronLoanSuspended",
    "ServiceSuspended",
    "TriggerFired",
    "TriggerMissed",
    "TriggerName",
    "channel_for",
    "decode",
    "new_event_id",
]
