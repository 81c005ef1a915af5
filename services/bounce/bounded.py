"""Models built from mail content, every string cut to its field's ``max_length`` (pure).

A bounce is written by strangers: a returned Message-ID, a diagnostic or a Remote-MTA can
be of any length. Building a model from them must never fail on a length limit (one such
bounce would otherwise stay first in the inbox for ever), so each string is cut to the
limit the model declares: the limits live once, in the contract, not in copies here.
"""

from __future__ import annotations

import functools
from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)


@functools.cache
def limits(model: type[BaseModel]) -> dict[str, int]:
    """``max_length`` of each field of ``model`` that declares one."""
    found: dict[str, int] = {}
    for name, info in model.model_fields.items():
        for meta in info.metadata:  # Field(max_length=) is kept as annotated_types.MaxLen
            cap = getattr(meta, "max_length", None)
            if isinstance(cap, int):
                found[name] = cap
    return found


def bounded(model: type[M], **values: Any) -> M:
    """``model(**values)`` with every string value cut to its field's ``max_length``."""
    caps = limits(model)
    for name, value in values.items():
        cap = caps.get(name)
        if cap is not None and isinstance(value, str) and len(value) > cap:
            values[name] = value[:cap]
    return model(**values)
