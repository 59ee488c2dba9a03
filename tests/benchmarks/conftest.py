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
    """A temporary Pi-check cache, seeded with a copy of the user's roots and wheels (only read) to
    skip downloads; the guest installs (1 GB for the four systems) are made again when used."""
    cache = tmp_path_factory.mktemp("pi") / "cache"
    user = USER_CACHE()
    if any(user.glob("rootfs-*")):
        shutil.copytree(user, cache, symlinks=True, ignore=shutil.ignore_patterns(".lock", "work", "site-*", *pi_check.LEGACY))
    else:
        cache.mkdir()
    return cache
