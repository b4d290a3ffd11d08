"""Network descriptions: one place says what layers, heads and sizes a network has.

The checker validates stage ranges and heads against these; the torch builders and the
cost model read the same description. Users add networks with :func:`register_network`.
"""
from __future__ import annotations

import dataclasses
import re

from dataclasses import dataclass, field
from typing import Callable, Iterable

from cwdsl.core.errors import InputError, did_you_mean


@dataclass(frozen=True)
class Layer:
    """One named layer of the trunk, in execution order.

    ``kind`` is ``"conv"`` (convolution + ReLU), ``"pool"`` (max pooling, ceil mode) or
    ``"module"`` (an opaque user module).

    The trunk is a DAG: ``inputs`` names what the layer reads, earlier layers and/or
    :data:`IMAGE` (the normalised frame), in the order its module takes them; ``()`` (the
    default) reads the layer before it, or the image for the first layer.
    """

    name: str
    kind: str
    out_channels: int | None = None
    kernel: int = 1
    stride: int = 1
    padding: int = 0
    inputs: tuple[str, ...] = ()


IMAGE = "image"
"""What a :class:`Layer` names in ``inputs`` to read the network's (normalised) input."""


HEAD_KINDS = ("scores", "features")


@dataclass(frozen=True)
class Head:
    """A head reading the output of trunk layer ``reads``.

    ``kind`` is ``"scores"`` (class scores, one channel per class: a label difference may
    compare its argmax) or ``"features"`` (a feature map only the fuse understands).
    ``input_scale`` multiplies the layer's output before the head (FCN8sAtOnce scales
    pool4 by 0.01 and pool3 by 0.0001; 1 for every other network).
    """

    name: str
    reads: str
    kind: str = "scores"
    input_scale: float = 1.0

    def __post_init__(self):
        if self.kind not in HEAD_KINDS:
            raise ValueError(f"head {self.name}: kind {self.kind!r} is not one of "
                             f"{', '.join(HEAD_KINDS)}")


@dataclass(frozen=True)
class InputNorm:
    """How an RGB frame with values in [0, 1] becomes the network's input:
    reorder channels, multiply by ``scale``, subtract ``mean``, divide by ``std``, then
    divide by ``then_divide`` (ESPNet's ``(x - mean) / std / 255``; 1 skips the step)."""

    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    scale: float = 1.0
    channel_order: str = "RGB"
    then_divide: float = 1.0


CAFFE_VGG_NORM = InputNorm(mean=(104.00698793, 116.66876762, 122.67891434), std=(1.0, 1.0, 1.0),
                           scale=255.0, channel_order="BGR")
"""The Caffe FCN models' input: BGR, 0..255, mean-subtracted."""


@dataclass(frozen=True)
class NetworkSpec:
    """A still-image segmentation network as a trunk (a DAG of named layers, in execution
    order) plus heads.

    ``builder`` (optional) makes the torch module; it is filled in by the networks module
    so that this description stays importable without torch.

    ``norm`` is how frames become the network's input; running a network needs it (None:
    not stated, refused when the network is built). ``side_multiple``: frame sides must be
    multiples of it (:meth:`check_input`); ``default_input`` is the recommended run size.
    ``score_channels``: channels of a ``"scores"`` head when it has more than
    ``num_classes`` (ESPNet's void logit; the fuse still gives ``num_classes``).
    ``key_map``: ``(regex, replacement)`` rules renaming a foreign checkpoint's keys to this
    network's state-dict keys (first full match wins; keys no rule matches stay as they are),
    applied by :func:`cwdsl.nets.weights.load_weights`. ``weights_hint``: where its trained
    weights come from, for the error when none are given.
    """

    name: str
    layers: tuple[Layer, ...]
    heads: tuple[Head, ...]
    num_classes: int
    default_input: tuple[int, int]
    in_channels: int = 3
    description: str = ""
    builder: Callable | None = field(default=None, compare=False, repr=False)
    norm: InputNorm | None = None
    class_names: tuple[str, ...] = ()  # one per class, for legends; () when unknown
    side_multiple: int = 1
    score_channels: int | None = None
    key_map: tuple[tuple[str, str], ...] = ()
    weights_hint: str = ""

    def __post_init__(self):
        names = [layer.name for layer in self.layers]
        if len(set(names)) != len(names):
            raise ValueError(f"network {self.name}: duplicate layer names")
        if IMAGE in names:
            raise ValueError(f"network {self.name}: a layer may not be named {IMAGE!r} "
                             f"(the name of the network's input)")
        for i, layer in enumerate(self.layers):
            for read in layer.inputs:
                if read != IMAGE and read not in names[:i]:
                    raise ValueError(f"network {self.name}: layer {layer.name} reads "
                                     f"{read!r}, which is not {IMAGE!r} or an earlier layer")
        if self.side_multiple < 1:
            raise ValueError(f"network {self.name}: side_multiple must be at least 1")
        if self.score_channels is not None and self.score_channels < self.num_classes:
            raise ValueError(f"network {self.name}: score_channels {self.score_channels} "
                             f"< num_classes {self.num_classes}")
        for rule in self.key_map:
            re.compile(rule[0])
        for head in self.heads:
            if head.reads not in names:
                raise ValueError(f"network {self.name}: head {head.name} reads unknown "
                                 f"layer {head.reads}")
        if self.class_names and len(self.class_names) != self.num_classes:
            raise ValueError(f"network {self.name}: {len(self.class_names)} class names for "
                             f"{self.num_classes} classes")

    def class_name(self, index: int) -> str:
        """Class ``index``'s name (``"class N"`` when the description has none)."""
        return self.class_names[index] if self.class_names else f"class {index}"

    @property
    def layer_names(self) -> tuple[str, ...]:
        return tuple(layer.name for layer in self.layers)

    @property
    def head_channels(self) -> int:
        """Channels of a ``"scores"`` head (``score_channels``, else ``num_classes``)."""
        return self.score_channels or self.num_classes

    def layer_inputs(self, name: str) -> tuple[str, ...]:
        """What layer ``name`` reads, resolved: its ``inputs``, or the layer before it (the
        image for the first layer)."""
        i = self.layer_index(name)
        stated = self.layers[i].inputs
        return stated if stated else ((self.layers[i - 1].name,) if i else (IMAGE,))

    def nearest_valid(self, input_hw) -> tuple[int, int]:
        """The input size nearest ``input_hw`` that meets the side rule (each side rounded to
        the nearest multiple of ``side_multiple``, halves up, at least one multiple)."""
        m = self.side_multiple
        return tuple(max(m, (int(n) + m // 2) // m * m) for n in input_hw)

    def check_input(self, input_hw, what: str = "frame") -> None:
        """An ``InputError`` unless an input of ``input_hw`` = (h, w) meets the network's
        side rule, e.g. ``frame 180x250: network espnet needs sides divisible by 8``; it
        suggests :meth:`nearest_valid` and names the training size."""
        h, w = (int(n) for n in input_hw)
        m = self.side_multiple
        if m > 1 and (h % m or w % m):
            near = self.nearest_valid((h, w))
            raise InputError(f"{what} {h}x{w}: network {self.name} needs sides divisible by "
                             f"{m}: the nearest such size is --size {near[0]}x{near[1]} (it "
                             f"was trained at {self.default_input[0]}x"
                             f"{self.default_input[1]})")

    def layer_index(self, name: str) -> int:
        return self.layer_names.index(name)

    def head(self, name: str) -> Head | None:
        return next((h for h in self.heads if h.name == name), None)

    def deepest_head(self, heads: Iterable[str]) -> str:
        """Of ``heads``, the one reading the deepest layer (a stage's label difference
        compares its argmax)."""
        return max(heads, key=lambda h: self.layer_index(self.head(h).reads))

    def deepest_read(self, heads: "Iterable[str] | None" = None) -> str:
        """The deepest trunk layer that ``heads`` (default: every head) read: where a
        stage computing those heads, or the whole network, must run to."""
        names = self.layer_names
        chosen = [h.name for h in self.heads] if heads is None else list(heads)
        return max((self.head(h).reads for h in chosen), key=names.index)

    def head_segments(self) -> list[tuple[str, str, tuple[str, ...]]]:
        """The trunk cut after every layer a head reads (see :func:`head_segments`)."""
        return head_segments(self.layer_names, {h.name: h.reads for h in self.heads})


def head_segments(layer_names, head_reads) -> list[tuple[str, str, tuple[str, ...]]]:
    """``(first, last, heads)`` runs of ``layer_names`` cut after every layer a head reads,
    plus a head-less tail if layers follow the deepest head. For FCN-8s: the paper's stages."""
    names = list(layer_names)
    by_layer: dict[int, list[str]] = {}
    for head, reads in head_reads.items():
        by_layer.setdefault(names.index(reads), []).append(head)
    out, start = [], 0
    for end in sorted(by_layer):
        out.append((names[start], names[end], tuple(by_layer[end])))
        start = end + 1
    if start < len(names):
        out.append((names[start], names[-1], ()))
    return out


def _vgg_fcn(name: str, widths: tuple[int, int, int, int, int], fc: int, description: str,
             default_input: tuple[int, int], class_names: tuple[str, ...],
             norm: InputNorm) -> NetworkSpec:
    """The FCN-8s trunk (VGG16: five conv blocks, fc6 as 7x7 conv, fc7 as 1x1 conv)."""
    layers: list[Layer] = []
    depth = (2, 2, 3, 3, 3)
    for block, (w, n) in enumerate(zip(widths, depth), start=1):
        for i in range(1, n + 1):
            pad = 100 if (block, i) == (1, 1) else 1  # conv1_1 pads 100: output covers any input
            layers.append(Layer(f"conv{block}_{i}", "conv", w, kernel=3, padding=pad))
        layers.append(Layer(f"pool{block}", "pool", w, kernel=2, stride=2))
    layers.append(Layer("fc6", "conv", fc, kernel=7))
    layers.append(Layer("fc7", "conv", fc, kernel=1))
    heads = (Head("score_pool3", "pool3"), Head("score_pool4", "pool4"), Head("score_fr", "fc7"))
    return NetworkSpec(name, tuple(layers), heads, len(class_names), default_input,
                       description=description, norm=norm, class_names=class_names)


VOC_CLASSES = ("background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car",
               "cat", "chair", "cow", "diningtable", "dog", "horse", "motorbike", "person",
               "pottedplant", "sheep", "sofa", "train", "tvmonitor")
"""PASCAL VOC's 21 classes, in label order (fcn8s)."""
CAMVID_CLASSES = ("Sky", "Building", "Pole", "Road", "Pavement", "Tree", "SignSymbol", "Fence",
                  "Car", "Pedestrian", "Bicyclist")
"""CamVid's 11 classes, in label order (fcn8s_camvid; 11 is void)."""
DEMO_CLASSES = ("background", "disc", "square", "triangle", "cross", "ring")
"""The generated demo's classes (tiny): an object's class is its shape; cwdsl.demo draws
them in this order (a test checks that it agrees)."""


FCN8S = _vgg_fcn("fcn8s", (64, 128, 256, 512, 512), 4096,
                 "FCN-8s (Long et al.), VGG16 trunk, PASCAL VOC's 21 classes",
                 default_input=(500, 500), class_names=VOC_CLASSES, norm=CAFFE_VGG_NORM)
TINY = _vgg_fcn("tiny", (4, 8, 16, 32, 64), 128,
                "FCN-8s topology and layer names with few channels; quick on a CPU",
                default_input=(128, 128), class_names=DEMO_CLASSES,
                norm=InputNorm(mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25)))

FCN8S_ATONCE = dataclasses.replace(
    FCN8S, name="fcn8s_atonce",
    heads=(Head("score_pool3", "pool3", input_scale=0.0001),
           Head("score_pool4", "pool4", input_scale=0.01), Head("score_fr", "fc7")),
    description="FCN-8s trained all at once (wkentaro/pytorch-fcn FCN8sAtOnce, Caffe "
                "voc-fcn8s-atonce): FCN-8s with pool4 scaled by 0.01 and pool3 by 0.0001 "
                "before their score heads; the same state-dict keys as fcn8s")
"""FCN8sAtOnce's state dicts have fcn8s's keys and shapes; loaded into fcn8s they give wrong
outputs without a word, so they load here (and fcn8s refuses them: FCN.weights_problem)."""

FCN8S_CAMVID = _vgg_fcn("fcn8s_camvid", (8, 16, 32, 64, 128), 256,
                        "FCN-8s topology and layer names, 1/8 of VGG16's channels, CamVid's "
                        "11 classes; bundled weights trained on CamVid on a CPU",
                        default_input=(180, 240), class_names=CAMVID_CLASSES,
                        norm=InputNorm(mean=(0.4, 0.4, 0.4), std=(0.3, 0.3, 0.3)))

ESPNET_NORM = InputNorm(mean=(110.331, 108.409, 105.033), std=(72.126, 72.691, 69.904),
                       scale=255.0, channel_order="BGR", then_divide=255.0)
"""ESPNet's CamVid input (upstream test/VisualizeResults.py): BGR 0..255, ``(x - mean) / std``,
then ``/ 255``; the statistics of the 367 CamVid training images in BGR."""


def espnet_spec(p: int, q: int) -> NetworkSpec:
    """ESPNet (Mehta et al., ECCV 2018) with ``p`` and ``q`` ESP blocks at 1/4 and 1/8, as a
    DAG trunk: each level ends in a concatenation with the image pooled to its scale (``b1``,
    ``b2``) or with its down-sampler's output (``b3``); the RUM decoder is the fuse."""
    esp2 = tuple(f"esp2_{i}" for i in range(p))
    esp3 = tuple(f"esp3_{i}" for i in range(q))
    layers = (Layer("level1", "module"), Layer("b1", "module", inputs=("level1", IMAGE)),
              Layer("level2_0", "module"), *(Layer(n, "module") for n in esp2),
              Layer("b2", "module", inputs=(esp2[-1], "level2_0", IMAGE)),
              Layer("level3_0", "module"), *(Layer(n, "module") for n in esp3),
              Layer("b3", "module", inputs=("level3_0", esp3[-1])))
    heads = (Head("feat_l1", "b1", kind="features"), Head("level3_C", "b2"),
             Head("score_l3", "b3"))
    key_map = ((r"encoder\.level([23])\.(\d+)\.(.*)", r"layers.esp\1_\2.\3"),
               (r"encoder\.classifier\.(.*)", r"heads.score_l3.classifier.\1"),
               (r"encoder\.(.*)", r"layers.\1"),
               (r"level3_C\.(.*)", r"heads.level3_C.\1"),
               (r"br\.(.*)", r"heads.score_l3.br.\1"),
               (r"((?:up_l3|combine_l2_l3|up_l2|conv|classifier)\..*)", r"fuse_module.\1"))
    return NetworkSpec(
        "espnet", layers, heads, len(CAMVID_CLASSES), (360, 480), description=(
            f"ESPNet (p={p}, q={q}) for CamVid's 11 classes; the released checkpoint "
            f"(sacmehta/ESPNet espnet_p_{p}_q_{q}_camvid.pth) loads as it is"),
        norm=ESPNET_NORM, class_names=CAMVID_CLASSES, side_multiple=8,
        score_channels=len(CAMVID_CLASSES) + 1, key_map=key_map,
        weights_hint=f"the released checkpoint espnet_p_{p}_q_{q}_camvid.pth of "
                     f"sacmehta/ESPNet (pretrained/decoder/)")


ESPNET = espnet_spec(2, 8)
"""ESPNet p=2, q=8, CamVid: 12 logits, the 12th (index 11) void; the fuse drops it.
``level3_C`` (1/4) and ``score_l3`` (1/8) are the decoder's 12-channel class-space maps
(``"scores"``: a label difference may read them), but the released weights do not align
their channels with CamVid's classes (their upsampled argmax scores 2-3 mean IU, the fused
output 61): their label changes measure how much the content moved, not class labels."""

_REGISTRY: dict[str, NetworkSpec] = {}


def register_network(spec: NetworkSpec, *, replace: bool = False) -> NetworkSpec:
    """Make ``spec`` usable as ``network NAME`` in schedules. Returns the spec."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", spec.name):
        raise ValueError(f"network name {spec.name!r} cannot be written in a schedule: use "
                         f"letters, digits and '_' (not first a digit)")
    if spec.name in _REGISTRY and not replace:
        raise ValueError(f"a network named {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec
    return spec


def get_network(name: str, option: str | None = None) -> NetworkSpec:
    """The registered network ``name``; an ``InputError`` naming the choices otherwise,
    prefixed with ``option`` (e.g. ``"--net"``) when the name came from the command line."""
    try:
        return _REGISTRY[name]
    except KeyError:
        where = f"{option}: " if option else ""
        raise InputError(f"{where}unknown network '{name}'; known: "
                         f"{', '.join(sorted(_REGISTRY))}{did_you_mean(name, _REGISTRY)}") from None


def network_names() -> tuple[str, ...]:
    return tuple(sorted(_REGISTRY))


def find_network(name: str) -> NetworkSpec | None:
    return _REGISTRY.get(name)


register_network(FCN8S)
register_network(FCN8S_ATONCE)
register_network(TINY)
register_network(FCN8S_CAMVID)
register_network(ESPNET)
