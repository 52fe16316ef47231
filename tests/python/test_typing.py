"""The hand-written stubs match the built extension (mypy stubtest), and the package
type-checks (mypy --strict, configured in pyproject.toml)."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
ALLOWLIST = pathlib.Path(__file__).with_name("stubtest-allowlist.txt")

pytest.importorskip("mypy")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_stubs_match_extension():
    result = _run("mypy.stubtest", "pgpool._pgpool", "--allowlist", str(ALLOWLIST))
    assert result.returncode == 0, result.stdout + result.stderr


def test_package_type_checks():
    result = _run("mypy", "python/pgpool")
    assert result.returncode == 0, result.stdout + result.stderr
