"""Class names in the network descriptions and the legend drawn from them (issue 11, item 15)."""
from pathlib import Path

import numpy as np
import pytest

from cwdsl.core.errors import InputError
from cwdsl.core.netspec import NetworkSpec, get_network
from cwdsl.demo import CLASS_NAMES
from cwdsl.media.legend import legend_image, with_legend
from cwdsl.media.palette import palette


def test_bundled_networks_name_their_classes():
    camvid = get_network("fcn8s_camvid")
    assert camvid.class_names == ("Sky", "Building", "Pole", "Road", "Pavement", "Tree",
                                  "SignSymbol", "Fence", "Car", "Pedestrian", "Bicyclist")
    voc = get_network("fcn8s")
    assert len(voc.class_names) == voc.num_classes == 21
    assert voc.class_names[0] == "background" and voc.class_names[15] == "person"
    assert get_network("tiny").class_names == CLASS_NAMES  # the demo draws them in this order


def test_class_names_must_fit_the_classes():
    tiny = get_network("tiny")
    with pytest.raises(ValueError, match="2 class names for 6 classes"):
        NetworkSpec("x", tiny.layers, tiny.heads, 6, (32, 32), class_names=("a", "b"))
    unnamed = NetworkSpec("x", tiny.layers, tiny.heads, 3, (32, 32))
    assert unnamed.class_name(2) == "class 2" and tiny.class_name(1) == "disc"


def test_legend_shows_every_class_in_its_mask_colour():
    names = get_network("fcn8s_camvid").class_names
    legend = legend_image(names)
    assert legend.dtype == np.uint8 and legend.shape[2] == 3
    colours = {tuple(c) for c in legend.reshape(-1, 3)}
    assert all(tuple(c) in colours for c in palette(len(names)))  # every swatch is drawn
    short = legend_image(names, height=60)  # fewer rows: more columns
    assert short.shape[0] == 60 and short.shape[1] > legend.shape[1]


def test_with_legend_puts_it_beside_the_overlay():
    image = np.zeros((90, 120, 3), np.uint8)
    out = with_legend(image, get_network("tiny").class_names)
    assert out.shape[0] == 90 and out.shape[1] > 120
    assert (out[:, :120] == 0).all()
    with pytest.raises(InputError):
        with_legend(np.zeros((4, 4)), ["a"])
    with pytest.raises(InputError, match="needs as many colours"):
        legend_image(["a", "b"], colors=palette(1))


def test_run_overlay_frames_carry_the_legend(tmp_path):
    import av

    from cwdsl.commands.main import main

    out = tmp_path / "run"
    root = Path(__file__).resolve().parents[1]
    assert main(["run", str(root / "schedules" / "adaptive.cw"), "--out", str(out),
                 "--save", "overlay", "--max-frames", "3", "--quiet", "--no-oracle"]) == 0
    with av.open(str(out / "overlay.mp4")) as container:
        frame = next(container.decode(video=0)).to_ndarray(format="rgb24")
    assert frame.shape[0] == 128 and frame.shape[1] > 128 + 40  # the demo frame, then its legend
