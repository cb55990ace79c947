"""--save_path keeps the input folder's structure and never overwrites a result of the
same run (PaddleX flattens everything into `<stem>_res.*`, so same-named files collide)."""

import json
import subprocess
import sys

import cv2
import pytest

from pyml.models import demo_model_dir
from pyml.results import SaveLayout

PYML = [sys.executable, "-m", "pyml.cli"]
DIGITS = sorted((demo_model_dir().parent / "images").glob("*.jpg"))


@pytest.fixture(scope="module")
def dup(tmp_path_factory):
    """dup/a/x.jpg and dup/b/x.jpg are different pictures; dup/b/x.png a third."""
    root = tmp_path_factory.mktemp("dup")
    for folder, source, suffix in (("a", DIGITS[0], ".jpg"), ("b", DIGITS[1], ".jpg"), ("b", DIGITS[2], ".png")):
        (root / folder).mkdir(exist_ok=True)
        if suffix == ".jpg":
            (root / folder / f"x{suffix}").write_bytes(source.read_bytes())
        else:
            cv2.imwrite(str(root / folder / f"x{suffix}"), cv2.imread(str(source)))
    return root


def saved(out):
    return {p.relative_to(out).as_posix(): json.loads(p.read_text())["img_path"] for p in out.rglob("*_res.json")}


EXPECTED = {"a/x_res.json": "a/x.jpg", "b/x_res.json": "b/x.jpg", "b/x_2_res.json": "b/x.png"}


def check(out, root):
    found = saved(out)
    assert {k: v.replace(str(root) + "/", "") for k, v in found.items()} == EXPECTED
    drawings = sorted(p.relative_to(out).as_posix() for p in out.rglob("*_res.*") if p.suffix != ".json")
    assert drawings == ["a/x_res.jpg", "b/x_2_res.png", "b/x_res.jpg"]


def test_the_cli_keeps_the_folder_structure(dup, tmp_path):
    out = tmp_path / "out"
    run = subprocess.run(
        [*PYML, "--pipeline", "pyml_demo", "--input", str(dup), "--save_path", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    check(out, dup)


def test_pyml_batch_keeps_it_too_and_files_with_one_name_do_not_collide(dup, tmp_path):
    out = tmp_path / "out"
    run = subprocess.run(
        [
            *PYML,
            "batch",
            "--pipeline",
            "pyml_demo",
            str(dup),
            "--output",
            str(tmp_path / "r.jsonl"),
            "--save_path",
            str(out),
            "--no_progress",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    check(out, dup)
    flat = tmp_path / "flat"
    files = [str(dup / "a" / "x.jpg"), str(dup / "b" / "x.jpg")]
    run = subprocess.run(
        [
            *PYML,
            "batch",
            "--pipeline",
            "pyml_demo",
            *files,
            "--output",
            str(tmp_path / "f.jsonl"),
            "--save_path",
            str(flat),
            "--no_progress",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert saved(flat) == {"x_res.json": files[0], "x_2_res.json": files[1]}


def test_the_layout_is_a_function_of_the_input_list(tmp_path):
    names = [
        str(tmp_path / "d" / "a" / "x.jpg"),
        "https://host/x.jpg?size=2",
        str(tmp_path / "x.jpg"),
        str(tmp_path / "d" / "we ird" / "x_2.jpg"),
    ]
    (tmp_path / "d").mkdir()
    first = SaveLayout(tmp_path / "out", names, folders=[tmp_path / "d"])
    again = SaveLayout(tmp_path / "out", names, folders=[tmp_path / "d"])
    targets = [first.targets(n)[0].relative_to(tmp_path / "out").as_posix() for n in names]
    assert targets == [again.targets(n)[0].relative_to(tmp_path / "out").as_posix() for n in reversed(names)][::-1]
    assert targets == ["a/x_res.json", "x_res.json", "x_2_res.json", "we_ird/x_2_res.json"]
