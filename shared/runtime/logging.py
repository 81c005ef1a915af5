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

_ADDRESS = re.compile(r"[^\s<>\"'(),;:@]+@[A-Za-z0-9.\-\[\]]+")
_RESERVED = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


def redact(text: str) -> str:
    """Mask e-mail addresses: ``taro@docomo.ne.jp`` -> ``***@docomo.ne.jp``."""
    return _ADDRESS.sub(lambda m: "***@" + m.group(0).rpartition("@")[2], text)


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
