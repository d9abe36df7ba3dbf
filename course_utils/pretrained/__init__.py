"""The trained models shipped with the course: list, describe, load; save and record new ones.

    from course_utils.pretrained import load_pretrained, pretrained_info, pretrained_names
    model = load_pretrained("small_cnn")          # eval mode, float32, on the CPU
    pretrained_info("small_cnn")["test_accuracy"] # what MANIFEST.json records

This folder holds one ``NAME.pt`` per model and ``MANIFEST.json``, which records for each file
its test accuracy, size, SHA-256 and the exact command that trained it (entries written since
the command line holds out validation data also record ``val_accuracy``, ``val_images`` and
``selected_epoch``: the epoch kept, chosen on validation; the test set is measured once). A ``.pt`` file is a
dict ``{"model": name for build_model, "config": its keyword arguments, "state_dict": ...}``
(float16 or float32 tensors), loaded with ``weights_only=True``. New files are written by
``python -m course_utils.training ... --save PATH`` through :func:`publish_pretrained`.
"""

import datetime
import hashlib
import json
from pathlib import Path

import torch

from ..evaluation import evaluate
from ..files import atomic_write
from ..models import build_model

__all__ = ["PRETRAINED_DIR", "MANIFEST_NAME", "pretrained_names", "pretrained_info",
           "load_pretrained", "load_pretrained_file", "save_pretrained", "read_manifest",
           "publish_pretrained"]

PRETRAINED_DIR = Path(__file__).parent
MANIFEST_NAME = "MANIFEST.json"


def pretrained_names():
    """Names of the checkpoints shipped in ``course_utils/pretrained/``."""
    return sorted(path.stem for path in PRETRAINED_DIR.glob("*.pt"))


def read_manifest(folder=PRETRAINED_DIR):
    """The MANIFEST.json of ``folder`` as a dict name -> entry ({} when there is none)."""
    path = Path(folder) / MANIFEST_NAME
    return json.loads(path.read_text()) if path.is_file() else {}


def pretrained_info(name):
    """The MANIFEST entry of a shipped checkpoint: test accuracy, command, seconds, date."""
    _check_name(name)
    return dict(read_manifest().get(name, {}))


def _check_name(name):
    if name not in pretrained_names():
        raise ValueError(f"no pretrained checkpoint {name!r}; shipped: "
                         f"{', '.join(pretrained_names()) or 'none'} (in {PRETRAINED_DIR})")


def load_pretrained(name, map_location="cpu"):
    """A shipped, trained model in eval mode, e.g. ``load_pretrained("small_cnn")``.

    The file holds the model name, its constructor arguments and a state_dict (float16 or
    float32; converted to the model's float32 here).
    """
    _check_name(name)
    return load_pretrained_file(PRETRAINED_DIR / f"{name}.pt", map_location)


def load_pretrained_file(path, map_location="cpu"):
    """Like :func:`load_pretrained`, for a file written by :func:`save_pretrained`."""
    saved = torch.load(path, map_location=map_location, weights_only=True)
    model = build_model(saved["model"], **saved["config"])
    reference = model.state_dict()
    state = {key: value.to(reference[key].dtype) for key, value in saved["state_dict"].items()}
    model.load_state_dict(state)
    return model.to(map_location).eval()


def save_pretrained(model, name, path, half=False):
    """Write ``model`` (made by ``build_model(name, ...)``) in the format of load_pretrained.

    ``half`` stores floating-point tensors as float16 (half the bytes). The file is written
    atomically; its folder is created if needed. Returns the path.
    """
    state = {key: (value.half() if half and value.is_floating_point() else value)
             .detach().cpu().contiguous() for key, value in model.state_dict().items()}
    saved = {"model": name, "config": dict(getattr(model, "config", {})), "state_dict": state}
    return atomic_write(path, lambda f: torch.save(saved, f))


def publish_pretrained(model, name, path, test_data, details, tta=None):
    """Save ``model``, reload the file, test it on the CPU and record it in MANIFEST.json.

    Args:
        model: made by ``build_model(name, ...)``; path: the ``.pt`` file to write (its
            folder's MANIFEST.json gets the entry, under the file's stem).
        test_data: (images N×1×28×28, labels N) on which the reloaded file is measured.
        details: further fields of the entry, as the command line writes them: parameters,
            train_images, val_images, val_accuracy and selected_epoch (the epoch kept,
            chosen on validation; None without validation data), epochs, train_seconds,
            command, device.
        tta: the test-time augmentation to measure with (None or "flip", as in ``evaluate``);
            recorded in the entry as ``tta`` when it is not None.

    Returns:
        the manifest entry (a dict with ``test_accuracy``, ``test_loss``, ``sha256``, ...).
    """
    path = save_pretrained(model, name, path)
    reloaded = load_pretrained_file(path)
    accuracy, loss = evaluate(reloaded, *test_data, device="cpu", tta=tta)
    entry = {
        "model": name, "config": reloaded.config, "file": path.name,
        "bytes": path.stat().st_size, "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "test_accuracy": accuracy, "test_loss": loss, "test_images": len(test_data[1]),
        **({"tta": tta} if tta else {}), **details,
        "torch": str(torch.__version__), "date": datetime.date.today().isoformat(),
    }
    manifest = read_manifest(path.parent)
    manifest[path.stem] = entry
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    atomic_write(path.parent / MANIFEST_NAME, lambda f: f.write(text.encode()))
    return entry
