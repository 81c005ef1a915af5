"""Finding server binaries and ports for tests; missing servers fail in CI, skip locally."""

from __future__ import annotations

import os
import shutil
import socket
import sysconfig
from pathlib import Path

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def require(what: str, found: object) -> None:
    """Skip when a server is missing locally; fail in CI (a skip there hides a gap)."""
    if found:
        return
    message = f"{what} is not available (run `make test`, which installs it)"
    if in_ci():
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def find_binary(name: str, *extra_dirs: str) -> Path | None:
    """A binary in the venv's scripts folder, PATH or extra folders."""
    venv_bin = Path(sysconfig.get_path("scripts")) / name
    if venv_bin.exists():
        return venv_bin
    found = shutil.which(name, path=os.pathsep.join([os.environ.get("PATH", ""), *extra_dirs]))
    return Path(found) if found else None
