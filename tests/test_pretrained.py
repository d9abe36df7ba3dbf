"""The models of course_utils.models and the checkpoints of course_utils.pretrained."""

import json

import pytest
import torch

from course_utils.data import DatasetError, load_fashion_mnist
from course_utils.evaluation import evaluate
from course_utils.models import LeNet5, LeNet5Modern, LeNetVariant, build_model, count_parameters, model_names
from course_utils.pretrained import PRETRAINED_DIR, load_pretrained, pretrained_info, pretrained_names

MANIFEST = json.loads((PRETRAINED_DIR / "MANIFEST.json").read_text())


@pytest.mark.parametrize("name", model_names())
def test_every_model_maps_images_to_ten_logits(name):
    model = build_model(name)
    assert model(torch.rand(3, 1, 28, 28)).shape == (3, 10)
    assert build_model(name, **model.config).config == model.config


def test_lenet5_is_the_1998_layout():
    model = LeNet5()
    assert sum(p.numel() for p in model.parameters()) == 61706
    kinds = [type(m).__name__ for m in model.features]
    assert kinds == ["Conv2d", "Tanh", "AvgPool2d", "Conv2d", "Tanh", "AvgPool2d"]
    assert model.features(torch.zeros(1, 1, 28, 28)).shape == (1, 16, 5, 5)


def test_lenet_variant_defaults_are_lenet5_and_load_its_weights():
    original = load_pretrained("lenet")
    variant = LeNetVariant()
    variant.load_state_dict(original.state_dict())
    images = torch.rand(4, 1, 28, 28)
    assert torch.allclose(variant.eval()(images), original(images), atol=1e-6)


def test_lenet_variant_with_todays_parts_has_lenet5_modern_layers():
    variant, modern = LeNetVariant("relu", "max", batch_norm=True), LeNet5Modern()
    kinds = [[type(m).__name__ for m in model.modules()][1:] for model in (variant, modern)]
    assert kinds[0] == kinds[1]
    assert {k: v.shape for k, v in variant.state_dict().items()} == \
        {k: v.shape for k, v in modern.state_dict().items()}


def test_lenet_variant_other_input_sizes():
    model = LeNetVariant(in_channels=3, input_size=224)
    assert model(torch.rand(1, 3, 224, 224)).shape == (1, 10)
    # fc1 sees 16 maps of 54×54: 46,656 inputs × 120 + 120.
    assert count_parameters(model) == count_parameters(LeNet5()) - (400 * 120) + 16 * 54 * 54 * 120 \
        + (3 - 1) * 6 * 25
    with pytest.raises(ValueError, match="at least 12"):
        LeNetVariant(input_size=10)
    with pytest.raises(ValueError, match="activation"):
        LeNetVariant(activation="sigmoid")


def test_unknown_names_list_the_known_ones():
    with pytest.raises(ValueError, match="small_cnn"):
        build_model("resnet")
    with pytest.raises(ValueError, match=r"no pretrained checkpoint 'vgg'.*lenet"):
        load_pretrained("vgg")


def test_shipped_checkpoints_are_listed_small_and_documented():
    assert {"lenet", "small_cnn"} <= set(pretrained_names())
    assert set(pretrained_names()) == set(MANIFEST)
    assert sum((PRETRAINED_DIR / f"{n}.pt").stat().st_size for n in pretrained_names()) \
        <= 5 * 2**20
    for name in pretrained_names():
        info = pretrained_info(name)
        assert info["command"].startswith("python -m course_utils.training ")
        # chosen on a validation split of the training images; the test set measured once
        assert info["train_images"] + info["val_images"] == 60000 and info["test_images"] == 10000
        assert info["val_images"] >= 5000 and 0.8 < info["val_accuracy"] <= 1
    assert MANIFEST["small_cnn"]["test_accuracy"] >= 0.93


def test_shipped_resnet_is_small_and_reaches_its_target():
    info = MANIFEST["resnet"]
    assert info["model"] == "resnet_small" and info["parameters"] < 1_000_000
    assert info["parameters"] == count_parameters(load_pretrained("resnet"))
    assert "--val-size" not in info["command"] and info["val_images"] == 5000  # chosen on validation
    assert info["test_accuracy"] >= 0.945


def fashion_mnist_test():
    try:
        return load_fashion_mnist("test", download=False)
    except DatasetError as error:
        pytest.skip(f"Fashion-MNIST test files are not available: {error}".splitlines()[0])


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_shipped_checkpoint_reproduces_its_accuracy(name):
    images, labels = fashion_mnist_test()
    model = load_pretrained(name)
    assert not model.training
    accuracy, _ = evaluate(model, images, labels, device="cpu", tta=MANIFEST[name].get("tta"))
    assert accuracy == pytest.approx(MANIFEST[name]["test_accuracy"], abs=0.0005)
