"""What the torch engine would find in this interpreter: `mdpo doctor` runs this file.

Prints ONE JSON object on stdout (the last line) and exits 0, whatever is missing: a package
that does not import is reported with its error, never raised. Standard library only at the
top level, so it runs in any Python 3 (even one without the engine's packages); it reads no
model folder and loads no weights.

Shape (src/main/python/doctor.ts parses it; keep the two in step):
  {"probe": 1,
   "python": {"version": "3.11.2", "executable": "...", "implementation": "CPython"},
   "packages": {"torch": {"version": "2.15.0", "error": null}, ...},
   "optional": {"torchvision": {"version": null, "error": "ModuleNotFoundError: ..."}},
   "torch": {"cuda": "13.2" | null, "hip": null, "threads": 8} | null,
   "devices": {"cuda": [{"index": 0, "name": "...", "memory_bytes": 0, "capability": "8.9",
                         "bf16": true}],
               "mps": {"built": false, "available": false},
               "cpu_count": 16}}
"""

import importlib
import json
import os
import platform
import sys

# The engine's imports (python/requirements.txt pins their versions).
PACKAGES = ("torch", "transformers", "peft", "accelerate", "safetensors")
# Not needed by every family: Qwen2-VL / Qwen2.5-VL processors build a video processor that needs it.
OPTIONAL = ("torchvision",)


def package_version(name):
    """{"version", "error"}: the import is what the engine needs, not just the metadata."""
    try:
        module = importlib.import_module(name)
    except Exception as error:  # noqa: BLE001 - any import failure is a finding, not a crash
        return {"version": None, "error": "%s: %s" % (type(error).__name__, error)}
    return {"version": str(getattr(module, "__version__", "unknown")), "error": None}


def cuda_devices(torch):
    devices = []
    if not torch.cuda.is_available():
        return devices
    for index in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(index)
        try:
            with torch.cuda.device(index):
                bf16 = bool(torch.cuda.is_bf16_supported(including_emulation=False))
        except TypeError:  # older torch: no including_emulation argument
            bf16 = props.major >= 8
        devices.append(
            {
                "index": index,
                "name": props.name,
                "memory_bytes": int(props.total_memory),
                "capability": "%d.%d" % (props.major, props.minor),
                "bf16": bf16,
            }
        )
    return devices


def main():
    report = {
        "probe": 1,
        "python": {
            "version": "%d.%d.%d" % sys.version_info[:3],
            "executable": sys.executable,
            "implementation": platform.python_implementation(),
        },
        "packages": {name: package_version(name) for name in PACKAGES},
        "optional": {name: package_version(name) for name in OPTIONAL},
        "torch": None,
        "devices": {"cuda": [], "mps": {"built": False, "available": False}, "cpu_count": os.cpu_count() or 1},
    }
    if report["packages"]["torch"]["error"] is None:
        import torch

        report["torch"] = {
            "cuda": torch.version.cuda,
            "hip": getattr(torch.version, "hip", None),
            "threads": torch.get_num_threads(),
        }
        try:
            report["devices"]["cuda"] = cuda_devices(torch)
        except Exception as error:  # noqa: BLE001 - a broken driver is a finding
            report["devices"]["cuda_error"] = "%s: %s" % (type(error).__name__, error)
        mps = getattr(torch.backends, "mps", None)
        if mps is not None:
            report["devices"]["mps"] = {"built": bool(mps.is_built()), "available": bool(mps.is_available())}
    sys.stdout.write(json.dumps(report) + "\n")


if __name__ == "__main__":
    main()
