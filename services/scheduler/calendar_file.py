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
A key given twice in one mapping (a forgotten ``- `` before a second entry) is an error naming
the key and its line: YAML would keep the last one and drop a closure without a word.
"""

from __future__ import annotations

from collections.abc import Hashable
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from yaml.nodes import MappingNode

from .calendar.model import Closure
from .errors import CalendarFileError
from .records import StaffReason


class ClosureEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    day: date | None = Field(None, alias="date")
    start: date | None = Field(None, alias="from")
    end: date | None = Field(None, alias="to")
    reason: StaffReason
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


class DuplicateKey(yaml.YAMLError):
    """A mapping that gives ``key`` twice (lines are 1-based)."""

    def __init__(self, key: object, line: int, first_line: int) -> None:
        super().__init__(
            f"line {line}: duplicate key {key!r} (first on line {first_line}): YAML would keep "
            "only the last one; if it starts another entry, put '- ' before it"
        )


class _StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key given twice in one mapping."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: dict[object, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # ``<<:`` merges may override keys: that is what they are for
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            try:
                first = seen.get(key)
            except TypeError:
                continue  # an unhashable key: SafeLoader's own error follows
            if first is not None:
                raise DuplicateKey(key, line, first)
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def parse_calendar(text: str, origin: str = "<calendar>") -> tuple[Closure, ...]:
    try:
        data = yaml.load(text, Loader=_StrictLoader) or {}  # a SafeLoader
    except DuplicateKey as exc:
        raise CalendarFileError(origin, str(exc)) from exc
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
