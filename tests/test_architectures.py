"""course_utils.architectures: names, arguments, parameter counts, structure, small models."""

import pytest
import torch
import torch.nn as nn

from course_utils import architectures as arch
from course_utils.architectures.alexnet import PAPER_INPUT_SIZE, paper_lrn
from course_utils.architectures.googlenet import GoogLeNetOutputs
from course_utils.architectures.resnet import BasicBlock, Bottleneck
from course_utils.architectures.resnet_small import SmallBlock, resnet_small

IMAGENET_NAMES = ["alexnet", "alexnet_2gpu", "vgg11", "vgg13", "vgg16", "vgg19", "googlenet",
                  "resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]
SMALL_NAMES = ["alexnet_small", "vgg_small", "googlenet_small", "resnet20", "resnet32", "resnet44",
               "resnet56", "plain20", "plain32", "plain44", "plain56"]


pytestmark = pytest.mark.usefixtures("one_thread")   # tests/conftest.py


def on_meta(name, **kwargs):
    """Build without allocating weights (enough for counting and shapes)."""
    with torch.device("meta"):
        return arch.build(name, **kwargs)


def n_params(model):
    return sum(p.numel() for p in model.parameters())


# --- names and arguments ---------------------------------------------------------------------

def test_names_lists_every_architecture():
    assert arch.names() == IMAGENET_NAMES + SMALL_NAMES
    assert arch.names("imagenet") == IMAGENET_NAMES
    assert arch.names("small") == SMALL_NAMES
    with pytest.raises(ValueError, match="size must be one of"):
        arch.names("medium")


def test_unknown_name_lists_the_names():
    with pytest.raises(ValueError, match="unknown architecture 'resnet19'") as error:
        arch.build("resnet19")
    assert "resnet18" in str(error.value) and "plain56" in str(error.value)
    with pytest.raises(ValueError, match="unknown architecture"):
        arch.build(None)


@pytest.mark.parametrize("argument", ["num_classes", "in_channels"])
@pytest.mark.parametrize("value", [0, -3, 2.5, True, "10"])
def test_bad_sizes_raise(argument, value):
    with pytest.raises(ValueError, match=f"{argument} must be a positive integer"):
        on_meta("resnet18", **{argument: value})


def test_unknown_option_lists_the_options():
    words = "vgg16 has no option 'batchnorm'; its options are: batch_norm, dropout"
    with pytest.raises(ValueError, match=words):
        on_meta("vgg16", batchnorm=True)
    with pytest.raises(ValueError, match="plain20 has no option 'shortcut'; its options are: width"):
        on_meta("plain20", shortcut="A")
    assert arch.options_of("resnet20") == {"shortcut": "A", "width": 16}
    assert arch.options_of("googlenet") == {"aux_logits": False, "branch5x5": 5, "batch_norm": False,
                                            "dropout": 0.4}


@pytest.mark.parametrize("name, options, words", [
    ("vgg16", {"batch_norm": "yes"}, "batch_norm must be True or False"),
    ("googlenet", {"branch5x5": 7}, "branch5x5 must be one of 5, 3"),
    ("alexnet", {"dropout": 1.5}, "dropout must be a probability"),
    ("resnet50", {"stride_in_1x1": 1}, "stride_in_1x1 must be True or False"),
    ("resnet20", {"shortcut": "C"}, "shortcut must be one of 'A', 'B', 'none'"),
    ("resnet20", {"shortcut": "none"}, "use plain_small"),
])
def test_bad_option_values_raise(name, options, words):
    with pytest.raises(ValueError, match=words):
        on_meta(name, **options)


@pytest.mark.parametrize("depth", [19, 2, 0, 21.0])
def test_small_resnet_depth_must_be_6n_plus_2(depth):
    with pytest.raises(ValueError, match="depth must be"):
        resnet_small(depth)


def test_defaults_differ_by_size():
    imagenet, small = on_meta("resnet18"), on_meta("resnet20")
    assert (imagenet.fc.out_features, imagenet.conv1.in_channels) == (1000, 3)
    assert (small.fc.out_features, small.conv1.in_channels) == (10, 1)
    model = on_meta("vgg16", num_classes=7, in_channels=1)
    assert model.features.conv1_1.in_channels == 1 and model.classifier.fc8.out_features == 7


# --- parameter counts: published, and hand formulas ------------------------------------------

PUBLISHED = {  # torchvision's model zoo (num_params), equal to the papers' networks
    "alexnet": 61_100_840, "vgg11": 132_863_336, "vgg13": 133_047_848, "vgg16": 138_357_544,
    "vgg19": 143_667_240, "resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032,
    "resnet101": 44_549_160, "resnet152": 60_192_808,
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_parameter_counts_equal_published(name):
    assert arch.count_parameters(on_meta(name)) == PUBLISHED[name]


@pytest.mark.parametrize("name, count", [("vgg11", 132_868_840), ("vgg13", 133_053_736),
                                         ("vgg16", 138_365_992), ("vgg19", 143_678_248)])
def test_vgg_batch_norm_counts_equal_torchvision(name, count):
    assert n_params(on_meta(name, batch_norm=True)) == count


def test_resnet_stride_placement_changes_no_count():
    assert n_params(on_meta("resnet50", stride_in_1x1=True)) == PUBLISHED["resnet50"]


def conv(c_in, c_out, k, groups=1, bias=True):
    return c_out * (c_in // groups) * k * k + (c_out if bias else 0)


def linear(n_in, n_out):
    return n_in * n_out + n_out


def test_alexnet_2gpu_count_by_hand():
    by_hand = (conv(3, 96, 11) + conv(96, 256, 5, groups=2) + conv(256, 384, 3)
               + conv(384, 384, 3, groups=2) + conv(384, 256, 3, groups=2)
               + linear(256 * 6 * 6, 4096) + linear(4096, 4096) + linear(4096, 1000))
    assert by_hand == 60_965_224
    assert n_params(on_meta("alexnet_2gpu")) == by_hand


# Table 1 of Szegedy et al. 2015: input channels, #1×1, #3×3 reduce, #3×3, #5×5 reduce, #5×5, pool proj
TABLE1 = {"3a": (192, 64, 96, 128, 16, 32, 32), "3b": (256, 128, 128, 192, 32, 96, 64),
          "4a": (480, 192, 96, 208, 16, 48, 64), "4b": (512, 160, 112, 224, 24, 64, 64),
          "4c": (512, 128, 128, 256, 24, 64, 64), "4d": (512, 112, 144, 288, 32, 64, 64),
          "4e": (528, 256, 160, 320, 32, 128, 128), "5a": (832, 256, 160, 320, 32, 128, 128),
          "5b": (832, 384, 192, 384, 48, 128, 128)}


def googlenet_by_hand(k5=5, batch_norm=False, aux=False):
    """GoogLeNet's parameters from Table 1's columns; BN adds 2 per channel and removes the bias."""
    def unit(c_in, c_out, k):
        return conv(c_in, c_out, k, bias=not batch_norm) + (2 * c_out if batch_norm else 0)

    total = unit(3, 64, 7) + unit(64, 64, 1) + unit(64, 192, 3) + linear(1024, 1000)
    for c, n1, r3, n3, r5, n5, proj in TABLE1.values():
        total += unit(c, n1, 1) + unit(c, r3, 1) + unit(r3, n3, 3) + unit(c, r5, 1) + unit(r5, n5, k5)
        total += unit(c, proj, 1)
    if aux:
        total += sum(unit(c, 128, 1) + linear(2048, 1024) + linear(1024, 1000) for c in (512, 528))
    return total


def test_googlenet_paper_count_by_hand():
    assert googlenet_by_hand() == 6_998_552
    assert n_params(on_meta("googlenet")) == googlenet_by_hand()
    # Table 1's "params" column, in K = 1024 weights, adds up to about 6.8 M (see the docstring)
    table_params_k = [2.7, 112, 159, 380, 364, 437, 463, 580, 840, 1072, 1388, 1000]
    assert round(sum(table_params_k), 1) == 6797.7


@pytest.mark.parametrize("options, count", [
    ({"branch5x5": 3, "batch_norm": True}, 6_624_904),
    ({"branch5x5": 3, "batch_norm": True, "aux_logits": True}, 13_004_888),
])
def test_googlenet_torchvision_counts(options, count):
    by_hand = googlenet_by_hand(3, True, options.get("aux_logits", False))
    assert by_hand == count
    assert n_params(on_meta("googlenet", **options)) == count


def test_googlenet_options_by_hand():
    for k5 in (5, 3):
        for bn in (False, True):
            for aux in (False, True):
                model = on_meta("googlenet", branch5x5=k5, batch_norm=bn, aux_logits=aux)
                assert n_params(model) == googlenet_by_hand(k5, bn, aux), (k5, bn, aux)


def small_resnet_by_hand(depth, in_channels=1, num_classes=10):
    """CIFAR ResNet with option A (or its plain twin): convs without bias, BN 2 per channel."""
    n = (depth - 2) // 6

    def conv_bn(c_in, c_out):
        return conv(c_in, c_out, 3, bias=False) + 2 * c_out

    total, channels = conv_bn(in_channels, 16), 16
    for width in (16, 32, 64):
        for _ in range(n):
            total += conv_bn(channels, width) + conv_bn(width, width)
            channels = width
    return total + linear(64, num_classes)


@pytest.mark.parametrize("depth", [20, 32, 44, 56])
def test_small_resnet_and_plain_counts_by_hand(depth):
    assert n_params(on_meta(f"resnet{depth}")) == small_resnet_by_hand(depth)
    assert n_params(on_meta(f"plain{depth}")) == small_resnet_by_hand(depth)
    assert n_params(on_meta(f"resnet{depth}")) < 1_000_000


def test_small_resnet110_is_the_one_above_1m():
    assert n_params(resnet_small(110)) == small_resnet_by_hand(110) > 1_000_000


def test_small_resnet20_on_rgb_has_the_papers_027m():
    assert small_resnet_by_hand(20, 3) == 269_722 == n_params(resnet_small(20, in_channels=3))


def test_option_b_adds_projections():
    extra = 16 * 32 + 2 * 32 + 32 * 64 + 2 * 64  # two 1×1 convs with BN
    assert n_params(on_meta("resnet20", shortcut="B")) == small_resnet_by_hand(20) + extra


@pytest.mark.parametrize("name, count", [("alexnet_small", 612_490), ("vgg_small", 649_962),
                                         ("googlenet_small", 330_990)])
def test_small_models_counts_stated_in_docstrings(name, count):
    assert n_params(on_meta(name)) == count < 1_000_000


# --- structure ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", IMAGENET_NAMES)
def test_imagenet_forward_shapes(name):
    model = on_meta(name, num_classes=17).eval()
    size = PAPER_INPUT_SIZE if name == "alexnet_2gpu" else 224
    assert model(torch.zeros(2, 3, size, size, device="meta")).shape == (2, 17)


def test_alexnet_2gpu_rejects_224_inputs():
    model = on_meta("alexnet_2gpu")
    with pytest.raises(ValueError, match="needs 227×227 inputs.*got 224×224"):
        model(torch.zeros(1, 3, 224, 224, device="meta"))


@pytest.fixture(scope="module")
def alexnet_2gpu():
    torch.manual_seed(0)
    return arch.build("alexnet_2gpu")


def test_alexnet_2gpu_towers_do_not_mix_in_grouped_layers(alexnet_2gpu):
    """conv2's first 128 maps see only conv1's first 48 maps (one GPU), and so on."""
    conv2 = alexnet_2gpu.features.conv2
    x = torch.randn(1, 96, 9, 9)
    y = conv2(x)
    x_other_tower = x.clone()
    x_other_tower[:, 48:] = torch.randn(1, 48, 9, 9)
    y2 = conv2(x_other_tower)
    assert torch.equal(y[:, :128], y2[:, :128]) and not torch.allclose(y[:, 128:], y2[:, 128:])


def test_alexnet_2gpu_paper_initialisation(alexnet_2gpu):
    f, c = alexnet_2gpu.features, alexnet_2gpu.classifier
    assert all(torch.all(m.bias == 1) for m in (f.conv2, f.conv4, f.conv5, c.fc6, c.fc7))
    assert all(torch.all(m.bias == 0) for m in (f.conv1, f.conv3, c.fc8))
    assert abs(c.fc6.weight.std().item() - 0.01) < 1e-4


def test_paper_lrn_is_the_papers_formula():
    """b = a / (k + alpha * sum over 5 neighbouring channels of a^2) ** beta, alpha 1e-4, k 2."""
    torch.manual_seed(0)
    a = torch.randn(2, 7, 3, 3, dtype=torch.float64) * 30
    squares = a ** 2
    sums = torch.stack([squares[:, max(0, i - 2):i + 3].sum(1) for i in range(7)], dim=1)
    expected = a / (2 + 1e-4 * sums) ** 0.75
    assert torch.allclose(paper_lrn()(a), expected, rtol=1e-12, atol=0)


def test_vgg_has_the_papers_conv_counts():
    for name, convs in (("vgg11", 8), ("vgg13", 10), ("vgg16", 13), ("vgg19", 16)):
        model = on_meta(name)
        assert sum(isinstance(m, nn.Conv2d) for m in model.modules()) == convs
        kernels = {m.kernel_size for m in model.modules() if isinstance(m, nn.Conv2d)}
        assert kernels == {(3, 3)}


def test_googlenet_branch5x5_option():
    def kernel(model):
        return model.inception3a.branch3.conv.conv.kernel_size

    assert kernel(on_meta("googlenet")) == (5, 5)
    assert kernel(on_meta("googlenet", branch5x5=3)) == (3, 3)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in on_meta("googlenet").modules())
    with_bn = on_meta("googlenet", batch_norm=True)
    assert not any(isinstance(m, nn.LocalResponseNorm) for m in with_bn.modules())


def test_googlenet_aux_outputs_only_in_training():
    model = on_meta("googlenet", aux_logits=True, num_classes=5)
    x = torch.zeros(2, 3, 224, 224, device="meta")
    out = model.train()(x)
    assert isinstance(out, GoogLeNetOutputs) and [t.shape for t in out] == [(2, 5)] * 3
    assert model.eval()(x).shape == (2, 5)
    assert on_meta("googlenet").train()(x).shape == (2, 1000)


def strides(block):
    return [m.stride for m in (block.conv1, block.conv2)]


def test_resnet_stride_on_3x3_v1_5_or_on_1x1():
    v15, v1 = on_meta("resnet50").layer2[0], on_meta("resnet50", stride_in_1x1=True).layer2[0]
    assert isinstance(v15, Bottleneck)
    assert strides(v15) == [(1, 1), (2, 2)] and strides(v1) == [(2, 2), (1, 1)]
    assert v15.downsample[0].stride == (2, 2) and v15.downsample[0].kernel_size == (1, 1)
    assert strides(on_meta("resnet18").layer2[0]) == [(2, 2), (1, 1)]


def test_resnet_projection_shortcuts_only_where_shape_changes():
    model = on_meta("resnet18")
    with_projection = [name for name, m in model.named_modules()
                       if isinstance(m, BasicBlock) and m.downsample is not None]
    assert with_projection == ["layer2.0", "layer3.0", "layer4.0"]
    assert on_meta("resnet50").layer1[0].downsample is not None  # 64 -> 256 channels


def test_resnet_zero_init_residual_starts_blocks_at_identity():
    model = arch.build("resnet18", zero_init_residual=True).eval()
    block = model.layer1[0]
    x = torch.rand(1, 64, 8, 8)
    assert torch.equal(block(x), torch.relu(x))


# --- the small models ---------------------------------------------------------------------

@pytest.mark.parametrize("name", ["alexnet_small", "vgg_small", "googlenet_small", "resnet20", "plain20"])
def test_small_models_forward_and_backward(name):
    torch.manual_seed(0)
    model = arch.build(name)
    logits = model(torch.randn(2, 1, 28, 28))
    assert logits.shape == (2, 10)
    nn.functional.cross_entropy(logits, torch.tensor([0, 1])).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


@pytest.mark.parametrize("name", SMALL_NAMES)
def test_small_models_output_shape(name):
    assert on_meta(name).eval()(torch.zeros(3, 1, 28, 28, device="meta")).shape == (3, 10)


@pytest.mark.parametrize("name", ["vgg_small", "googlenet_small", "alexnet_small"])
def test_small_models_options(name):
    options = {"alexnet_small": {"dropout": 0.2}, "vgg_small": {"batch_norm": True},
               "googlenet_small": {"batch_norm": True, "branch5x5": 3}}[name]
    model = arch.build(name, num_classes=3, in_channels=2, **options)
    assert model(torch.randn(2, 2, 28, 28)).shape == (2, 3)


def test_small_resnet_stages_give_28_14_7():
    model = arch.build("resnet20")
    sizes = []
    x = model.relu(model.bn1(model.conv1(torch.zeros(1, 1, 28, 28))))
    for stage in (model.stage1, model.stage2, model.stage3):
        x = stage(x)
        sizes.append(tuple(x.shape[1:]))
    assert sizes == [(16, 28, 28), (32, 14, 14), (64, 7, 7)]


def twin_blocks(stride, c_in, c_out):
    """A ResNet block (option A) and a plain block with the same weights, in eval mode, float64."""
    torch.manual_seed(0)
    res = SmallBlock(c_in, c_out, stride, shortcut="A").double()
    plain = SmallBlock(c_in, c_out, stride, shortcut="none").double()
    for bn in (res.bn1, res.bn2):  # non-trivial running statistics
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
    plain.load_state_dict(res.state_dict())
    return res.eval(), plain.eval()


@pytest.mark.parametrize("stride, c_in, c_out", [(1, 16, 16), (2, 16, 32)])
def test_resnet_and_plain_blocks_differ_only_by_the_shortcut(stride, c_in, c_out):
    res, plain = twin_blocks(stride, c_in, c_out)
    x = torch.randn(2, c_in, 6, 6, dtype=torch.float64)
    assert torch.equal(res.residual(x), plain.residual(x))
    assert torch.allclose(res(x), torch.relu(plain.residual(x) + res.shortcut(x)), rtol=0, atol=1e-12)
    assert torch.allclose(plain(x), torch.relu(plain.residual(x)), rtol=0, atol=1e-12)
    if stride == 2:  # option A: every other pixel, zeros in the new channels
        shortcut = res.shortcut(x)
        assert torch.equal(shortcut[:, :c_in], x[:, :, ::2, ::2]) and not shortcut[:, c_in:].any()


def test_resnet_and_plain_networks_share_every_parameter_name():
    res, plain = arch.build("resnet20"), arch.build("plain20")
    assert [(k, v.shape) for k, v in res.state_dict().items()] == \
        [(k, v.shape) for k, v in plain.state_dict().items()]


@pytest.mark.parametrize("block", ["small", "basic", "bottleneck"])
def test_identity_block_jacobian_is_dF_dx_plus_identity(block):
    """y = relu(F(x) + x): dy/dx = diag(relu'(F(x) + x)) (dF/dx + I), by autograd."""
    torch.manual_seed(0)
    if block == "small":
        b, c = twin_blocks(1, 4, 4)[0], 4
    elif block == "basic":
        b, c = BasicBlock(4, 4).double().eval(), 4
    else:
        b, c = Bottleneck(8, 2).double().eval(), 8
    assert b.downsample is None
    x = torch.randn(1, c, 3, 3, dtype=torch.float64)
    n = x.numel()
    jac_y = torch.autograd.functional.jacobian(b, x, vectorize=True).reshape(n, n)
    jac_f = torch.autograd.functional.jacobian(b.residual, x, vectorize=True).reshape(n, n)
    gate = ((b.residual(x) + x) > 0).double().reshape(n)
    assert torch.allclose(jac_y, gate[:, None] * (jac_f + torch.eye(n, dtype=torch.float64)),
                          rtol=0, atol=1e-12)
    assert 0 < gate.sum() < n  # the ReLU gate is neither all open nor all shut
