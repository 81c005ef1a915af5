"""Render a mail's subject and body from its Jinja2 templates (pure, cached loader).

Templates live in the repository's ``templates/mail`` folder: ``<kind>.subject.txt`` and
``<kind>.body.txt`` (Japanese), ``en/<kind>.*`` (English). They are rendered with
``StrictUndefined`` (a missing value is an error, never an empty string), autoescape off
(plain text) and ``keep_trailing_newline``. Printing ``None`` is an error as well.
Dates are formatted in the templates with ``|jdate`` / ``|edate``, which read the mail's
year from the context variable ``ref_year``.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    TemplateNotFound,
    UndefinedError,
    pass_context,
)
from jinja2.runtime import Context

from services.mailer.compose.dates import en_date, ja_date
from services.mailer.compose.model import RenderedMail
from services.mailer.errors import ComposeError
from shared.contracts.ils import Language
from shared.contracts.mail import MailKind

TEMPLATE_DIR = Path(__file__).resolve().parents[3] / "templates" / "mail"


def render(
    kind: MailKind, context: Mapping[str, object], language: Language = "ja"
) -> RenderedMail:
    """The subject (one line, stripped) and body (ending in one newline) of a mail."""
    prefix = "" if language == "ja" else f"{language}/"
    env = environment()
    try:
        subject = env.get_template(f"{prefix}{kind}.subject.txt").render(context)
        body = env.get_template(f"{prefix}{kind}.body.txt").render(context)
    except UndefinedError as exc:
        raise ComposeError(f"{kind}: missing value: {exc.message}", kind=kind) from exc
    except TemplateNotFound as exc:
        raise ComposeError(f"{kind}: no template {exc.name} ({language})", kind=kind) from exc
    except TemplateError as exc:
        raise ComposeError(f"{kind}: template error: {exc.message}", kind=kind) from exc
    return RenderedMail(subject=subject.strip(), body=body.rstrip("\n") + "\n")


class _MailEnvironment(Environment):
    """An environment whose templates see its globals as a plain dict.

    Jinja2 gives each template a ``ChainMap`` over the environment's globals, which every
    render copies key by key in Python (about a third of a mail's render time). These
    globals never change once the environment is built, so a copy taken when a template
    is loaded is the same view.
    """

    def make_globals(self, d: MutableMapping[str, Any] | None) -> MutableMapping[str, Any]:
        return {**self.globals, **(d or {})}


@cache
def environment(root: Path = TEMPLATE_DIR) -> Environment:
    """The Jinja2 environment over ``root`` (cached; templates are cached by Jinja2)."""
    env = _MailEnvironment(
        loader=FileSystemLoader(root),
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_refuse_none,
        auto_reload=False,  # templates change with a deploy, not while running
    )
    env.filters["jdate"] = _jdate
    env.filters["edate"] = _edate
    return env


def _refuse_none(value: object) -> object:
    if value is None:
        raise UndefinedError("a value printed in the mail is None")
    return value


def _ref_year(ctx: Context) -> int:
    year = ctx.resolve_or_missing("ref_year")
    if not isinstance(year, int):
        raise UndefinedError("'ref_year' is undefined (the mail's year, for dates)")
    return year


def _as_date(value: object) -> date:
    if isinstance(value, date):
        return value
    if value is None:
        raise UndefinedError("a date printed in the mail is None")
    str(value)  # an Undefined raises its own UndefinedError here
    raise UndefinedError(f"expected a date, got {type(value).__name__}")


@pass_context
def _jdate(ctx: Context, value: object) -> str:
    return ja_date(_as_date(value), _ref_year(ctx))


@pass_context
def _edate(ctx: Context, value: object) -> str:
    return en_date(_as_date(value), _ref_year(ctx))
