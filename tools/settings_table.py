"""Renders the README's configuration table from the settings classes (one source of truth).

``python -m tools.settings_table`` prints it; ``--write`` replaces the block between the
``settings:start`` / ``settings:end`` markers in README.md. A test fails when it is stale.
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings

from shared.settings import CommonSettings

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
START, END = "<!-- settings:start -->", "<!-- settings:end -->"
SERVICES = {
    "mailer": "services.mailer.settings:MailerSettings",
    "bounce": "services.bounce.settings:BounceSettings",
    "scheduler": "services.scheduler.settings:SchedulerSettings",
}


def _load(spec: str) -> type[BaseSettings]:
    module, _, name = spec.partition(":")
    cls = getattr(importlib.import_module(module), name)
    assert isinstance(cls, type) and issubclass(cls, BaseSettings)
    return cls


def _default(field: object) -> str:
    value = getattr(field, "default", None)
    if value is None or getattr(field, "is_required", lambda: False)():
        return ""
    if isinstance(value, SecretStr):
        return "(dev value)" if value.get_secret_value() else "(empty)"
    if isinstance(value, tuple | list | frozenset | set):
        return ",".join(str(v) for v in value)
    return str(value)


def rows() -> list[tuple[str, str, str, str]]:
    found: dict[str, tuple[str, str, str, list[str]]] = {}
    classes: list[tuple[str, type[BaseSettings]]] = [("all", CommonSettings)]
    classes += [(service, _load(spec)) for service, spec in SERVICES.items()]
    for service, cls in classes:
        prefix = str(cls.model_config.get("env_prefix", "OTAYORI_"))
        for name, field in cls.model_fields.items():
            env = f"{prefix}{name}".upper()
            if service != "all" and name in CommonSettings.model_fields:
                continue
            default = _default(field)
            secret = "secret; " if "SecretStr" in str(field.annotation) else ""
            meaning = f"{secret}{field.description or ''}".replace("|", "\\|")
            entry = found.setdefault(env, (default, meaning, service, []))
            entry[3].append(service)
    return [
        (env, f"`{d}`" if d else "", m, ", ".join(dict.fromkeys(u)))
        for env, (d, m, _, u) in found.items()
    ]


def table() -> str:
    lines = ["| variable | default | meaning | used by |", "|---|---|---|---|"]
    lines += [f"| `{env}` | {d} | {m} | {u} |" for env, d, m, u in rows()]
    return "\n".join(lines)


def updated_readme(text: str) -> str:
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n{table()}\n{END}{tail}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="update README.md in place")
    args = parser.parse_args()
    if args.write:
        README.write_text(updated_readme(README.read_text("utf-8")), "utf-8")
    else:
        print(table())


if __name__ == "__main__":
    main()
