"""Tests for course_utils.data: finding, downloading, verifying and caching Fashion-MNIST.

Most tests use small synthetic IDX files (with the expected digests monkeypatched)
so they run in milliseconds and never touch the network; one test uses the real
files from the Debian package when they are installed.
"""

import contextlib
import functools
import gzip
import hashlib
import http.server
import os
import socket
import struct
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from course_utils import data

REAL_DIR = Path("/usr/share/datasets/fashion-mnist")
TEST_IMAGES, TEST_LABELS = data.SPLIT_FILES["test"]


def idx_bytes(array, magic):
    """IDX file contents for a uint8 array (header: magic, then big-endian dims)."""
    return struct.pack(f">{1 + array.ndim}I", magic, *array.shape) + array.tobytes()


def write_file(folder, name, content, gz=True):
    """Write ``content`` as ``folder/name`` (or ``name.gz``); return the path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (f"{name}.gz" if gz else name)
    path.write_bytes(gzip.compress(content) if gz else content)
    return path


def trust(monkeypatch, name, content):
    """Make ``content`` the expected (verified) contents of file ``name``."""
    monkeypatch.setitem(data.SHA256, name, hashlib.sha256(content).hexdigest())


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """Private user cache, no COURSE_DATA, no system folder, and a mirror that refuses."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("COURSE_DATA", raising=False)
    monkeypatch.setattr(data, "SYSTEM_DIR", tmp_path / "no-system-dir")
    monkeypatch.setattr(data, "MIRROR", "http://127.0.0.1:9/")  # never the internet
    data.clear_memory_cache()
    yield
    data.clear_memory_cache()


@pytest.fixture
def fake_test_split(monkeypatch):
    """Factory: write a small trusted 'test' split into a folder; returns (images, labels)."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(20, 28, 28), dtype=np.uint8)
    labels = (np.arange(20) % 10).astype(np.uint8)
    contents = {TEST_IMAGES: idx_bytes(images, 2051), TEST_LABELS: idx_bytes(labels, 2049)}
    for name, content in contents.items():
        trust(monkeypatch, name, content)

    def make(folder, gz=True):
        for name, content in contents.items():
            write_file(folder, name, content, gz=gz)
        return images, labels

    make.contents = contents
    return make


def corrupt_test_split(folder):
    """Write a 'test' split whose contents do not match the trusted digests."""
    for name in (TEST_IMAGES, TEST_LABELS):
        write_file(folder, name, b"not the real file")


def assert_matches(loaded, expected):
    images, labels = loaded
    assert images.shape == (len(expected[0]), 1, 28, 28) and images.dtype == torch.float32
    assert labels.dtype == torch.int64
    assert torch.equal(images[:, 0], torch.from_numpy(expected[0]).float() / 255)
    assert torch.equal(labels, torch.from_numpy(expected[1]).long())


@contextlib.contextmanager
def local_server(handler):
    """Run an HTTP server on 127.0.0.1 (free port) in a thread; yields its base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


class QuietFileHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def http_mirror(tmp_path):
    """A local HTTP server serving the files of a folder; yields (folder, url)."""
    folder = tmp_path / "served"
    folder.mkdir()
    with local_server(functools.partial(QuietFileHandler, directory=str(folder))) as url:
        yield folder, url


# --- Choosing the split and the folder -------------------------------------------------

def test_bad_split_names_the_valid_values():
    with pytest.raises(ValueError, match="'train' or 'test'"):
        data.load_fashion_mnist("validation")


def test_loads_gz_and_plain_files(tmp_path, fake_test_split):
    expected = fake_test_split(tmp_path / "gz", gz=True)
    assert_matches(data.load_fashion_mnist("test", root=tmp_path / "gz"), expected)
    fake_test_split(tmp_path / "plain", gz=False)
    assert_matches(data.load_fashion_mnist("test", root=tmp_path / "plain"), expected)


def test_missing_files_without_download_explain_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA", str(tmp_path / "course-data"))
    with pytest.raises(data.DatasetError) as error:
        data.load_fashion_mnist("test", download=False)
    message = str(error.value)
    assert "apt-get install dataset-fashion-mnist" in message
    assert "root=" in message and "COURSE_DATA" in message
    for folder in data.data_locations():
        assert str(folder) in message


def test_search_order_is_course_data_then_system_then_user_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA", str(tmp_path / "course-data"))
    assert data.data_locations() == [tmp_path / "course-data", data.SYSTEM_DIR,
                                     tmp_path / "cache" / "cnn-course" / "fashion-mnist"]


def test_course_data_takes_precedence(tmp_path, monkeypatch, fake_test_split):
    expected = fake_test_split(tmp_path / "course-data")
    corrupt_test_split(data.SYSTEM_DIR)
    corrupt_test_split(data.user_cache_dir())
    monkeypatch.setenv("COURSE_DATA", str(tmp_path / "course-data"))
    assert_matches(data.load_fashion_mnist("test", download=False), expected)


def test_folder_with_only_one_file_of_the_split_is_skipped(tmp_path, monkeypatch,
                                                           fake_test_split):
    expected = fake_test_split(data.SYSTEM_DIR)
    write_file(tmp_path / "course-data", TEST_IMAGES, b"half a split")
    monkeypatch.setenv("COURSE_DATA", str(tmp_path / "course-data"))
    assert_matches(data.load_fashion_mnist("test", download=False), expected)


def test_root_is_the_only_folder_searched(tmp_path, monkeypatch, fake_test_split):
    for folder in (tmp_path / "course-data", data.SYSTEM_DIR, data.user_cache_dir()):
        expected = fake_test_split(folder)
    monkeypatch.setenv("COURSE_DATA", str(tmp_path / "course-data"))
    empty_root = tmp_path / "empty-root"
    with pytest.raises(data.DatasetError) as error:
        data.load_fashion_mnist("test", root=empty_root, download=False)
    assert str(empty_root) in str(error.value)
    assert str(tmp_path / "course-data") not in str(error.value)

    corrupt_test_split(tmp_path / "course-data")
    fake_test_split(tmp_path / "good-root")
    assert_matches(data.load_fashion_mnist("test", root=tmp_path / "good-root"), expected)


# --- Downloading ------------------------------------------------------------------------

def test_offline_download_fails_with_advice_and_leaves_no_files(tmp_path, fake_test_split):
    root = tmp_path / "root"
    with pytest.raises(data.DatasetError) as error:
        data.load_fashion_mnist("test", root=root)  # MIRROR is a closed port
    message = str(error.value)
    assert "Could not download" in message and "apt-get install" in message
    assert "COURSE_DATA" in message
    assert not root.exists() or not any(root.iterdir())


def test_download_that_hangs_times_out(tmp_path, monkeypatch, fake_test_split):
    with socket.socket() as silent:  # accepts connections (backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        monkeypatch.setattr(data, "MIRROR", f"http://127.0.0.1:{silent.getsockname()[1]}/")
        monkeypatch.setattr(data, "DOWNLOAD_TIMEOUT_S", 0.5)
        with pytest.raises(data.DatasetError, match="Could not download"):
            data.load_fashion_mnist("test", root=tmp_path / "root")
    assert not any((tmp_path / "root").glob("*"))


def test_download_from_local_mirror_into_root(tmp_path, monkeypatch, fake_test_split,
                                              http_mirror):
    served, url = http_mirror
    expected = fake_test_split(served, gz=True)
    monkeypatch.setattr(data, "MIRROR", url)
    root = tmp_path / "root"
    assert_matches(data.load_fashion_mnist("test", root=root), expected)
    assert sorted(p.name for p in root.iterdir()) == [f"{TEST_IMAGES}.gz", f"{TEST_LABELS}.gz"]


def test_download_without_root_goes_to_user_cache(monkeypatch, fake_test_split, http_mirror):
    served, url = http_mirror
    expected = fake_test_split(served, gz=True)
    monkeypatch.setattr(data, "MIRROR", url)
    assert_matches(data.load_fashion_mnist("test"), expected)
    assert (data.user_cache_dir() / f"{TEST_IMAGES}.gz").is_file()


def test_download_of_wrong_file_is_rejected_and_not_kept(tmp_path, monkeypatch,
                                                        fake_test_split, http_mirror):
    served, url = http_mirror
    corrupt_test_split(served)
    monkeypatch.setattr(data, "MIRROR", url)
    root = tmp_path / "root"
    with pytest.raises(data.DatasetError, match="SHA-256"):
        data.load_fashion_mnist("test", root=root)
    assert not root.exists() or not any(root.iterdir())


def test_download_cut_off_midway_leaves_no_file(tmp_path, monkeypatch, fake_test_split):
    class CutOffHandler(QuietFileHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b"\x1f\x8b" + b"x" * 100)  # then the connection closes

    root = tmp_path / "root"
    with local_server(CutOffHandler) as url:
        monkeypatch.setattr(data, "MIRROR", url)
        with pytest.raises(data.DatasetError, match="Could not download"):
            data.load_fashion_mnist("test", root=root)
    assert not root.exists() or not any(root.iterdir())


def test_download_404_is_a_dataset_error(tmp_path, monkeypatch, http_mirror):
    monkeypatch.setattr(data, "MIRROR", http_mirror[1])  # serves an empty folder
    with pytest.raises(data.DatasetError, match="404"):
        data.load_fashion_mnist("test", root=tmp_path / "root")


# --- Verification -----------------------------------------------------------------------

def test_truncated_gz_names_the_file(tmp_path, fake_test_split):
    fake_test_split(tmp_path)
    path = tmp_path / f"{TEST_IMAGES}.gz"
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(data.DatasetError) as error:
        data.load_fashion_mnist("test", root=tmp_path)
    assert str(path) in str(error.value) and "Delete" in str(error.value)


def test_wrong_digest_names_the_file(tmp_path, monkeypatch, fake_test_split):
    fake_test_split(tmp_path)
    monkeypatch.setitem(data.SHA256, TEST_LABELS, "0" * 64)
    with pytest.raises(data.DatasetError) as error:
        data.load_fashion_mnist("test", root=tmp_path)
    assert str(tmp_path / f"{TEST_LABELS}.gz") in str(error.value)
    assert "SHA-256" in str(error.value) and "Delete" in str(error.value)


@pytest.mark.parametrize("content", [
    idx_bytes(np.zeros((3, 28, 28), np.uint8), 2049),           # labels magic on images
    idx_bytes(np.zeros((3, 28, 28), np.uint8), 2051)[:-5],      # shorter than the header says
    idx_bytes(np.zeros((3, 14, 14), np.uint8), 2051),           # not 28×28
    b"\x00\x00",                                                # no header at all
])
def test_bad_idx_header_names_the_file(tmp_path, monkeypatch, fake_test_split, content):
    fake_test_split(tmp_path)
    path = write_file(tmp_path, TEST_IMAGES, content)
    trust(monkeypatch, TEST_IMAGES, content)  # the digest passes; the header must not
    with pytest.raises(data.DatasetError) as error:
        data.load_fashion_mnist("test", root=tmp_path)
    assert str(path) in str(error.value)


def test_image_and_label_counts_must_agree(tmp_path, monkeypatch, fake_test_split):
    fake_test_split(tmp_path)
    content = idx_bytes(np.zeros(7, np.uint8), 2049)
    write_file(tmp_path, TEST_LABELS, content)
    trust(monkeypatch, TEST_LABELS, content)
    with pytest.raises(data.DatasetError, match="20 images but 7 labels"):
        data.load_fashion_mnist("test", root=tmp_path)


# --- Caching ----------------------------------------------------------------------------

def forbid(monkeypatch, function_name):
    """Make ``data.<function_name>`` raise, to prove a cache spared the call."""
    def fail(*args):
        raise AssertionError(f"{function_name} was called although a cache should answer")
    monkeypatch.setattr(data, function_name, fail)


def test_second_load_uses_memory_then_disk_cache(tmp_path, monkeypatch, fake_test_split):
    expected = fake_test_split(tmp_path)
    data.load_fashion_mnist("test", root=tmp_path)
    with monkeypatch.context() as patch:
        forbid(patch, "_read_source")
        forbid(patch, "_load_disk_cache")
        assert_matches(data.load_fashion_mnist("test", root=tmp_path), expected)  # memo

    forbid(monkeypatch, "_read_source")
    data.clear_memory_cache()  # as in a new Python process
    assert_matches(data.load_fashion_mnist("test", root=tmp_path), expected)  # .npy
    for cached in (data.user_cache_dir() / "parsed").iterdir():
        cached.unlink()
    data.clear_memory_cache()
    with pytest.raises(AssertionError, match="_read_source was called"):
        data.load_fashion_mnist("test", root=tmp_path)


def test_mutating_the_result_does_not_change_the_next_load(tmp_path, fake_test_split):
    expected = fake_test_split(tmp_path)
    images, labels = data.load_fashion_mnist("test", root=tmp_path)
    images.fill_(7.0)
    labels.fill_(3)
    assert_matches(data.load_fashion_mnist("test", root=tmp_path), expected)


def test_changed_source_file_is_reloaded(tmp_path, monkeypatch, fake_test_split):
    fake_test_split(tmp_path)
    data.load_fashion_mnist("test", root=tmp_path)
    new_labels = np.full(20, 9, np.uint8)
    content = idx_bytes(new_labels, 2049)
    path = write_file(tmp_path, TEST_LABELS, content)
    trust(monkeypatch, TEST_LABELS, content)
    stat = path.stat()  # make sure the mtime differs even on coarse-grained filesystems
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert data.load_fashion_mnist("test", root=tmp_path)[1].tolist() == [9] * 20


@pytest.mark.parametrize("damage", ["garbage", "same-shape-wrong-values", "wrong-shape"])
def test_corrupt_disk_cache_is_rebuilt(tmp_path, fake_test_split, damage):
    expected = fake_test_split(tmp_path)
    data.load_fashion_mnist("test", root=tmp_path)
    cached = next((data.user_cache_dir() / "parsed").glob("*-images.npy"))
    if damage == "garbage":
        cached.write_bytes(b"\x93NUMPY garbage")
    elif damage == "same-shape-wrong-values":
        np.save(cached, np.zeros_like(expected[0]))
    else:
        np.save(cached, expected[0].reshape(-1))
    data.clear_memory_cache()
    assert_matches(data.load_fashion_mnist("test", root=tmp_path), expected)
    assert np.array_equal(np.load(cached), expected[0])


def test_unwritable_cache_folder_does_not_fail_the_load(tmp_path, monkeypatch,
                                                        fake_test_split):
    expected = fake_test_split(tmp_path / "root")
    not_a_folder = tmp_path / "cache-is-a-file"
    not_a_folder.write_text("")  # mkdir below it fails even when tests run as root
    monkeypatch.setenv("XDG_CACHE_HOME", str(not_a_folder))
    assert_matches(data.load_fashion_mnist("test", root=tmp_path / "root"), expected)


# --- Real data and the sample photo -----------------------------------------------------

@pytest.mark.skipif(not REAL_DIR.is_dir(),
                    reason=f"{REAL_DIR} absent: apt-get install dataset-fashion-mnist")
def test_real_test_split_from_debian_package(monkeypatch):
    monkeypatch.setattr(data, "SYSTEM_DIR", REAL_DIR)
    images, labels = data.load_fashion_mnist("test", download=False)
    assert images.shape == (10000, 1, 28, 28) and images.dtype == torch.float32
    assert 0.0 <= images.min() and images.max() <= 1.0 and images.max() > 0.99
    assert labels.dtype == torch.int64
    assert torch.bincount(labels, minlength=10).tolist() == [1000] * 10
    assert len(data.CLASS_NAMES) == 10

    forbid(monkeypatch, "_read_source")
    data.clear_memory_cache()  # a new process: only the disk cache can help now
    again, again_labels = data.load_fashion_mnist("test", download=False)
    assert torch.equal(again, images) and torch.equal(again_labels, labels)


def test_sample_photo_gray_and_color():
    gray = data.load_sample_photo()
    color = data.load_sample_photo(gray=False)
    assert gray.ndim == 2 and gray.dtype == np.float64
    assert color.shape == gray.shape + (3,) and color.dtype == np.float64
    for photo in (gray, color):
        assert 0.0 <= photo.min() and photo.max() <= 1.0 and photo.std() > 0.05
    assert np.allclose(gray, color @ [0.299, 0.587, 0.114])
