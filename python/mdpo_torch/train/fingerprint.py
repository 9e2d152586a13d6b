"""Input fingerprints saved with checkpoints: a resume with another base model, other records or
other rendered images is refused (the cached reference log-probs would be wrong).

Files are hashed by (name, size, sha256 of the first and last MiB): cheap for multi-GB weights,
and any real change of a checkpoint or image changes it."""
from __future__ import annotations

import hashlib
from pathlib import Path

CHUNK = 1 << 20


def _file_digest(h, path: Path) -> None:
    size = path.stat().st_size
    h.update(f"{path.name}\0{size}\0".encode())
    with open(path, "rb") as f:
        h.update(f.read(CHUNK))
        if size > 2 * CHUNK:
            f.seek(size - CHUNK)
        h.update(f.read(CHUNK))


def fingerprint_files(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in sorted(paths):
        _file_digest(h, p)
    return h.hexdigest()


def model_fingerprint(folder: Path) -> str:
    return fingerprint_files([p for p in folder.iterdir() if p.is_file() and p.suffix in (".json", ".safetensors", ".jinja", ".model", ".txt")])


def images_fingerprint(folder: Path) -> str:
    return fingerprint_files([p for p in folder.rglob("*") if p.is_file()])
