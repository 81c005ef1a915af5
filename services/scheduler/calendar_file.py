"""Reading the closure calendar file (``config/calendar.yaml``).

Format::

    closures:
      - from: 2026-12-29      # or ``date:`` alone for a single day
        to: 2027-01-03
        reason: 年末年始
        kind: new-year        # stock-taking | new-year | ad-hoc (optional, informative)

The file is UTF-8 (a Shift_JIS save is an error saying so). Dates are JST calendar days;
``to`` is inclusive. An entry is either ``date`` or both ``from`` and ``to``: a mix
(``date`` with ``to``) is an error naming the entry (``closures.N``), as is a blank ``reason``.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .calendar.model import Closure
from .errors import CalendarFileError
from .records import Reason


class ClosureEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    day: date | None = Field(None, alias="date")
    start: date | None = Field(None, alias="from")
    end: date | None = Field(None, alias="to")
    reason: Reason
    kind: Literal["stock-taking", "new-year", "ad-hoc"] = "ad-hoc"

    @model_validator(mode="after")
    def _one_form(self) -> ClosureEntry:
        single = self.day is not None
        ranged = self.start is not None or self.end is not None
        if single == ranged or (ranged and (self.start is None or self.end is None)):
            # ``date`` with ``to`` (or ``from``) is refused, not read as one day.
            raise ValueError("give either 'date' or both 'from' and 'to'")
        if self.start and self.end and self.end < self.start:
            raise ValueError(f"'to' ({self.end}) is before 'from' ({self.start})")
        return self

    def closure(self) -> Closure:
        if self.day is not None:
            return Closure(self.day, self.day, self.reason, "file")
        assert self.start is not None and self.end is not None
        return Closure(self.start, self.end, self.reason, "file")


class CalendarFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    closures: list[ClosureEntry] = Field(default_factory=list)


def parse_calendar(text: str, origin: str = "<calendar>") -> tuple[Closure, ...]:
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise CalendarFileError(origin, f"not valid YAML: {exc}") from exc
    except ValueError as exc:  # PyYAML's own date parsing, e.g. 2026-13-01
        raise CalendarFileError(origin, f"invalid date: {exc}") from exc
    try:
        parsed = CalendarFile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise CalendarFileError(origin, f"{where}: {first['msg']}") from exc
    closures: list[Closure] = []
    for n, entry in enumerate(parsed.closures):
        try:
            closures.append(entry.closure())
        except ValueError as exc:  # the entry passed the model but not the Closure
            raise CalendarFileError(origin, f"closures.{n}: {exc}") from exc
    return tuple(closures)


def load_calendar_file(path: Path) -> tuple[Closure, ...]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CalendarFileError(str(path), f"cannot read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:  # e.g. saved as Shift_JIS by a Windows editor
        raise CalendarFileError(
            str(path),
            f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}): "
            "the file must be saved as UTF-8",
        ) from exc
    return parse_calendar(text, str(path))
