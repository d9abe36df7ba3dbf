import numpy as np
import pytest

from course_utils.kernels import KERNELS, gaussian_kernel, get_kernel
from course_utils.runtime import quick_mode, quick_or_full, seed_everything


def test_gaussian_is_normalised_and_symmetric():
    g = gaussian_kernel(5, 1.0)
    assert np.isclose(g.sum(), 1.0)
    np.testing.assert_allclose(g, g.T)
    np.testing.assert_allclose(g, g[::-1, ::-1])


def test_high_pass_kernels_ignore_constant_images():
    for name in ("laplacian (high-pass)", "sobel x", "sobel y", "difference [1 -1]"):
        assert np.isclose(KERNELS[name].sum(), 0.0), name


def test_get_kernel_returns_a_copy_and_names_the_choices():
    get_kernel("sharpen")[0, 0] = 99
    assert KERNELS["sharpen"][0, 0] == 0
    with pytest.raises(ValueError, match="choose one of"):
        get_kernel("blurry")


@pytest.mark.parametrize("value,expected", [("1", True), ("true", True), ("0", False), ("", False)])
def test_quick_mode_reads_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv("COURSE_QUICK", value)
    assert quick_mode() is expected
    assert quick_or_full(1, 2) == (1 if expected else 2)


def test_quick_mode_rejects_unclear_values(monkeypatch):
    monkeypatch.setenv("COURSE_QUICK", "maybe")
    with pytest.raises(ValueError, match="use 1"):
        quick_mode()


def test_seed_everything_reproduces_draws():
    import torch
    seed_everything(3)
    a = (np.random.rand(), torch.rand(1).item())
    seed_everything(3)
    assert a == (np.random.rand(), torch.rand(1).item())
