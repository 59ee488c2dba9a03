"""The apt sources of a Pi check guest, derived from this host's own apt sources.

A guest is Debian arm64 or armhf (Raspberry Pi OS is Debian with the Pi's firmware on top:
bookworm for its 2023–2025 releases, trixie since late 2025), from the Debian mirror this host
already uses, at the guest's release: each suite's codename is replaced (bookworm-updates →
trixie-updates), the mirror and its keyring stay (Debian's keyring in bookworm already holds the
trixie keys). Only Debian entries are kept: third-party repositories (a
vendor's ``nodistro``, a cloud SDK) seldom carry arm64 and never carry the guest's Python. An
Ubuntu host is refused with a clear line: Ubuntu serves arm64 from a separate "ports" archive
that its sources do not name, and its Python is not the one a Pi runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from fmnist_edge.runtime.errors import FmnistError

DEBIAN = {"buster", "bullseye", "bookworm", "trixie", "forky", "duke", "sid", "experimental",
          "oldoldstable", "oldstable", "stable", "testing", "unstable"}
UBUNTU = {"trusty", "xenial", "bionic", "focal", "jammy", "kinetic", "lunar", "mantic", "noble",
          "oracular", "plucky", "questing", "resolute"}
UBUNTU_COMPONENTS = {"restricted", "universe", "multiverse"}


@dataclass(frozen=True)
class Source:
    """One ``deb`` line or deb822 stanza: where, which suites and components, its options."""

    uris: tuple[str, ...]
    suites: tuple[str, ...]
    components: tuple[str, ...]
    signed_by: str | None = None

    def distribution(self) -> str | None:
        """``debian``, ``ubuntu`` or None (a third-party repository), from suites and components."""
        codenames = {re.split(r"[-/]", suite)[0] for suite in self.suites}
        if codenames & UBUNTU or set(self.components) & UBUNTU_COMPONENTS:
            return "ubuntu"
        if codenames and codenames <= DEBIAN:
            return "debian"
        return None


def parse(text: str) -> list[Source]:
    """The binary (``deb``) sources of a one-line ``.list`` or a deb822 ``.sources`` text."""
    if re.search(r"^\s*(Types|URIs)\s*:", text, re.MULTILINE | re.IGNORECASE):
        return _parse_deb822(text)
    found = []
    for line in text.splitlines():
        match = re.match(r"\s*deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)((?:\s+\S+)*)", line)
        if match:
            options = dict(o.split("=", 1) for o in (match.group(1) or "").split() if "=" in o)
            found.append(Source((match.group(2),), (match.group(3),), tuple(match.group(4).split()),
                                options.get("signed-by")))
    return found


def _parse_deb822(text: str) -> list[Source]:
    found = []
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line or line[:1].isspace():
                continue  # comments, and continuation lines (an inline key block) are not needed
            key, value = line.split(":", 1)
            fields[key.strip().lower()] = value.strip()
        if "deb" in fields.get("types", "").split() and fields.get("enabled", "yes").lower() != "no":
            found.append(Source(tuple(fields.get("uris", "").split()), tuple(fields.get("suites", "").split()),
                                tuple(fields.get("components", "").split()), fields.get("signed-by") or None))
    return found


def guest_sources(files: list[Path], arch: str = "arm64", release: str | None = None) -> str:
    """A deb822 text of the Debian sources in ``files`` for ``arch``, at ``release`` (None: the
    host's own suites); a one-line error when there are none, or only Ubuntu's."""
    sources = [source for path in files for source in parse(path.read_text(errors="replace"))]
    ubuntu = [s for s in sources if s.distribution() == "ubuntu"]
    if ubuntu:
        raise FmnistError(
            f"this host's apt sources are Ubuntu's ({' '.join(ubuntu[0].suites)}): Ubuntu serves "
            "arm64 from a separate ports archive and its Python is not the Debian one a Raspberry "
            "Pi runs; run the Pi check on Debian (CI runs it in a debian:bookworm container)")
    debian = [s for s in sources if s.distribution() == "debian"]
    if not debian:
        raise FmnistError("no Debian apt sources on this host (looked in /etc/apt/sources.list and "
                          "/etc/apt/sources.list.d); the arm64 guest comes from the host's Debian mirror")
    stanzas = []
    for s in debian:
        suites = [at_release(suite, release) for suite in s.suites]
        lines = ["Types: deb", f"URIs: {' '.join(s.uris)}", f"Suites: {' '.join(dict.fromkeys(suites))}",
                 f"Components: {' '.join(s.components)}", f"Architectures: {arch}"]
        stanzas.append("\n".join(lines + ([f"Signed-By: {s.signed_by}"] if s.signed_by else [])))
    return "\n\n".join(stanzas) + "\n"


def at_release(suite: str, release: str | None) -> str:
    """``suite`` with its codename replaced by ``release`` (bookworm-security → trixie-security)."""
    return suite if release is None else release + re.match(r"[^-/]*(.*)", suite).group(1)
