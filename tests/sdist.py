"""Fetching a peer's sdist for its own test suite (SQLAlchemy's, Django's): from PyPI's
simple index, its sha256 checked against the index's, once, into a cache directory
(never committed), unpacked there."""

from __future__ import annotations

import hashlib
import re
import tarfile
import urllib.request
from pathlib import Path
from typing import Callable


def fetch_sdist(
    project: str, version: str, cache: Path, ready: str, log: Callable[[str], None]
) -> Path:
    """``cache/<project>-<version>`` (lower case), unpacked from the sdist; ``ready`` is a
    file inside it that says it is already there. Fetched by URL: ``pip download
    --no-binary`` would build the package's metadata for nothing."""
    name = project.lower()
    dest = cache / f"{name}-{version}"
    if (dest / ready).exists():
        return dest
    dl = cache / "downloads"
    dl.mkdir(parents=True, exist_ok=True)
    # PyPI's simple index (what pip reads): each file's link carries its sha256.
    with urllib.request.urlopen(f"https://pypi.org/simple/{name}/", timeout=60) as r:
        index = r.read().decode()
    links = re.findall(
        rf'href="([^"#]+/({re.escape(name)}-[^/"#]+\.tar\.gz))#sha256=([0-9a-f]{{64}})"',
        index,
        re.I,
    )
    try:
        url, filename, sha = next(
            (u, f, h) for u, f, h in links if f.lower() == f"{name}-{version}.tar.gz"
        )
    except StopIteration:
        raise SystemExit(f"no sdist of {project} {version} on PyPI") from None
    archive = dl / filename
    if not archive.exists():
        log(f"download {filename} from PyPI")
        with urllib.request.urlopen(url, timeout=300) as r:
            data = r.read()
        if hashlib.sha256(data).hexdigest() != sha:
            raise SystemExit(f"sha256 mismatch for {filename}")
        tmp = archive.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.rename(archive)
    with tarfile.open(archive) as tf:
        tf.extractall(cache, filter="data")
    # The archive's top directory may be spelled Project-x or project-x.
    for p in cache.iterdir():
        if p.is_dir() and p.name.lower() == dest.name and p != dest:
            p.rename(dest)
    return dest
