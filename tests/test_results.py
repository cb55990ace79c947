"""Result printing, JSON and image output."""

import json

import images
import numpy as np
import pytest
from PIL import Image

from pyml.fonts import is_latin, load_font
from pyml.results import MultiLabelResult


@pytest.fixture
def result():
    buf = images.jpeg(images.gradient(200, 120))
    return MultiLabelResult(
        "/data/photos/general_image_classification_001.jpg", [21, 0], [0.99257, 0.70596], ["bear", "person"], image=buf
    )


def test_printed_form_is_paddlex_seed_form(result, capsys):
    assert str(result) == (
        "{'img_path': '/data/photos/general_image_classification_001.jpg', "
        "'class_ids': [21, 0], 'scores': [0.99257, 0.70596], "
        "'label_names': ['bear', 'person']}"
    )
    result.print()
    assert json.loads(capsys.readouterr().out) == result.json
    result.print(format_json=False)
    assert capsys.readouterr().out.strip() == str(result)
    result.print(json_format=False)  # PaddleX 3.x's name for the same switch
    assert capsys.readouterr().out.strip() == str(result)
    result.print(json_format=True, indent=2)
    assert json.loads(capsys.readouterr().out) == result.json
    with pytest.raises(TypeError, match="disagree"):
        result.print(format_json=True, json_format=False)


def test_save_to_json_in_directory_and_as_file(result, tmp_path):
    path = result.save_to_json(tmp_path)
    assert path == tmp_path / "general_image_classification_001_res.json"
    assert json.loads(path.read_text()) == result.json
    explicit = result.save_to_json(tmp_path / "sub" / "out.json")
    assert explicit.is_file()


def test_hostile_names_stay_inside_the_directory(tmp_path):
    r = MultiLabelResult("../../../etc/passwd", [1], [0.9], ["x"], image=images.jpeg(images.gradient(8, 8)))
    path = r.save_to_json(tmp_path)
    assert path.parent == tmp_path and path.name == "passwd_res.json"
    arr = MultiLabelResult("<ndarray 3>", [], [], [], image=np.zeros((8, 8, 3), np.uint8))
    assert arr.save_to_json(tmp_path).name == "ndarray_3_res.json"


def test_save_to_img_draws_a_red_band_with_white_text(result, tmp_path):
    path = result.save_to_img(tmp_path)
    assert path.name == "general_image_classification_001_res.jpg"
    with Image.open(path) as im:
        drawn = np.asarray(im.convert("RGB")).astype(int)
    assert drawn.shape[1] == 200 and drawn.shape[0] > 120
    band = drawn[124:]
    red = (band[..., 0] > 200) & (band[..., 1] < 60) & (band[..., 2] < 60)
    white = (band > 200).all(axis=-1)
    assert red.mean() > 0.5 and white.sum() > 20
    original = drawn[:118]
    assert not ((original[..., 0] > 200) & (original[..., 1] < 60)).all()


def test_no_labels_no_band(tmp_path):
    r = MultiLabelResult("x.png", image=images.pil_bytes(Image.fromarray(images.gradient(50, 40)), "PNG"))
    with Image.open(r.save_to_img(tmp_path)) as out:
        assert out.size == (50, 40)


def test_rows_wrap_when_names_do_not_fit(tmp_path):
    names = [f"label_number_{i}" for i in range(12)]
    wide = MultiLabelResult("a.png", list(range(12)), [0.5] * 12, names, image=np.zeros((100, 300, 3), np.uint8))
    one = MultiLabelResult("b.png", [0], [0.5], names[:1], image=np.zeros((100, 300, 3), np.uint8))
    assert wide.visualize().height > one.visualize().height


def test_cjk_names_render_with_real_glyphs():
    assert not is_latin("自行车") and is_latin("bicycle")
    font = load_font(24, needs_cjk=True)
    glyph = font.getmask("车")
    missing = font.getmask("\ue000")  # private use: no font draws it
    assert glyph.size != (0, 0)
    assert bytes(glyph) != bytes(missing), "the CJK text rendered as a missing-glyph box"
    r = MultiLabelResult("c.png", [1], [0.9], ["自行车"], image=np.zeros((60, 200, 3), np.uint8))
    assert r.visualize().height > 60
