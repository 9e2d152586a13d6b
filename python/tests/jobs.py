"""Test jobs: records, the images folder (as the TS side renders it, PROTOCOL.md 3.1) and a TrainJob."""
from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

COLOURS = [(220, 30, 30), (30, 200, 40), (40, 60, 220), (230, 220, 40), (200, 40, 200), (40, 210, 210)]
NAMES = ["red", "green", "blue", "yellow", "purple", "cyan"]


def make_records(n: int = 4) -> list[dict]:
    out = []
    for i in range(n):
        c, w = NAMES[i % len(NAMES)], NAMES[(i + 1) % len(NAMES)]
        out.append({"index": i, "id": f"pair-{i}", "prompt": "What colour is the square?",
                    "chosen": f"A {c} square.", "rejected": f"A {w} circle.",
                    "image": {"kind": "file", "path": f"/data/{i}.png", "relPath": f"{i}.png"},
                    "source": {"file": "data.json", "index": i}})
    return out


def draw(i: int, size=(40, 32)) -> Image.Image:
    im = Image.new("RGB", size, (245, 245, 245))
    px = im.load()
    c = COLOURS[i % len(COLOURS)]
    for x in range(6 + i % 5, 26 + i % 5):
        for y in range(6, 24):
            px[x, y] = c
    return im


def write_images(root: Path, records: list[dict], *, seed: int = 0, epochs: int = 1, fixed: bool = True,
                 strategy: dict | None = None, skip: set[int] = frozenset()) -> Path:
    """m as drawn, m' = a small corner crop resized back (a deterministic stand-in for the app's crop)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "m").mkdir(exist_ok=True)
    (root / "neg").mkdir(exist_ok=True)
    pairs = []
    for k, r in enumerate(records):
        if k in skip:
            pairs.append({"index": k, "id": r["id"], "skipped": "image-not-found: test"})
            continue
        m = draw(k)
        m.save(root / "m" / f"{k:06d}.png")
        negs = []
        for e in range(epochs):
            box = (2 * e, 2 * e, 2 * e + 10, 2 * e + 8)
            m.crop(box).resize(m.size).save(root / "neg" / f"{k:06d}-e{e}.png")
            negs.append(f"neg/{k:06d}-e{e}.png")
        pairs.append({"index": k, "id": r["id"], "image": f"m/{k:06d}.png", "negatives": negs})
    manifest = {"format": "mdpo-studio/torch-images", "version": 1, "seed": seed,
                "strategy": strategy or {"strategy": "crop", "cropMin": 0.01, "cropMax": 0.2, "fixedPerPair": fixed},
                "epochs": epochs, "pairs": pairs}
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


def make_job(tmp: Path, model_dir: Path, *, records: list[dict] | None = None, run_id: int = 1, **config) -> dict:
    records = records if records is not None else make_records()
    data = tmp / "data"
    data.mkdir(parents=True, exist_ok=True)
    (data / "records.json").write_text(json.dumps(records))
    fixed = config.get("negative", {}).get("fixedPerPair", True)
    images = write_images(tmp / "images", records, seed=config.get("seed", 0), fixed=fixed,
                          epochs=config.pop("_epochs", 1))
    base = {
        "datasetId": 1, "baseModel": str(model_dir), "variant": "mdpo", "anchor": "chosen", "beta": 0.1, "delta": 0,
        "weights": {"dpo": 1, "conditional": 1, "anchor": 1},
        "negative": {"strategy": "crop", "cropMin": 0.01, "cropMax": 0.2, "fixedPerPair": True},
        "lora": {"rank": 4, "alpha": 8, "dropout": 0, "targets": []},
        "learningRate": 5e-3, "schedule": "cosine", "warmupRatio": 0, "epochs": 1, "batchSize": 2, "gradAccum": 1,
        "weightDecay": 0.05, "adamBeta2": 0.98, "maxGradNorm": 1, "seed": 0, "backend": "cpu", "checkpointEvery": 1,
        "maxSteps": 3, "engine": "torch",
        "torch": {"python": None, "negativesDir": str(images), "maxLength": 512, "precision": "fp32", "device": "cpu"},
    }
    base.update(config)
    return {"runId": run_id, "config": base, "runDir": str(tmp / "run"), "home": str(tmp),
            "dataset": {"root": str(data), "format": "trl-json", "recordsFile": str(data / "records.json")},
            "appRoot": str(tmp), "resumeFrom": None}
