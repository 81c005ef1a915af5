"""Second half of the rule table: weaker text rules, loops, and the RFC 3463 class fallback.

Tried only when no rule in ``rules.EXPLICIT`` fired for a recipient.
"""

from __future__ import annotations

from services.bounce.classifier import phrases as ph
from services.bounce.classifier.rules import BAD, OURS, REJ, TMP, UNK, Rule, _rx

MAIL_LOOP = Rule(
    "mailloop",
    TMP,
    _rx(
        r"mail (?:forwarding )?loop|loops back to myself|too many hops|hop count exceeded",
        r"routing loop|message looping|forwarding loop|too many received: headers",
        r"would create a mail loop|aliasing/forwarding loop",
    ),
    "RFC 3463 X.4.6 routing loop (networkerror in sisimai): usually a forward pointing back",
)

POLICY = Rule(
    "policyviolation",
    REJ,
    _rx(
        r"polic(?:y|ies)|prohibited|not accepted for policy|organization(?:al)? settings",
        r"members-only list|closed mailing list|not subscribed to this group|captcha",
        r"illegal attachment|attachments|header error|protocol violation",
    ),
    why="receiving site policy refuses the message or sender: cause 2",
)

VIRUS = Rule(
    "virusdetected",
    REJ,
    _rx(r"virus|malware|potentially executable|infected"),
    why="receiver's scanner refused the content",
)

SYSTEM_ERROR = Rule(
    "systemerror",
    TMP,
    _rx(
        r"system (?:config(?:uration)? )?error|local (?:error|configuration error|problem)",
        r"internal (?:server )?error|server configuration error|misconfigured|config error",
        r"temporary (?:local )?(?:problem|failure|error)|service (?:currently )?unavailable",
        r"try again later|timeout waiting|interrupted system call|queue file write error",
        r"transaction failed|can'?t create user output file|encountered an error",
        r"upstream error|server error|system (?:is )?(?:not available|busy)",
        r"duplicated message-id|detected a loop condition|loop back warning",
    ),
    "remote system trouble: retry",
    foreign=_rx(*ph.SYSTEM_ERROR),
)

NETWORK_ERROR = Rule(
    "networkerror",
    TMP,
    _rx(
        r"no route to host|host (?:is )?unreachable|name server (?:reply|failure|timeout)",
        r"lookup fail|dns (?:failure|error)",
        r"could not connect|unable to resolve route|host not found, try again|network",
        r"not reachable",
    ),
    "network/DNS trouble reaching the destination: retry",
)

SYSTEM_FULL = Rule(
    "systemfull",
    TMP,
    _rx(
        r"mail system full|disk full|exceeded storage allocation",
        r"insufficient (?:system storage|disk space|space)",
    ),
    "destination server disk full (not the patron's quota): retry",
)

NOT_ACCEPT = Rule(
    "notaccept",
    BAD,
    _rx(
        r"does not accept (?:any )?mail|nullmx|null mx|no route for current request",
        r"host not found|accepts no mail|(?:does not|doesn'?t) receive (?:any )?e-?mail",
        r"host/domain does not accept|no mx record found|smtp protocol returned a permanent error",
    ),
    "destination accepts no mail (RFC 7505 null MX): address unusable",
)

EXPIRED = Rule(
    "expired",
    TMP,
    _rx(
        r"expired|timed? ?out|time limit|giving up|retry (?:time|timeout)|too long|been delayed",
        r"could not be delivered (?:within|for more than)|not (?:been )?delivered within",
        r"delivery attempts will continue|failing for a long time|did not respond|not responding",
        r"unable to deliver message after|queue period|will be retried",
        r"did not accept our requests to connect|message expired|could not find a gateway for",
    ),
    "RFC 3463 X.4.7 delivery time expired: retry / count as soft",
    foreign=_rx(*ph.EXPIRED),
)

STARTTLS = Rule(
    "failedstarttls",
    TMP,
    _rx(
        r"starttls|tls (?:handshake|negotiation)|ssl (?:handshake|error)|certificate",
        r"does not support tls|tls (?:is )?(?:not (?:supported|available)|unavailable)",
    ),
    why="TLS negotiation failed: either side, retry",
)

SECURITY = Rule(
    "securityerror",
    OURS,
    _rx(
        r"authentication (?:required|failure|failed|credentials)|unauthenticated senders",
        r"insecure mail relay|not authorized to perform ses|account not subscribed to ses",
        r"tls required but not supported|authentification requise",
    ),
    "SMTP AUTH/TLS requirement not met by our MTA",
)

MAILER_ERROR = Rule(
    "mailererror",
    UNK,
    _rx(
        r"procmail|maildrop|command (?:failed|died|output)|mailer error|pipe to \|",
        r"x-unix;|exit \d+|unknown mailer error",
    ),
    why="recipient-side delivery program failed: staff review",
)

SYNTAX = Rule(
    "syntaxerror",
    OURS,
    _rx(
        r"syntax error|command unrecognized|(?:bad|improper) sequence of commands",
        r"(?:command|parameter) not implemented|malformed (?:recipient )?address",
    ),
    "RFC 5321 500-504 command syntax: our MTA problem",
)

SECONDARY: tuple[Rule, ...] = (
    MAIL_LOOP,
    POLICY,
    VIRUS,
    SYSTEM_ERROR,
    NETWORK_ERROR,
    SYSTEM_FULL,
    NOT_ACCEPT,
    EXPIRED,
    STARTTLS,
    SECURITY,
    MAILER_ERROR,
    SYNTAX,
)

ALL_RULES: dict[str, Rule] = {r.name: r for r in SECONDARY}
