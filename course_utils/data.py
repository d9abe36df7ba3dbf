"""Datasets for the course: Fashion-MNIST (verified, cached) and a sample photo.

Fashion-MNIST is read from local files when possible (``COURSE_DATA``, the
Debian package ``dataset-fashion-mnist``, or a per-user cache) and downloaded
only as a last resort. Every file is checked against known SHA-256 digests, so
a corrupt or truncated file raises :class:`DatasetError` instead of silently
producing wrong data.
"""

import gzip
import hashlib
import os
import struct
import urllib.request
import zlib
from http.client import HTTPException
from pathlib import Path

import numpy as np
import torch

from .files import atomic_write

CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

MIRROR = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
DOWNLOAD_TIMEOUT_S = 8

SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
# Digests of the *decompressed* files: .gz bytes differ between repackagings.
SHA256 = {
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
}
IDX_MAGIC = {"images": 2051, "labels": 2049}

_memo = {}  # (split, folder, file stamps) -> (images uint8 N×28×28, labels uint8 N)


class DatasetError(RuntimeError):
    """A dataset file is missing, corrupt, or could not be downloaded."""


def clear_memory_cache():
    """Forget the arrays kept in this process (the on-disk cache stays)."""
    _memo.clear()


def user_cache_dir():
    """Per-user folder for downloads and parsed arrays: ``$XDG_CACHE_HOME`` or ``~/.cache``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "cnn-course" / "fashion-mnist"


def data_locations(root=None):
    """Folders searched for the Fashion-MNIST files, in order (only ``root`` if given)."""
    if root is not None:
        return [Path(root)]
    folders = [Path(os.environ["COURSE_DATA"])] if os.environ.get("COURSE_DATA") else []
    return folders + [SYSTEM_DIR, user_cache_dir()]


def load_fashion_mnist(split, root=None, download=True):
    """Load one split of Fashion-MNIST.

    Args:
        split: "train" (60000 images) or "test" (10000 images).
        root: folder holding the files; if given, no other folder is searched.
        download: fetch the files from ``MIRROR`` when no folder holds them.

    Returns:
        images: float32 tensor N×1×28×28 with values in [0, 1].
        labels: int64 tensor N with class indices 0..9 (see ``CLASS_NAMES``).
    """
    if split not in SPLIT_FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    names = SPLIT_FILES[split]
    folder = _find_folder(names, data_locations(root))
    if folder is None:
        if not download:
            raise DatasetError(_missing_message(split, root))
        folder = _download(split, names, root)
    images, labels = _load_arrays(split, folder, names)
    images = np.divide(images, 255, dtype=np.float32)  # a fresh array every call
    return (torch.from_numpy(images.reshape(-1, 1, 28, 28)),
            torch.from_numpy(labels.astype(np.int64)))


def train_val_split(images, labels, val_size=5000, seed=0):
    """Split a validation set off training data at random, the same for the same seed.

    Choose epochs and settings on the validation set; the test set is evaluated once, at
    the end (a choice made by looking at test accuracies makes the test result optimistic).

    Args:
        images, labels: tensors (or numpy arrays) with N entries along the first axis.
        val_size: images for validation, 0 < val_size < N.
        seed: seed of the random draw (a ``torch.Generator``: same split on every machine).

    Returns:
        ((train_images, train_labels), (val_images, val_labels)); each part keeps the
        original order of its images.

    Example::

        (train_x, train_y), (val_x, val_y) = train_val_split(*load_fashion_mnist("train"))
    """
    if len(images) != len(labels):
        raise ValueError(f"images and labels differ in length: {len(images)} and {len(labels)}")
    n = len(images)
    if isinstance(val_size, bool) or not isinstance(val_size, (int, np.integer)) \
            or not 0 < val_size < n:
        raise ValueError(f"val_size must be an integer with 0 < val_size < {n} (the number of "
                         f"images) so that both parts are non-empty, got {val_size!r}")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    val_rows, train_rows = order[:val_size].sort().values, order[val_size:].sort().values
    if not torch.is_tensor(images):
        val_rows, train_rows = val_rows.numpy(), train_rows.numpy()
    return ((images[train_rows], labels[train_rows]), (images[val_rows], labels[val_rows]))


def _find_file(folder, name):
    """Path of ``name`` (plain preferred, else ``name.gz``) in ``folder``, or None."""
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _find_folder(names, folders):
    """First folder holding every file in ``names``, or None."""
    for folder in folders:
        if all(_find_file(folder, name) for name in names):
            return folder
    return None


def _missing_message(split, root, reason=""):
    """Say which files are missing, where we looked, and the two ways to get them."""
    looked = "\n".join(f"  - {folder}" for folder in data_locations(root))
    all_files = ", ".join(f"{name}.gz" for names in SPLIT_FILES.values() for name in names)
    return (f"{reason}Fashion-MNIST {split!r} files {list(SPLIT_FILES[split])} are missing.\n"
            f"Looked in:\n{looked}\n"
            "Get them in one of two ways:\n"
            "  1. Debian/Ubuntu: sudo apt-get install dataset-fashion-mnist\n"
            f"  2. Download the four files ({all_files}) from {MIRROR} into a folder,\n"
            "     then pass root='that/folder' or set the environment variable COURSE_DATA to it.")


def _download(split, names, root):
    """Download the missing .gz files of ``names`` into ``root`` (or the user cache)."""
    target = Path(root) if root is not None else user_cache_dir()
    for name in names:
        if _find_file(target, name):
            continue
        url = MIRROR.rstrip("/") + f"/{name}.gz"
        try:
            _download_file(url, name, target / f"{name}.gz")
        except (OSError, ValueError, HTTPException, DatasetError) as error:
            raise DatasetError(_missing_message(
                split, root, f"Could not download {url}: {error}\n")) from error
    return target


def _download_file(url, name, path):
    """Fetch ``url``, check that it holds the file ``name`` and write it to ``path``."""
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
        payload = response.read()
    _decompress_and_verify(payload, name, source=url)
    atomic_write(path, lambda f: f.write(payload))


def _decompress_and_verify(payload, name, source):
    """Return the IDX bytes of ``payload`` (gzip or plain) after checking the SHA-256."""
    try:
        data = gzip.decompress(payload) if payload[:2] == b"\x1f\x8b" else payload
    except (OSError, EOFError, zlib.error) as error:
        raise DatasetError(f"{source} is not a valid gzip file ({error}).") from error
    if hashlib.sha256(data).hexdigest() != SHA256[name]:
        raise DatasetError(f"{source} does not have the expected SHA-256 digest "
                           "(corrupt, truncated or a different file).")
    return data


def _parse_idx(data, kind, source):
    """Parse IDX bytes into a uint8 array: N×28×28 for images, N for labels."""
    magic = int.from_bytes(data[:4], "big")
    ndim = 3 if kind == "images" else 1
    header_size = 4 + 4 * ndim
    if magic != IDX_MAGIC[kind] or len(data) < header_size:
        raise DatasetError(f"{source} has no valid IDX {kind} header (magic {magic}).")
    shape = struct.unpack(f">{ndim}I", data[4:header_size])
    if len(data) != header_size + int(np.prod(shape)):
        raise DatasetError(f"{source}: header says shape {shape}, "
                           f"which does not match the file size ({len(data)} bytes).")
    if kind == "images" and shape[1:] != (28, 28):
        raise DatasetError(f"{source}: images are {shape[1:]}, expected 28×28.")
    return np.frombuffer(data, np.uint8, offset=header_size).reshape(shape)


def _read_source(path, name, kind):
    """Read, verify and parse one dataset file; errors name the file and the fix."""
    try:
        data = _decompress_and_verify(path.read_bytes(), name, source=str(path))
        return _parse_idx(data, kind, source=str(path))
    except (DatasetError, OSError) as error:
        raise DatasetError(f"{error}\nDelete {path} and get it again "
                           "(apt-get install dataset-fashion-mnist, or download it).") from error


def _array_digest(array, kind):
    """SHA-256 of the IDX file that ``array`` was parsed from (header rebuilt from the shape)."""
    digest = hashlib.sha256(struct.pack(f">{1 + array.ndim}I", IDX_MAGIC[kind], *array.shape))
    digest.update(np.ascontiguousarray(array).data)
    return digest.hexdigest()


def _load_disk_cache(path, name, kind):
    """Cached array at ``path`` if it is readable and hashes to the expected digest, else None."""
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    expected_ndim = 3 if kind == "images" else 1
    if array.dtype != np.uint8 or array.ndim != expected_ndim:
        return None
    # Hashing is cheap (~25 ms for the train images) next to gunzip, so check fully.
    return array if _array_digest(array, kind) == SHA256[name] else None


def _save_disk_cache(path, array):
    """Store a verified array as .npy so later processes skip gunzip and parsing."""
    try:
        atomic_write(path, lambda f: np.save(f, array))
    except OSError:
        pass  # a read-only cache only costs speed, never the load


def _load_array(split, folder, name, kind):
    """uint8 array for one file: from the disk cache, else parsed from the source file."""
    cache_path = user_cache_dir() / "parsed" / f"{split}-{SHA256[name][:12]}-{kind}.npy"
    array = _load_disk_cache(cache_path, name, kind)
    if array is None:
        array = _read_source(_find_file(folder, name), name, kind)
        _save_disk_cache(cache_path, array)
    return array


def _load_arrays(split, folder, names):
    """(images N×28×28, labels N) uint8 arrays, memoised per folder and file mtimes."""
    paths = [_find_file(folder, name) for name in names]
    key = (split, str(folder.resolve()), tuple((str(p), p.stat().st_mtime_ns) for p in paths))
    if key not in _memo:
        images = _load_array(split, folder, names[0], "images")
        labels = _load_array(split, folder, names[1], "labels")
        if len(images) != len(labels):
            raise DatasetError(f"{folder} holds {len(images)} images but {len(labels)} labels; "
                               "delete both files and get them again.")
        for array in (images, labels):
            array.setflags(write=False)  # guards the memo against accidental edits
        _memo[key] = (images, labels)
    return _memo[key]


def load_sample_photo(gray=True):
    """Grace Hopper's portrait shipped with matplotlib, as floats in [0, 1].

    Returns:
        float64 array H×W if ``gray`` (luminance 0.299R + 0.587G + 0.114B), else H×W×3.
    """
    import matplotlib
    import matplotlib.image

    path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    if not path.is_file():
        raise DatasetError(f"Sample photo {path} is missing; reinstall matplotlib "
                           "(pip install --force-reinstall matplotlib).")
    pixels = matplotlib.image.imread(path)[..., :3]
    photo = pixels / 255.0 if pixels.dtype == np.uint8 else pixels.astype(np.float64)
    return photo @ np.array([0.299, 0.587, 0.114]) if gray else photo
