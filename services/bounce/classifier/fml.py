"""Error notices of the fml mailing-list manager (``X-MLServer: fml``).

fml answers ``<list>-admin@`` with a plain-text notice ("You are not a member of this
mailing list <list@domain>.", "Duplicated Message-ID in <list@domain>.") followed by
"Original mail as follows:". The failing "recipient" is the list address; each notice
line becomes one DSN-like record so the ordinary rules classify it.
"""

from __future__ import annotations

import re

DsnFields = dict[str, str]

_ADMIN = re.compile(r"[-]admin@\S+")
_FML_ID = re.compile(r"<\d+\.FML[^@>]*@[^>]+>", re.IGNORECASE)
_BACKBONE = "Original mail as follows:"
_NOTICE = re.compile(
    r"not member article from|reject mail (?:from|.+:)|spam mail from a spammer is rejected"
    r"|you are not a member of this mailing list|reject since .+ header may cause mail loop"
    r"|duplicated message-id|has detected a loop condition|loop back warning"
    r"|unix from loop|security alert",
    re.IGNORECASE,
)
_LIST = re.compile(r"<([^<>\s]+@[^<>\s]+)>\.?\s*$")


def is_fml_notice(headers: dict[str, str]) -> bool:
    """Headers of an fml error notice (not an ordinary list post)."""
    if "fml" not in headers.get("x-mlserver", "").lower():
        return False
    sender, message_id = headers.get("from", ""), headers.get("message-id", "")
    return bool(_ADMIN.search(sender)) and bool(_FML_ID.search(message_id))


def notice_records(headers: dict[str, str], text: str) -> list[DsnFields]:
    """One record per notice line naming a list address ([] when not an fml notice)."""
    if not is_fml_notice(headers):
        return []
    head = text.split(_BACKBONE, 1)[0]
    records: list[DsnFields] = []
    for line in head.splitlines()[:200]:
        line = line.strip()
        m = _LIST.search(line)
        if m is None or _NOTICE.search(line) is None:
            continue
        records.append(
            {
                "final-recipient": f"rfc822; {m.group(1)}",
                "action": "failed",
                "diagnostic-code": f"x-fml; {line}",
            }
        )
    return records
