"""The rule table: SMTP status codes and diagnostic text -> category.

Rules are tried in order; the first match wins. Each rule names a fine-grained reason
(the vocabulary of sisimai, whose public pattern collection inspired many phrases) and the
project category it maps to (see docs/bounce-rules.md for the why of each rule).

``EXPLICIT`` rules match the status code *or* the diagnostic text of one recipient.
``SECONDARY`` rules are tried only when no explicit rule fired; they are weaker signals.
``status_class`` is the last resort (RFC 3463 class/subject).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.bounce.classifier import phrases as ph
from services.bounce.classifier.model import Category
from services.bounce.classifier.rxtools import alternation

BAD = Category.BAD_ADDRESS
REJ = Category.DOMAIN_REJECTION
FULL = Category.MAILBOX_FULL
TMP = Category.TRANSIENT
OURS = Category.SENDER_SIDE
UNK = Category.UNKNOWN


@dataclass(frozen=True, slots=True)
class Rule:
    """One line of the rule table."""

    name: str
    category: Category
    pattern: re.Pattern[str]
    why: str = ""
    foreign: re.Pattern[str] | None = None
    """Non-English phrases (``phrases.py``), tried only on text that is not pure ASCII."""

    def matches(self, text: str) -> bool:
        """``text`` must already be lower-cased."""
        if not text:
            return False
        if self.pattern.search(text) is not None:
            return True
        return self.foreign is not None and not text.isascii() and bool(self.foreign.search(text))


def _rx(*alternatives: str) -> re.Pattern[str]:
    """One alternation; patterns are lower-case and run on lower-cased text (much faster
    than ``re.IGNORECASE`` on long bodies). ``rxtools`` distributes leading word groups."""
    return alternation(*alternatives)


MAILBOX_FULL = Rule(
    "mailboxfull",
    FULL,
    _rx(
        r"mail ?box (?:is )?(?:full|over ?quota|exceeded|size limit exceeded|quota usage)",
        r"(?:over|exceeded|exceeds|exceeding|exceed)(?: the| its| their)?"
        r" (?:allowed |mailbox |disk )?quota",
        r"quota (?:exceeded|violation|full)|(?:disk|mail|storage) quota",
        r"full mailbox|mailfolder is full|mailbox (?:has )?exceeded|boite du destinataire pleine",
        r"not enough (?:storage )?space|does not have enough space",
        r"exceeded (?:storage|the) (?:allocation|storage)|too much mail data",
        r"user has too many messages|number of messages in .{0,30}mailbox exceeded",
        r"mailbox would exceed|space has been used up|recipient reached disk quota",
        r"mail file size exceeds|user(?:'s)? (?:is )?over (?:the )?quota|as their mailbox is full",
        r"account is (?:temporarily )?over quota|exceeding receiving limits",
        r"over (?:its|the|their) storage limit|account storage limit",
        r"mailbox exceeds allowed size",
    ),
    "RFC 3463 X.2.2 mailbox full; cause 3",
    foreign=_rx(*ph.MAILBOX_FULL),
)

MESG_TOO_BIG = Rule(
    "mesgtoobig",
    OURS,
    _rx(
        r"message (?:file |size )?(?:too (?:big|large)|exceeds (?:fixed|maximum|the maximum))",
        r"(?:max(?:imum)?|inbound) message size|message length exceeds|size limit|line limit",
        r"taille limite du message",
    ),
    "RFC 3463 X.3.4 / X.2.3 message too big: our template or attachment",
    foreign=_rx(*ph.MESG_TOO_BIG),
)

SUSPEND = Rule(
    "suspend",
    BAD,
    _rx(
        r"(?:is|been|currently) (?:suspended|deactivated|disabled|inactive|locked|frozen)\b(?! on)",
        r"account (?:is )?(?:disabled|suspended|inactive|deactivated|locked)",
        r"(?:mailbox|account) (?:currently )?(?:suspended|disabled|is frozen)",
        r"user suspended|recipient suspend|invalid/inactive user|inactive (?:user|account|mailbox)",
        r"temporarily inactive|temporary locked|disabled or discontinued",
        r"boite du destinataire archivee",
        r"(?:no longer|not) (?:in use|being (?:used|monitored)|active|monitored)",
        r"(?:mailbox|account) (?:has been |is )?(?:closed|expired)",
        r"the user\(s\) account is disabled",
    ),
    "account disabled/suspended: the patron must give a working address",
    foreign=_rx(*ph.SUSPEND),
)

HAS_MOVED = Rule(
    "hasmoved",
    BAD,
    _rx(r"has been moved to|mailbox has moved|address has changed|moved permanently"),
    "RFC 3463 X.1.6 mailbox moved, no forwarding address",
)

NO_RELAYING = Rule(
    "norelaying",
    UNK,
    _rx(
        r"relay(?:ing)? (?:access )?(?:denied|not permitted|not allowed|prohibited)|no relaying",
        r"(?:unable|not allowed|not permitted) to relay|as a relay|not an open relay",
        r"we don'?t handle mail for|not a gateway|relaying mail to|not local host",
        r"not configured to relay|isn'?t in my list of allowed rcpthosts",
        r"requires authentication when attempting to send to a non-local",
        r"insecure mail relay",
    ),
    why="relay denied: our relay setup or a dead MX; needs staff review",
)

AUTH_FAILURE = Rule(
    "authfailure",
    REJ,
    _rx(
        r"spf\b.{0,40}(?:fail|violation|record|setting|check)|sender policy framework",
        r"dmarc\b|dkim\b.{0,40}(?:fail|invalid|signature)|authentication (?:requirements|level)",
        r"is not allowed to send (?:mail|from)|not authorized to send on behalf",
        r"does not have authentication information|fails to pass authentication",
        r"5\.7\.(?:23|25|26|27|509|515)",
    ),
    "SPF/DKIM/DMARC refused (RFC 7372 X.7.23-27): the receiver rejects our domain",
    foreign=_rx(*ph.AUTH_FAILURE),
)

USER_UNKNOWN = Rule(
    "userunknown",
    BAD,
    _rx(
        r"(?:user|recipient|mailbox|address|account|local[- ]part|e-?mail address)"
        r" (?:is )?(?:unknown|not (?:found|known|exist|present|valid|active|ok|listed))",
        r"unknown (?:user|recipient|mailbox|local[- ]?part|e-?mail address|account|address)",
        r"no such (?:user|mailbox|recipient|address|person|account|local user)",
        r"(?:does not|doesn'?t|did not) exist|non[- ]?existent|nonexistent",
        r"invalid (?:recipient|mailbox|address|user)|bad[-_ ]recipient|bad destination mailbox",
        r"is not a (?:valid|known) (?:mailbox|user|recipient)|not a valid (?:recipient|user)",
        r"no (?:mailbox|account|mail box)(?: by that name| here| found| available)",
        r"mailbox (?:unavailable|invalid|not present|is unavailable|is inactive)",
        r"recipient rejected",  # "mailbox unavailable": the line above
        r"address rejected: (?:invalid|unknown|user)|recipnotfound|recipient ?not ?found",
        r"(?:unknown|no such) (?:address|alias)|account .{0,40}does not exist",
        r"not our customer|no longer (?:valid|available)|is unavailable|archived recipient",
        r"address (?:couldn'?t|could not|cannot|can'?t) be found|address not found",
        r"recipient address rejected\.(?:\s|$)",
        r"recipient (?:name )?is not recognized|recipient address rejected: user unknown",
        r"this address no longer accepts mail|user (?:not|doesn'?t) (?:exist|have)",
        r"5\.1\.1\b|utilisateur inconnu|nessun utente|no existe|unbekannt",
        r"destination addresses were unknown|the email account that you tried to reach",
        r"there is no one at this address|not listed in|badrcptto|validrcptto",
    ),
    "RFC 3463 X.1.1 bad destination mailbox: cause 1 (wrong or old address)",
    foreign=_rx(*ph.USER_UNKNOWN),
)

FILTERED = Rule(
    "filtered",
    REJ,
    _rx(
        r"recipient(?:'s)? (?:is only accepting|preferences|refuse)|refuse to receive",
        r"user reject|rejected due to user rules|blocked by the recipient",
        r"this account is protected|cannot route mail to user",
        r"restricted sms|is not accepting (?:any )?mail|notauthorized",
        r"not authorized to (?:send|receive)",
        r"sender(?:'s)? (?:address )?(?:is )?not (?:on|in) .{0,40}(?:list|allowed)",
        r"filtered|filter(?:ing)? (?:rule|setting)",
    ),
    "recipient-side filter refused our domain: cause 2 (e.g. carrier reception setting)",
    foreign=_rx(*ph.FILTERED),
)

REQUIRE_PTR = Rule(
    "requireptr",
    REJ,
    _rx(
        r"ptr\b|reverse (?:dns|lookup)|rdns|cannot find your hostname|ip name lookup failed",
        r"cannot resolve your address|unresolvable relay host|mismatches client ip",
        r"forward dns entry does not point|generic dns|dynamic ip",
    ),
    why="our sending IP lacks reverse DNS; the receiver rejects us (ops fix, still a refusal)",
)

NOT_COMPLIANT = Rule(
    "notcompliantrfc",
    OURS,
    _rx(
        r"rfc ?5322|rfc ?2822|not rfc compliant|multiple (?:from|to|subject|date) headers",
        r"multiple addresses in from",
    ),
    why="our message violates RFC 5322: fix the generator",
)

BAD_REPUTATION = Rule(
    "badreputation",
    REJ,
    _rx(r"reputation|user complaints"),
    why="our IP/domain reputation is too low for the receiver",
)

CONTENT_ERROR = Rule(
    "contenterror",
    OURS,
    _rx(
        r"header size exceeds|8-bit data in message header|mime complexity|invalid mime",
        r"improperly-formatted|unnecessary base64|message header size",
    ),
    "RFC 3463 X.6.x media error in our message",
)

REJECTED = Rule(
    "rejected",
    REJ,
    _rx(
        r"sender (?:address )?(?:rejected|denied|blacklisted|blocked|verify failed|is spammer)",
        r"but sender was rejected",
        r"(?:invalid|bogus|unroutable|empty) (?:envelope )?sender",
        r"domain of sender address|sender domain|envelope blocked|administrative prohibition",
        r"null sender|empty envelope senders|no third-party dsns|batv|backscatter",
        r"not (?:allowed|authorized|permitted) to post|delivery not authorized",
        r"access denied|this server does not accept mail from|rejected by .{0,40}policy",
        r"you are not allowed|address(?<!recipient address)(?<!ip address) rejected",
        r"sender not pre-approved|not a member of this mailing list|not member article from",
        r"spam mail from a spammer is rejected|is not a registered gateway user",
    ),
    "RFC 3463 X.1.7/X.1.8 our sender address refused: cause 2",
)

GENERIC_REFUSAL = re.compile(r"access denied|delivery not authori[sz]ed")
"""Wording that restates RFC 3463 X.7.1 without naming a cause (see ``decide``)."""

HOST_UNKNOWN = Rule(
    "hostunknown",
    BAD,
    _rx(
        r"host (?:or domain name )?(?:not found|unknown)|unknown (?:host|domain)",
        r"domain (?:does not exist|is not reachable|must exist|name not found|not found)",
        r"no such domain|name or service not known|unroute?able (?:address|mail domain)",
        r"no (?:mx|dns) record|nxdomain|recipient domain must exist|domain .{0,30}is unknown",
        r"illegal host/domain|unknown domain name|the account or domain may not exist",
        r"non-?existent (?:host|domain)",
    ),
    "RFC 3463 X.1.2 / X.4.4 destination domain unknown: cause 1 (typo in the domain)",
    foreign=_rx(*ph.HOST_UNKNOWN),
)

SPAM = Rule(
    "spamdetected",
    REJ,
    _rx(
        r"spam|unsolicited|bulk (?:e-?mail|mail)|junk mail|content filter",
        r"message (?:content )?rejected|rejected (?:as|for|due to) .{0,30}(?:content|spam)",
        r"probable|high probability|message filtered|looks like spam|suspicious",
    ),
    why="receiver spam filter refused the message: cause 2 from the patron's view",
    foreign=_rx(*ph.SPAM),
)

GREYLISTED = Rule(
    "greylisted",
    TMP,
    _rx(r"gr[ae]y-?list"),
    "greylisting is a deliberate temporary refusal (a 4xx asking to retry): transient",
)

SPEEDING = Rule(
    "speeding",
    TMP,
    _rx(
        r"rate limit|too fast|sending rate|throttl|receiving mail at a rate|frequency limit",
        r"too many recipients this hour|exceeded the max emails per hour",
    ),
    "rate limited: retry slower",
)

TOO_MANY_CONN = Rule(
    "toomanyconn",
    TMP,
    _rx(
        r"too many (?:connections|concurrent|smtp sessions|recipients|errors)",
        r"connection limit|maximum connection|max emails per hour|numerous attempts",
        r"trop de connexions",
    ),
    "too many connections/recipients: retry later",
)

BLOCKED = Rule(
    "blocked",
    REJ,
    _rx(
        r"blocked|blacklisted|block ?list|black ?list|rbl\b|dnsbl|spamhaus|spamcop|barracuda",
        r"client host (?:\S+ )?rejected|not (?:currently )?accepting mail from your ip",
        r"connection (?:refused by|dropped|reset by|was dropped)|go away",
        r"helo command rejected|host network not allowed|no access from mail server",
        r"can'?t determine purported responsible address",
        r"(?:your|sending|the|this) ip|banned sending ip|abus|listed|not allowed to connect",
        r"confirm this mail server|please use the smtp server of your isp|refused to talk",
        r"unwanted messages|access from ip|sc-00\d|you are sending spam|poor email",
        r"not accepting connections",
    ),
    "our sending host refused (RBL, policy at connect): cause 2 / ops",
)

UNAMBIGUOUS_UNKNOWN = Rule(
    "userunknown",
    BAD,
    _rx(
        r"recipient name is not recognized|recipientnotfound|recipient not found by",
        r"wasn'?t found at the destination|address (?:couldn'?t|could not) be found",
        r"doesn'?t have a \S+ account|invalid recipient",
        r"requested action not taken: mailbox unavail",
        r"unknown recipient or mailbox|tried to reach does not exist|domain does not exist",
        r"[a-z]\.[a-z]{2,} does not exist$|invalid final delivery userid|no valid recipients",
        r"please check if (?:the )?address is correct",
        r"recipient address rejected: (?:access denied|invalid user|unknown user)",
        r"not listed in (?:the )?(?:public name (?:&|and) address book|domino directory)",
        r"mail\.local: unknown user",
    ),
    "the reply itself says the mailbox or domain does not exist, whatever the SMTP phase",
    foreign=_rx(*ph.USER_UNKNOWN),
)

EXPLICIT: tuple[Rule, ...] = (
    GREYLISTED,
    MAILBOX_FULL,
    MESG_TOO_BIG,
    SUSPEND,
    HAS_MOVED,
    NO_RELAYING,
    AUTH_FAILURE,
    USER_UNKNOWN,
    FILTERED,
    REQUIRE_PTR,
    NOT_COMPLIANT,
    BAD_REPUTATION,
    CONTENT_ERROR,
    REJECTED,
    HOST_UNKNOWN,
    SPAM,
    SPEEDING,
    TOO_MANY_CONN,
    BLOCKED,
)
