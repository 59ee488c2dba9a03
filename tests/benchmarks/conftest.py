import os
import shutil

import pytest

from fmnist_edge.benchmarks.pi import check as pi_check
from tests.runtime.conftest import export_dir  # noqa: F401  (the tiny-model export fixture)

USER_CACHE = pi_check.default_cache  # the real one, kept before the guard below replaces it


@pytest.fixture(autouse=True)
def _no_user_cache(monkeypatch):
    """A test run never writes the user's ~/.cache: every Pi check in a test names --cache."""
    def refuse():
        raise AssertionError("a test used the user's Pi-check cache; pass --cache pi_cache")
    monkeypatch.setattr(pi_check, "default_cache", refuse)


@pytest.fixture(scope="session")
def pi_cache(tmp_path_factory):
    """A temporary Pi-check cache, seeded with the user's roots and wheels (only read) to skip
    downloads; the guest installs (1 GB for the four systems) are made again when used. Files are
    hard links (600 MB copied took 38 s of make test) except each root's proc/cpuinfo, the one
    file a check writes in a root: it gets a copy of its own, so the user's stays as it was."""
    cache = tmp_path_factory.mktemp("pi") / "cache"
    user = USER_CACHE()
    if not any(user.glob("rootfs-*")):
        cache.mkdir()
        return cache
    shutil.copytree(user, cache, symlinks=True, copy_function=_link_or_copy,
                    ignore=shutil.ignore_patterns(".lock", "work", "site-*", *pi_check.LEGACY))
    for cpuinfo in cache.glob("rootfs-*/root/proc/cpuinfo"):
        text = cpuinfo.read_bytes()
        cpuinfo.unlink()
        cpuinfo.write_bytes(text)
    return cache


def _link_or_copy(source, target):
    try:
        os.link(source, target)
    except OSError:  # another file system: copy
        shutil.copy2(source, target)
