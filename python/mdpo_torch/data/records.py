"""The pairs of a job: PreferenceRecord JSON (src/core/data/types.ts) joined with the images
folder the TS side renders (PROTOCOL.md section 3.1: m decoded, m' as the tfjs engine draws it).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DataError

MANIFEST = "manifest.json"
MANIFEST_FORMAT = "mdpo-studio/torch-images"
MANIFEST_VERSION = 1
#: Skipped records logged one by one; the rest are counted (a large held-out split would flood the log).
MAX_SKIP_LOGS = 20


@dataclass(frozen=True)
class Pair:
    """One usable preference pair; `negatives[e]` is m' of epoch e (one entry when fixed per pair)."""
    index: int
    id: str
    prompt: str
    chosen: str
    rejected: str
    image: Path
    negatives: tuple[Path, ...] = field(default_factory=tuple)


def _read_json(path: Path, what: str):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{what} {path} does not exist") from None
    except json.JSONDecodeError as e:
        raise DataError(f"{what} {path} is not valid JSON: {e}") from None


def load_records(records_file: str | Path) -> list[dict]:
    """The PreferenceRecord array saved at import; each record needs string id/prompt/chosen/rejected."""
    path = Path(records_file)
    records = _read_json(path, "The records file")
    if not isinstance(records, list):
        raise DataError(f"The records file {path} must hold a JSON array of records, but holds {type(records).__name__}")
    for i, r in enumerate(records):
        if not isinstance(r, dict):
            raise DataError(f"Record {i} of {path} is not an object")
        for key in ("id", "prompt", "chosen", "rejected"):
            if not isinstance(r.get(key), str):
                raise DataError(f"Record {i} of {path}: field '{key}' must be a string, but is {type(r.get(key)).__name__}")
        for key in ("chosen", "rejected"):
            if not r[key].strip():
                raise DataError(f"Record {i} ({r['id']}) of {path}: field '{key}' is empty")
    return records


def load_pairs(records_file: str | Path, images_dir: str | Path, *, seed: int, negative: dict,
               need_negatives: bool, log=lambda message: None) -> list[Pair]:
    """Joins the records with the manifest; refuses a manifest made for another run's settings.
    Skipped entries are logged and left out (as the tfjs engine skips records it cannot prepare)."""
    records = load_records(records_file)
    root = Path(images_dir)
    mpath = root / MANIFEST
    manifest = _read_json(mpath, "The images manifest")
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise DataError(f"{mpath}: field 'format' must be \"{MANIFEST_FORMAT}\"")
    if manifest.get("version") != MANIFEST_VERSION:
        raise DataError(f"{mpath}: field 'version' is {manifest.get('version')!r}; this engine reads version {MANIFEST_VERSION}")
    if manifest.get("seed") != seed:
        raise DataError(f"{mpath}: field 'seed' is {manifest.get('seed')!r} but the run's seed is {seed}; the m' images were rendered for another seed")
    strategy = manifest.get("strategy") or {}
    for key in ("strategy", "cropMin", "cropMax", "fixedPerPair"):
        if key in negative and strategy.get(key) != negative[key]:
            raise DataError(f"{mpath}: field 'strategy.{key}' is {strategy.get(key)!r} but the run's negative.{key} is {negative[key]!r}")
    entries = manifest.get("pairs")
    if not isinstance(entries, list) or len(entries) != len(records):
        got = len(entries) if isinstance(entries, list) else "no"
        raise DataError(f"{mpath}: field 'pairs' has {got} entries but the records file has {len(records)} records")
    pairs: list[Pair] = []
    skipped = 0
    for k, (entry, rec) in enumerate(zip(entries, records)):
        if not isinstance(entry, dict) or entry.get("id") != rec["id"]:
            raise DataError(f"{mpath}: pairs[{k}].id is {entry.get('id') if isinstance(entry, dict) else entry!r}, but record {k} has id {rec['id']!r}")
        if entry.get("skipped"):
            skipped += 1
            if skipped <= MAX_SKIP_LOGS:
                log(f"skipped record {k} ({rec['id']}): {entry['skipped']}")
            continue
        if not isinstance(entry.get("image"), str):
            raise DataError(f"{mpath}: pairs[{k}].image ({rec['id']}) must be a path relative to {root}")
        image = _inside(root, entry["image"], mpath, f"pairs[{k}].image")
        negs = entry.get("negatives") or []
        if need_negatives and not negs:
            raise DataError(f"{mpath}: pairs[{k}].negatives ({rec['id']}) is empty, but the objective needs m'")
        negatives = tuple(_inside(root, n, mpath, f"pairs[{k}].negatives[{e}]") for e, n in enumerate(negs))
        pairs.append(Pair(k, rec["id"], rec["prompt"], rec["chosen"], rec["rejected"], image, negatives))
    if skipped > MAX_SKIP_LOGS:
        log(f"skipped {skipped} records in all ({skipped - MAX_SKIP_LOGS} more than listed above); see {mpath}")
    if not pairs:
        raise DataError("None of the dataset's records could be prepared for training (see the import report).")
    return pairs


def _inside(root: Path, rel: str, mpath: Path, field_name: str) -> Path:
    path = (root / rel).resolve()
    if root.resolve() not in path.parents:
        raise DataError(f"{mpath}: {field_name} ({rel}) points outside {root}")
    if not path.is_file():
        raise DataError(f"{mpath}: {field_name} names {path}, which does not exist")
    return path


def check_negative_epochs(pairs: list[Pair], epochs_needed: int, fixed_per_pair: bool, need_negatives: bool) -> None:
    """m' per epoch must cover every epoch the run touches (PROTOCOL.md 3.1)."""
    if not need_negatives:
        return
    need = 1 if fixed_per_pair else epochs_needed
    for p in pairs:
        if len(p.negatives) < need:
            raise DataError(f"Pair {p.index} ({p.id}) has {len(p.negatives)} m' images but the run needs {need} (one per epoch)")
