"""course_utils.architectures: count_macs (published, by hand, FlopCounterMode) and layer tables."""

import pytest
import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode

from course_utils import architectures as arch
from course_utils.architectures.table import LayerRow

RGB, GREY = (3, 224, 224), (1, 28, 28)


pytestmark = pytest.mark.usefixtures("one_thread")   # tests/conftest.py


def on_meta(name, **kwargs):
    with torch.device("meta"):
        return arch.build(name, **kwargs)


# torchvision's model zoo, "GFLOPS" column (which counts multiply-accumulates), 224×224
TORCHVISION_GMACS = {"alexnet": 0.71, "vgg11": 7.61, "vgg13": 11.31, "vgg16": 15.47, "vgg19": 19.63,
                     "resnet18": 1.81, "resnet34": 3.66, "resnet50": 4.09, "resnet101": 7.80,
                     "resnet152": 11.51}


@pytest.mark.parametrize("name", sorted(TORCHVISION_GMACS))
def test_macs_match_torchvision_within_1_percent(name):
    macs = arch.count_macs(on_meta(name), RGB)
    assert macs == pytest.approx(TORCHVISION_GMACS[name] * 1e9, rel=0.01)


def test_googlenet_torchvision_macs_within_1_percent():
    model = on_meta("googlenet", branch5x5=3, batch_norm=True)
    assert arch.count_macs(model, RGB) == pytest.approx(1.50e9, rel=0.01)


@pytest.mark.parametrize("depth, gmacs", [(18, 1.8), (34, 3.6), (50, 3.8), (101, 7.6), (152, 11.3)])
def test_resnet_v1_macs_match_the_paper(depth, gmacs):
    """He et al. Table 1 (stride on the 1×1 conv; two significant digits, hence 2%)."""
    v1 = arch.count_macs(on_meta(f"resnet{depth}", stride_in_1x1=True), RGB)
    assert v1 == pytest.approx(gmacs * 1e9, rel=0.02)
    v15 = arch.count_macs(on_meta(f"resnet{depth}"), RGB)
    assert (v15 > v1) if depth >= 50 else (v15 == v1)


def conv_macs(c_in, c_out, k, size, groups=1):
    return c_out * size * size * (c_in // groups) * k * k


def test_alexnet_2gpu_macs_by_hand():
    by_hand = (conv_macs(3, 96, 11, 55) + conv_macs(96, 256, 5, 27, groups=2) + conv_macs(256, 384, 3, 13)
               + conv_macs(384, 384, 3, 13, groups=2) + conv_macs(384, 256, 3, 13, groups=2)
               + 9216 * 4096 + 4096 * 4096 + 4096 * 1000)
    assert arch.count_macs(on_meta("alexnet_2gpu"), (3, 227, 227)) == by_hand == 724_406_816


# Table 1 of Szegedy et al.: input channels, the six filter columns, output size, and "ops" in M
TABLE1 = {
    "3a": ((192, 64, 96, 128, 16, 32, 32), 28, 128),
    "3b": ((256, 128, 128, 192, 32, 96, 64), 28, 304),
    "4a": ((480, 192, 96, 208, 16, 48, 64), 14, 73),
    "4b": ((512, 160, 112, 224, 24, 64, 64), 14, 88),
    "4c": ((512, 128, 128, 256, 24, 64, 64), 14, 100),
    "4d": ((512, 112, 144, 288, 32, 64, 64), 14, 119),
    "4e": ((528, 256, 160, 320, 32, 128, 128), 14, 170),
    "5a": ((832, 256, 160, 320, 32, 128, 128), 7, 54),
    "5b": ((832, 384, 192, 384, 48, 128, 128), 7, 71),
}


def inception_macs(columns, size):
    c, n1, r3, n3, r5, n5, proj = columns
    return (conv_macs(c, n1, 1, size) + conv_macs(c, r3, 1, size) + conv_macs(r3, n3, 3, size)
            + conv_macs(c, r5, 1, size) + conv_macs(r5, n5, 5, size) + conv_macs(c, proj, 1, size))


def test_googlenet_paper_macs_by_hand_and_against_table1():
    rows = arch.layer_table(on_meta("googlenet"), RGB)
    per_module = {}
    for row in rows:
        per_module[row.name.split(".")[0]] = per_module.get(row.name.split(".")[0], 0) + row.macs
    stem = conv_macs(3, 64, 7, 112) + conv_macs(64, 64, 1, 56) + conv_macs(64, 192, 3, 56)
    by_hand = stem + sum(inception_macs(cols, size) for cols, size, _ in TABLE1.values()) + 1024 * 1000
    assert sum(per_module.values()) == by_hand == 1_582_671_872
    assert per_module["stem"] == stem
    agree = {name: abs(per_module[f"inception{name}"] / 1e6 - ops) / ops < 0.01
             for name, (_, _, ops) in TABLE1.items()}
    assert agree == {name: name != "5a" for name in TABLE1}  # the table's 5a row is off (docstring)
    assert conv_macs(64, 192, 3, 56) + conv_macs(64, 64, 1, 56) == pytest.approx(360e6, rel=0.01)


@pytest.mark.parametrize("name, shape, options", [
    ("alexnet_2gpu", (3, 227, 227), {}),
    ("resnet50", RGB, {}),
    ("googlenet", RGB, {"aux_logits": True}),
    ("vgg11", (3, 64, 64), {"batch_norm": True}),
    ("googlenet_small", GREY, {}),
    ("resnet20", GREY, {"shortcut": "B"}),
])
def test_macs_are_half_of_flop_counter_flops(name, shape, options):
    model = on_meta(name, **options).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros((1, *shape), device="meta"))
    assert counter.get_total_flops() == 2 * arch.count_macs(model, shape)


def test_macs_match_flop_counter_on_real_tensors_with_groups():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(4, 8, 3, padding=1, groups=4), nn.ReLU(),
                          nn.Conv2d(8, 6, (3, 5), stride=2, groups=2), nn.Flatten(), nn.Linear(6 * 4 * 3, 5))
    with FlopCounterMode(display=False) as counter:
        model(torch.randn(1, 4, 10, 10))
    macs = arch.count_macs(model, (4, 10, 10))
    assert macs == 8 * 100 * 1 * 9 + 6 * 12 * 4 * 15 + 72 * 5
    assert counter.get_total_flops() == 2 * macs
    for name in ("alexnet_small", "vgg_small", "plain20"):
        small = arch.build(name).eval()
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            small(torch.randn(1, *GREY))
        assert counter.get_total_flops() == 2 * arch.count_macs(small, GREY)


@pytest.mark.parametrize("shape", [(3, 224), (3, 224, 224, 1), (0, 28, 28), (1, 28.0, 28), (True, 28, 28),
                                   "1x28x28", None])
def test_bad_input_shape_raises(shape):
    model = arch.build("resnet20")
    with pytest.raises(ValueError, match=r"input_shape must be the shape of one image, \(channels"):
        arch.count_macs(model, shape)
    with pytest.raises(ValueError, match="input_shape must be"):
        arch.layer_table(model, shape)


def hook_keys(model):
    return [(list(m._forward_hooks), list(m._forward_pre_hooks)) for m in model.modules()]


@pytest.mark.parametrize("measure", [arch.count_macs, arch.layer_table])
def test_measuring_leaves_the_model_unchanged(measure):
    torch.manual_seed(0)
    model = arch.build("googlenet_small", batch_norm=True)
    model.train()
    model.features.inception3a.eval()  # a mixed state must survive too
    calls = []
    model.fc.register_forward_hook(lambda *args: calls.append(1))
    modes = [m.training for m in model.modules()]
    hooks = hook_keys(model)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    measure(model, GREY)
    assert [m.training for m in model.modules()] == modes
    assert hook_keys(model) == hooks
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    assert all(p.device.type == "cpu" for p in model.parameters())
    calls.clear()
    model(torch.randn(2, *GREY))
    assert calls == [1]  # the user's hook still fires once, and no other hook runs


def test_a_failing_forward_still_restores_the_model():
    model = on_meta("alexnet_2gpu").train()
    hooks = hook_keys(model)
    with pytest.raises(ValueError, match="needs 227×227 inputs"):
        arch.count_macs(model, RGB)
    assert all(m.training for m in model.modules()) and hook_keys(model) == hooks


def test_a_single_layer_model_is_named_after_its_class():
    rows = arch.layer_table(nn.Linear(3, 2), (1, 1, 3))
    assert rows == [LayerRow("Linear", "Linear", (1, 1, 2), 8, 6, 8)]


@pytest.mark.parametrize("name, shape", [("alexnet", RGB), ("googlenet", RGB), ("resnet50", RGB),
                                         ("vgg_small", GREY), ("resnet20", GREY), ("googlenet_small", GREY)])
def test_layer_table_adds_up(name, shape):
    model = on_meta(name)
    rows = arch.layer_table(model, shape)
    assert all(isinstance(row, LayerRow) for row in rows)
    assert sum(row.parameters for row in rows) == arch.count_parameters(model)
    assert sum(row.macs for row in rows) == arch.count_macs(model, shape)
    for row in rows:
        numel = 1
        for n in row.output_shape:
            numel *= n
        assert row.activation_bytes == 4 * numel


def test_layer_table_rows_in_order_with_shapes():
    rows = arch.layer_table(arch.build("alexnet_small"), GREY)
    assert [row.name for row in rows[:5]] == ["features.conv1", "features.relu1", "features.conv2",
                                              "features.relu2", "features.pool2"]
    first = rows[0]
    assert (first.type, first.output_shape, first.parameters, first.macs, first.activation_bytes) == \
        ("Conv2d", (32, 14, 14), 32 * 25 + 32, 32 * 14 * 14 * 25, 4 * 32 * 14 * 14)
    assert rows[-1] == LayerRow("classifier.fc8", "Linear", (10,), 5130, 5120, 40)


def test_reused_module_counts_its_parameters_once():
    relu, conv = nn.ReLU(), nn.Conv2d(2, 2, 3, padding=1)
    model = nn.Sequential(conv, relu, conv, relu)
    rows = arch.layer_table(model, (2, 5, 5))
    assert [row.parameters for row in rows] == [38, 0, 0, 0]
    assert [row.macs for row in rows] == [2 * 25 * 18, 0, 2 * 25 * 18, 0]


def test_format_table_aligns_and_totals():
    rows = arch.layer_table(arch.build("vgg_small"), GREY)
    text = arch.format_table(rows)
    lines = text.splitlines()
    assert lines[0].split() == ["layer", "type", "output", "parameters", "MACs", "activations", "(bytes)"]
    assert len(lines) == len(rows) + 4  # header, rule, rows, rule, total
    assert len({len(line) for line in lines}) == 1
    assert "features.conv1_1  Conv2d" in lines[2] and "32×28×28" in lines[2] and "320" in lines[2]
    total = lines[-1].split()
    assert total[0] == "total"
    assert total[1:] == [f"{arch.count_parameters(arch.build('vgg_small')):,}",
                         f"{sum(r.macs for r in rows):,}", f"{sum(r.activation_bytes for r in rows):,}"]
    assert "649,962" in lines[-1]
    assert len(arch.format_table(rows, total=False).splitlines()) == len(rows) + 2
