"""Amazon SES bounce notifications delivered by mail (SNS e-mail subscriptions).

The body is one JSON document: ``{"notificationType": "Bounce", "bounce": {
"bouncedRecipients": [{"emailAddress", "action", "status", "diagnosticCode"}],
"reportingMTA", "remoteMtaIp"}}``. Each bounced recipient becomes one DSN record so the
ordinary rules classify it. The document may be wrapped in an SNS envelope (its
``"Message"`` member is the SES document as a string). Other notification types
(Delivery, Complaint) give nothing.
"""

from __future__ import annotations

import json

DsnFields = dict[str, str]

_MARK = "notificationtype"


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _document(text: str) -> dict[str, object] | None:
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        doc = json.loads(text[start : end + 1], strict=False)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def _record(item: object, reporting: str) -> DsnFields | None:
    if not isinstance(item, dict):
        return None
    address = _text(item.get("emailAddress"))
    if "@" not in address:
        return None
    record: DsnFields = {"final-recipient": f"rfc822; {address}"}
    for key, name in (("action", "action"), ("status", "status")):
        if _text(item.get(key)):
            record[name] = _text(item.get(key))
    diagnostic = _text(item.get("diagnosticCode"))
    if diagnostic:
        record["diagnostic-code"] = diagnostic if ";" in diagnostic[:10] else f"smtp; {diagnostic}"
    record.setdefault("action", "failed")
    if reporting:
        record["reporting-mta"] = reporting
    return record


def notification(text: str) -> tuple[str, list[DsnFields]]:
    """The SES notification type in ``text`` (lower case, "" when none) and, for a
    ``Bounce``, one DSN-like record per bounced recipient."""
    if _MARK not in text[:4096].lower():
        return "", []
    doc = _document(text)
    inner = doc.get("Message") if doc is not None else None
    if isinstance(inner, str):  # an SNS envelope around the SES document
        doc = _document(inner)
    kind = _text(doc.get("notificationType")).lower() if doc is not None else ""
    bounce = doc.get("bounce") if doc is not None and kind == "bounce" else None
    if not isinstance(bounce, dict):
        return kind, []
    recipients = bounce.get("bouncedRecipients")
    if not isinstance(recipients, list):
        return kind, []
    reporting = _text(bounce.get("reportingMTA"))
    found = (_record(item, reporting) for item in recipients[:100])
    return kind, [r for r in found if r is not None]
