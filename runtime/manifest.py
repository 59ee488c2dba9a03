"""Reading ``export/manifest.json``: pick an artifact, verify its checksum, take its facts."""

from __future__ import annotations

import hashlib
import json
import os

from .errors import FmnistError

MANIFEST = "manifest.json"


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes."""
    with open(path, "rb") as f:
        return sha256_bytes(f.read())


def read_manifest(folder: str | os.PathLike) -> dict | None:
    """The manifest in ``folder``; None when there is none; a one-line error when it is broken."""
    path = os.path.join(folder, MANIFEST)  # os.path, not pathlib: see runtime.classifier
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            manifest = json.load(f)
    except (OSError, ValueError) as exc:
        raise FmnistError(f"{path}: unreadable manifest ({exc})") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("artifacts"), list):
        raise FmnistError(f"{path}: not an fmnist-edge manifest (no artifacts list)")
    return manifest


def entry_for_file(manifest: dict | None, name: str) -> dict | None:
    """The manifest entry describing the file called ``name``, if any."""
    for entry in (manifest or {}).get("artifacts", []):
        if entry.get("file") == name:
            return entry
    return None


def choose_entry(manifest: dict, folder: str | os.PathLike, formats: list[str], quantization: str) -> dict:
    """The entry of the first of ``formats`` (in order) that the manifest has in ``quantization``."""
    for fmt in formats:
        for entry in manifest["artifacts"]:
            if entry.get("format") == fmt and entry.get("quantization") == quantization:
                return entry
    have = ", ".join(f"{e.get('format')}/{e.get('quantization')}" for e in manifest["artifacts"])
    raise FmnistError(f"{folder}: no {'/'.join(formats)} model quantized '{quantization}' in "
                      f"{MANIFEST} (it has: {have or 'nothing'}); see --format/--quantization")


def verify(path: str | os.PathLike, data: bytes, entry: dict) -> None:
    """Refuse a file whose bytes do not match the manifest's sha256."""
    expected = entry.get("sha256")
    if expected and sha256_bytes(data) != expected:
        raise FmnistError(f"{path}: checksum mismatch with {MANIFEST} (the file changed after "
                          "export); re-export it, or pass verify=False / --no-verify to load anyway")
