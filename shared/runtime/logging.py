"""JSON-lines logging, configured only by an entrypoint.

Every record is one JSON object: ``ts``, ``level``, ``logger``, ``event`` (a stable name
such as ``mail.sent``) and the ``extra`` context. A redaction step masks anything that
looks like an e-mail address, in the message and in every field, so a careless call site
cannot leak a patron's address; log ids instead.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

#: What ends an unquoted local part: white space, ASCII and Japanese punctuation, at signs.
_DELIMITERS = (
    r"\s<>\"'(),;:@\uff20"  # ASCII, full-width at sign
    r"\uff1a\uff1b\uff0c\u3001\u3002\uff08\uff09\u300c\u300d\uff1c\uff1e"  # ：；，、。（）「」＜＞
)
#: An e-mail address: a quoted local part (``"taro.."@``) or an unquoted one that starts at
#: a delimiter (the look-behind keeps the scan linear on long runs without one), an ASCII or
#: full-width at sign (＠), and a domain that may be internationalised (``例え.jp``). A quoted
#: local part is at most 64 characters (RFC 5321): unbounded, a long run of escaped quotes
#: (a JSON payload in a traceback) made the scan quadratic.
_ADDRESS = re.compile(
    rf'(?:"(?:[^"\\\r\n]|\\.){{0,64}}"|(?<![^{_DELIMITERS}])[^{_DELIMITERS}]++)'
    r"[@\uff20](?P<domain>[\w.\-\[\]]+)"
)
#: The user information of a URL (``nats://user:password@host`` or a token).
_URL_CREDENTIALS = re.compile(r"://[^@/\s]+@")
_RESERVED = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


def redact(text: str) -> str:
    """Mask e-mail addresses: ``taro@docomo.ne.jp`` -> ``***@docomo.ne.jp``.

    Also a quoted local part (``"taro.."@docomo.ne.jp``), an internationalised domain
    (``taro@例え.jp``) and a full-width at sign (``taro＠docomo.ne.jp`` -> ``***@docomo.ne.jp``).
    """
    return _ADDRESS.sub(_masked, text)


def _masked(match: re.Match[str]) -> str:
    return "***@" + match.group("domain")


def mask_url(text: str) -> str:
    """Mask the credentials of every URL in ``text`` (a URL, a comma-separated list of them,
    or an error message): ``nats://user:pw@host:4222`` -> ``nats://***@host:4222``. Use it
    wherever a configured URL is printed or logged."""
    return _URL_CREDENTIALS.sub("://***@", text)


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, int | float | bool) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    return redact(str(value))


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self._service,
            "logger": record.name,
            "event": redact(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("_"):
                data[key] = _clean(value)
        if record.exc_info:
            data["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(data, ensure_ascii=False, default=str)


def configure(service: str, level: str = "INFO", stream: TextIO | None = None) -> None:
    """Install the JSON handler on the root logger (entrypoints only)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("nats", "aioimaplib", "mail.log", "asyncio"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
