"""ESPNet staged as encoder levels + decoder fuse: bit-identical to the reference model.

``Ref*`` below transcribe sacmehta/ESPNet ``train/Model.py`` (classes CBR, BR, C, CDilated,
DownSamplerB, DilatedParllelResidualBlockB, InputProjectionA, ESPNet_Encoder, ESPNet) as
they are, forward passes included, so the staged network is checked against the original
computation, not against itself.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from cwdsl.core.errors import InputError
from cwdsl.core.netspec import ESPNET, get_network
from cwdsl.ir.graph import compile_text
from cwdsl.nets import Features, build_network, count_macs
from cwdsl.nets.bundled import resolve_weights
from cwdsl.nets.preprocess import normalize
from cwdsl.nets.weights import load_weights
from cwdsl.runtime.deadline import StageTimes
from cwdsl.runtime.executor import Executor

ROOT = Path(__file__).resolve().parents[1]
CHECKPOINT = ROOT.parent / "shared" / "weights" / "espnet" / "espnet_p_2_q_8_camvid.pth"
SCHEDULES = sorted((ROOT / "schedules" / "espnet").glob("*.cw"))


# --- the reference model, transcribed (upstream's repetition kept: DownSamplerB and -----
# DilatedParllelResidualBlockB repeat their branch sums there, and a reference copies it) ---
class RefCBR(nn.Module):
    def __init__(self, nIn, nOut, kSize, stride=1):
        super().__init__()
        padding = int((kSize - 1) / 2)
        self.conv = nn.Conv2d(nIn, nOut, (kSize, kSize), stride=stride,
                              padding=(padding, padding), bias=False)
        self.bn = nn.BatchNorm2d(nOut, eps=1e-03)
        self.act = nn.PReLU(nOut)

    def forward(self, input):
        return self.act(self.bn(self.conv(input)))


class RefBR(nn.Module):
    def __init__(self, nOut):
        super().__init__()
        self.bn = nn.BatchNorm2d(nOut, eps=1e-03)
        self.act = nn.PReLU(nOut)

    def forward(self, input):
        return self.act(self.bn(input))


class RefC(nn.Module):
    def __init__(self, nIn, nOut, kSize, stride=1):
        super().__init__()
        padding = int((kSize - 1) / 2)
        self.conv = nn.Conv2d(nIn, nOut, (kSize, kSize), stride=stride,
                              padding=(padding, padding), bias=False)

    def forward(self, input):
        return self.conv(input)


class RefCDilated(nn.Module):
    def __init__(self, nIn, nOut, kSize, stride=1, d=1):
        super().__init__()
        padding = int((kSize - 1) / 2) * d
        self.conv = nn.Conv2d(nIn, nOut, (kSize, kSize), stride=stride,
                              padding=(padding, padding), bias=False, dilation=d)

    def forward(self, input):
        return self.conv(input)


class RefDownSamplerB(nn.Module):
    def __init__(self, nIn, nOut):
        super().__init__()
        n = int(nOut / 5)
        n1 = nOut - 4 * n
        self.c1 = RefC(nIn, n, 3, 2)
        self.d1 = RefCDilated(n, n1, 3, 1, 1)
        self.d2 = RefCDilated(n, n, 3, 1, 2)
        self.d4 = RefCDilated(n, n, 3, 1, 4)
        self.d8 = RefCDilated(n, n, 3, 1, 8)
        self.d16 = RefCDilated(n, n, 3, 1, 16)
        self.bn = nn.BatchNorm2d(nOut, eps=1e-3)
        self.act = nn.PReLU(nOut)

    def forward(self, input):
        output1 = self.c1(input)
        d1 = self.d1(output1)
        d2 = self.d2(output1)
        d4 = self.d4(output1)
        d8 = self.d8(output1)
        d16 = self.d16(output1)
        add1 = d2
        add2 = add1 + d4
        add3 = add2 + d8
        add4 = add3 + d16
        combine = torch.cat([d1, add1, add2, add3, add4], 1)
        output = self.bn(combine)
        output = self.act(output)
        return output


class RefDilatedParllelResidualBlockB(nn.Module):
    def __init__(self, nIn, nOut, add=True):
        super().__init__()
        n = int(nOut / 5)
        n1 = nOut - 4 * n
        self.c1 = RefC(nIn, n, 1, 1)
        self.d1 = RefCDilated(n, n1, 3, 1, 1)
        self.d2 = RefCDilated(n, n, 3, 1, 2)
        self.d4 = RefCDilated(n, n, 3, 1, 4)
        self.d8 = RefCDilated(n, n, 3, 1, 8)
        self.d16 = RefCDilated(n, n, 3, 1, 16)
        self.bn = RefBR(nOut)
        self.add = add

    def forward(self, input):
        output1 = self.c1(input)
        d1 = self.d1(output1)
        d2 = self.d2(output1)
        d4 = self.d4(output1)
        d8 = self.d8(output1)
        d16 = self.d16(output1)
        add1 = d2
        add2 = add1 + d4
        add3 = add2 + d8
        add4 = add3 + d16
        combine = torch.cat([d1, add1, add2, add3, add4], 1)
        if self.add:
            combine = input + combine
        output = self.bn(combine)
        return output


class RefInputProjectionA(nn.Module):
    def __init__(self, samplingTimes):
        super().__init__()
        self.pool = nn.ModuleList()
        for i in range(0, samplingTimes):
            self.pool.append(nn.AvgPool2d(3, stride=2, padding=1))

    def forward(self, input):
        for pool in self.pool:
            input = pool(input)
        return input


class RefESPNet_Encoder(nn.Module):
    def __init__(self, classes=20, p=5, q=3):
        super().__init__()
        self.level1 = RefCBR(3, 16, 3, 2)
        self.sample1 = RefInputProjectionA(1)
        self.sample2 = RefInputProjectionA(2)
        self.b1 = RefBR(16 + 3)
        self.level2_0 = RefDownSamplerB(16 + 3, 64)
        self.level2 = nn.ModuleList()
        for i in range(0, p):
            self.level2.append(RefDilatedParllelResidualBlockB(64, 64))
        self.b2 = RefBR(128 + 3)
        self.level3_0 = RefDownSamplerB(128 + 3, 128)
        self.level3 = nn.ModuleList()
        for i in range(0, q):
            self.level3.append(RefDilatedParllelResidualBlockB(128, 128))
        self.b3 = RefBR(256)
        self.classifier = RefC(256, classes, 1, 1)


class RefESPNet(nn.Module):
    def __init__(self, classes=20, p=2, q=3):
        super().__init__()
        self.encoder = RefESPNet_Encoder(classes, p, q)
        self.modules = []
        for i, m in enumerate(self.encoder.children()):
            self.modules.append(m)
        self.level3_C = RefC(128 + 3, classes, 1, 1)
        self.br = nn.BatchNorm2d(classes, eps=1e-03)
        self.conv = RefCBR(19 + classes, classes, 3, 1)
        self.up_l3 = nn.Sequential(nn.ConvTranspose2d(classes, classes, 2, stride=2, padding=0,
                                                      output_padding=0, bias=False))
        self.combine_l2_l3 = nn.Sequential(RefBR(2 * classes),
                                           RefDilatedParllelResidualBlockB(2 * classes, classes,
                                                                           add=False))
        self.up_l2 = nn.Sequential(nn.ConvTranspose2d(classes, classes, 2, stride=2, padding=0,
                                                      output_padding=0, bias=False),
                                   RefBR(classes))
        self.classifier = nn.ConvTranspose2d(classes, classes, 2, stride=2, padding=0,
                                             output_padding=0, bias=False)

    def forward(self, input):
        output0 = self.modules[0](input)
        inp1 = self.modules[1](input)
        inp2 = self.modules[2](input)
        output0_cat = self.modules[3](torch.cat([output0, inp1], 1))
        output1_0 = self.modules[4](output0_cat)
        for i, layer in enumerate(self.modules[5]):
            if i == 0:
                output1 = layer(output1_0)
            else:
                output1 = layer(output1)
        output1_cat = self.modules[6](torch.cat([output1, output1_0, inp2], 1))
        output2_0 = self.modules[7](output1_cat)
        for i, layer in enumerate(self.modules[8]):
            if i == 0:
                output2 = layer(output2_0)
            else:
                output2 = layer(output2)
        output2_cat = self.modules[9](torch.cat([output2_0, output2], 1))
        output2_c = self.up_l3(self.br(self.modules[10](output2_cat)))
        output1_C = self.level3_C(output1_cat)
        comb_l2_l3 = self.up_l2(self.combine_l2_l3(torch.cat([output1_C, output2_c], 1)))
        concat_features = self.conv(torch.cat([comb_l2_l3, output0_cat], 1))
        classifier = self.classifier(concat_features)
        return classifier


# --- fixtures --------------------------------------------------------------------------
def _randomised_reference(seed: int = 0) -> RefESPNet:
    """The reference model with random weights *and* BatchNorm statistics and PReLU slopes
    (so every parameter matters), in eval mode."""
    torch.manual_seed(seed)
    ref = RefESPNet(12, 2, 8)
    with torch.no_grad():
        for name, tensor in ref.state_dict().items():
            if name.endswith("running_var"):
                tensor.uniform_(0.5, 2.0)
            elif tensor.is_floating_point():
                tensor.normal_(0, 0.3)
    return ref.eval()


@pytest.fixture(scope="module")
def random_pair(tmp_path_factory):
    """(reference, staged) with the same random weights, loaded through the key map from a
    file in the reference's own layout (keys ``encoder.level2.0.*``, ``level3_C.*``, …)."""
    ref = _randomised_reference()
    path = tmp_path_factory.mktemp("espnet") / "ref.pth"
    torch.save({k: v for k, v in ref.state_dict().items()
                if not k.endswith("num_batches_tracked")}, path)  # as the 2018 file
    return ref, load_weights(build_network("espnet"), path)


def _image(h: int, w: int, seed: int = 1) -> torch.Tensor:
    return torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(seed))


ORACLE = ("network espnet\nstage s1 = level1 .. b1 head feat_l1\n"
          "stage s2 = level2_0 .. b2 head level3_C\nstage s3 = level3_0 .. b3 head score_l3\n"
          "compute s1 when 1\ncompute s2 when 1\ncompute s3 when 1\noutput fuse(s1, s2, s3)\n")


# --- tests -----------------------------------------------------------------------------
def test_frame_oracle_reproduces_the_reference_bit_for_bit(random_pair):
    ref, net = random_pair
    # bit for bit against the contiguous reference: in its memory format (channels_last,
    # the default, agrees to rounding: tests/test_fastpath.py)
    executor = Executor(compile_text(ORACLE, "<oracle>"), net, "cpu", concurrency="sequential",
                        memory_format="contiguous")
    try:
        for seed, (h, w) in enumerate([(48, 64), (64, 40), (48, 64)]):
            frame = _image(h, w, seed)
            result = executor.step(frame)
            with torch.no_grad():
                expected = ref(normalize(frame, ESPNET.norm))
            assert expected.shape == (1, 12, h, w)
            assert result.scores.shape == (1, 11, h, w)
            assert torch.equal(result.scores, expected[:, :11])  # the void logit dropped
            with torch.no_grad():
                assert torch.equal(net(normalize(frame, ESPNET.norm)), expected[:, :11])
    finally:
        executor.close()


def test_stages_hand_on_what_later_layers_read(random_pair):
    _, net = random_pair
    x = normalize(_image(32, 48), ESPNET.norm)
    with torch.no_grad():
        f1, h1 = net.run_stage(x, "level1", "b1", ["feat_l1"])
        f2, h2 = net.run_stage(f1, "level2_0", "b2", ["level3_C"])
        f3, h3 = net.run_stage(f2, "level3_0", "b3", ["score_l3"])
    assert isinstance(f1, Features) and set(f1) == {"b1", "image"}  # b2 reads the image
    assert set(f2) == {"b2"} and len(f3) == 0
    assert h1["feat_l1"].shape == (1, 19, 16, 24) and h2["level3_C"].shape == (1, 12, 8, 12)
    assert h3["score_l3"].shape == (1, 12, 4, 6)
    with pytest.raises(ValueError, match="read b1, image: pass Features"):
        net.run_stage(f2["b2"], "level2_0", "b2")
    with pytest.raises(TypeError):
        f1.tensors["x"] = x  # read-only


def test_truncated_fuse_treats_missing_heads_as_zero(random_pair):
    _, net = random_pair
    x = normalize(_image(32, 48), ESPNET.norm)
    with torch.no_grad():
        _, heads = net.run_stage(x, "level1", "b3", ["feat_l1", "level3_C", "score_l3"])
        zeros = {**heads, "score_l3": torch.zeros_like(heads["score_l3"])}
        assert torch.equal(net.fuse({k: heads[k] for k in ("feat_l1", "level3_C")}, (32, 48)),
                           net.fuse(zeros, (32, 48)))


def test_sides_not_divisible_by_8_are_refused_where_frames_enter(random_pair):
    _, net = random_pair
    with pytest.raises(InputError, match="frame 180x250: network espnet needs sides "
                                         "divisible by 8"):
        net.run_stage(torch.zeros(1, 3, 180, 250), "level1", "b1", ["feat_l1"])
    with pytest.raises(InputError, match="36x52: network espnet needs sides"):
        count_macs("espnet", (36, 52))
    assert ESPNET.default_input == (360, 480)


def test_the_state_dict_has_one_fuse_and_the_documented_keys():
    keys = set(build_network("espnet").state_dict())
    assert {"layers.esp2_0.c1.conv.weight", "heads.level3_C.conv.weight",
            "heads.score_l3.br.running_var", "fuse_module.classifier.weight"} <= keys
    assert not any(k.startswith("_fuse") for k in keys)


def test_the_bundled_weights_are_the_default_and_others_load_by_path():
    assert resolve_weights("espnet", None).endswith("espnet_camvid.pt")
    assert resolve_weights("espnet", "their.pth") == "their.pth"


def test_a_file_of_another_layout_is_refused_with_its_keys(tmp_path):
    path = tmp_path / "bad.pth"
    torch.save({"encoder.level1.conv.weight": torch.zeros(16, 3, 3, 3)}, path)
    with pytest.raises(InputError, match=r"bad.pth: error: weights do not fit network espnet.*missing 188 key"):
        load_weights(build_network("espnet"), path)


@pytest.mark.parametrize("path", SCHEDULES, ids=lambda p: p.name)
def test_espnet_schedules_check_and_run(path, random_pair):
    _, net = random_pair
    program = compile_text(path.read_text(), str(path))
    assert program.network.name == "espnet"
    times = StageTimes({s: 1.0 for s in program.stages}, 1.0) if program.deadlines else None
    executor = Executor(program, net, "cpu", times=times)  # (deadline.cw decides fits)
    frames = [_image(32, 48, t) for t in range(3)]
    motions = [None] * 3
    if executor.needs_motion:  # dff_codec.cw: the frames encoded, with their vectors
        from cwdsl.media.transcode import CodecSettings, transcode

        coded = transcode([(x[0].permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()
                           for x in frames], CodecSettings())
        frames = [torch.from_numpy(f).permute(2, 0, 1)[None].float() / 255
                  for f in coded.frames]
        motions = list(coded.motions)
    try:
        for x, motion in zip(frames, motions):
            result = executor.step(x, motion=motion)
            assert result.scores.shape == (1, 11, 32, 48)
    finally:
        executor.close()


def test_espnet_schedules_exist():
    assert {p.stem for p in SCHEDULES} >= {"oracle", "alternating", "adaptive", "pipeline3"}


@pytest.mark.skipif(not CHECKPOINT.is_file(), reason="needs ../shared/weights/espnet")
def test_the_released_checkpoint_loads_and_matches_the_reference():
    net = load_weights(build_network("espnet"), CHECKPOINT)
    ref = RefESPNet(12, 2, 8)
    state = torch.load(CHECKPOINT, map_location="cpu", weights_only=True)
    ref.load_state_dict(state, strict=False)
    missing = set(ref.state_dict()) - set(state)
    assert all(k.endswith("num_batches_tracked") for k in missing)
    ref.eval()
    x = normalize(_image(48, 64), ESPNET.norm)
    with torch.no_grad():
        assert torch.equal(net(x), ref(x)[:, :11])
    assert get_network("espnet").class_names[0] == "Sky"
