"""Datasets: PaddleX's multi-label layout read and checked (every bad row named with its
file and line), and COCO annotations converted."""

import json
import shutil

import numpy as np
import pytest
from train.training_helpers import SMALL, run_cli

from pyml.train import DatasetError, read_dataset


def test_a_good_dataset_reads_and_counts(digits):
    dataset = read_dataset(digits)
    assert dataset.num_classes == 10 and len(dataset.splits["train"]) == 256
    run = run_cli("check_dataset", str(digits))
    assert run.returncode == 0, run.stderr
    counts = dataset.targets("val").sum(axis=0).astype(int)
    row = run.stdout.splitlines()[2 + 3]  # class 3
    assert row.split() == ["3", "three", str(int(dataset.targets("train")[:, 3].sum())), str(counts[3])]


def _copy(digits, tmp_path):
    target = tmp_path / "ds"
    shutil.copytree(digits, target)
    return target


def _edit_line(path, number, new_text):
    lines = path.read_text().splitlines(keepends=True)
    lines[number - 1] = new_text
    path.write_text("".join(lines))


BAD_DATASETS = {
    "missing image": (
        lambda d: (d / "images" / "train_00002.jpg").unlink(),
        "train.txt:3: image images/train_00002.jpg not found",
    ),
    "unreadable image": (
        lambda d: (d / "images" / "val_00004.jpg").write_text("not a picture"),
        "val.txt:5: image images/val_00004.jpg: not a decodable image (unknown or corrupt format)",
    ),
    "empty image": (  # the words `pyml --input` uses for the same file
        lambda d: (d / "images" / "val_00003.jpg").write_bytes(b""),
        "val.txt:4: image images/val_00003.jpg: empty input (0 bytes)",
    ),
    "wrong vector length": (
        lambda d: _edit_line(d / "train.txt", 7, "images/train_00006.jpg\t0,1,0\n"),
        "train.txt:7: 3 label values, but label.txt has 10 classes",
    ),
    "values other than 0/1": (
        lambda d: _edit_line(d / "val.txt", 2, "images/val_00001.jpg\t0,2,0,0,0,0,0,0,0,1\n"),
        "val.txt:2: label values must be 0 or 1, found '2'",
    ),
    "no tab": (
        lambda d: _edit_line(d / "train.txt", 1, "images/train_00000.jpg 0,0,0,0,0,0,0,1,0,0\n"),
        "train.txt:1: expected '<image path><TAB><0/1 per class>'",
    ),
    "empty split": (lambda d: (d / "val.txt").write_text(""), "val.txt: the val split is empty"),
    "missing split": (lambda d: (d / "val.txt").unlink(), "val.txt: missing"),
    "duplicate ids": (lambda d: _edit_line(d / "label.txt", 3, "1 also-one\n"), "label.txt:3: duplicate class id 1"),
    "label.txt gaps": (
        lambda d: _edit_line(d / "label.txt", 5, "\n"),
        "label.txt: class ids must run 0..9 with no gaps; missing 4",
    ),
    "label line without a name": (
        lambda d: _edit_line(d / "label.txt", 2, "1\n"),
        "label.txt:2: expected '<id> <name>'",
    ),
}


@pytest.mark.parametrize("case", list(BAD_DATASETS))
def test_every_bad_dataset_row_names_file_and_line(digits, tmp_path, case):
    dataset = _copy(digits, tmp_path)
    spoil, expected = BAD_DATASETS[case]
    spoil(dataset)
    with pytest.raises(DatasetError) as caught:
        read_dataset(dataset)
    assert any(expected in p for p in caught.value.problems), caught.value.problems
    assert str(dataset) in str(caught.value)
    out = tmp_path / "out"
    run = run_cli("train", str(dataset), "--model", SMALL, "--output", str(out), "--epochs", "1", "--quiet")
    assert run.returncode == 2 and expected in run.stderr, run.stderr
    assert not out.exists(), "a failed check must write nothing"


def test_all_problems_are_reported_at_once(digits, tmp_path):
    dataset = _copy(digits, tmp_path)
    (dataset / "images" / "train_00002.jpg").unlink()
    _edit_line(dataset / "val.txt", 2, "images/val_00001.jpg\t0,2,0,0,0,0,0,0,0,1\n")
    with pytest.raises(DatasetError) as caught:
        read_dataset(dataset)
    assert len(caught.value.problems) == 2


def test_a_gap_in_label_txt_is_reported_once_and_hides_nothing(digits, tmp_path):
    """ids 0..8 then 10: every vector has 10 values but label.txt reads as 11 classes.
    That is one cause, said once with the lines it affects; a missing image and a
    corrupt one are still reported, and everything is in file and line order."""
    dataset = _copy(digits, tmp_path)
    _edit_line(dataset / "label.txt", 10, "10 nine\n")
    (dataset / "images" / "train_00002.jpg").unlink()
    (dataset / "images" / "val_00004.jpg").write_text("not a picture")
    with pytest.raises(DatasetError) as caught:
        read_dataset(dataset)
    problems = caught.value.problems
    train_lines = len((dataset / "train.txt").read_text().splitlines())
    assert problems[0] == f"{dataset}/label.txt: class ids must run 0..10 with no gaps; missing 9"
    assert any(
        p.startswith(
            f"{dataset}/train.txt:1: {train_lines} lines have 10 label values, but label.txt "
            "has 11 classes (label.txt lists 10 classes but its ids have a gap"
        )
        for p in problems
    )
    assert f"{dataset}/train.txt:3: image images/train_00002.jpg not found" in problems
    assert len(problems) == 5, problems  # the gap; per list the lengths once; the missing and the corrupt image
    assert problems == sorted(
        problems, key=lambda p: (p.split(":")[0], int(p.split(":")[1] or 0) if p.split(":")[1].isdigit() else 0)
    )
    run = run_cli("check_dataset", str(dataset), "--all")
    assert run.returncode == 2 and run.stderr.count("\n  ") == len(problems), run.stderr


def test_coco_conversion_renumbers_categories(digits, tmp_path):
    dataset = read_dataset(digits)
    coco_ids = [11, 13, 17, 19, 23, 29, 31, 37, 41, 43]  # not 0..N-1, as COCO's are not
    images, annotations = [], []
    for i, sample in enumerate(dataset.splits["train"][:40]):
        images.append({"id": 1000 + i, "file_name": sample.path.name, "width": 64, "height": 64})
        for c in np.nonzero(sample.labels)[0]:
            for _ in range(2):  # two boxes of one category still make one label
                annotations.append(
                    {"id": len(annotations) + 1, "image_id": 1000 + i, "category_id": coco_ids[c], "bbox": [0, 0, 8, 8]}
                )
    names = read_dataset(digits).labels
    categories = [{"id": cid, "name": name} for cid, name in zip(coco_ids, names)][::-1]
    source = tmp_path / "instances.json"
    source.write_text(json.dumps({"images": images, "annotations": annotations, "categories": categories}))
    out = tmp_path / "converted"
    run = run_cli(
        "convert_dataset", "--from", "coco", str(source), str(digits / "images"), str(out), "--val_percent", "25"
    )
    assert run.returncode == 0, run.stderr
    converted = read_dataset(out)
    assert converted.labels == names
    assert len(converted.splits["val"]) == 10 and len(converted.splits["train"]) == 30
    truth = {s.path.name: s.labels for s in dataset.splits["train"][:40]}
    for split in converted.splits.values():
        for sample in split:
            np.testing.assert_array_equal(sample.labels, truth[sample.path.name])
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {"images": images, "annotations": [{"id": 1, "image_id": 5, "category_id": 11}], "categories": categories}
        )
    )
    run = run_cli("convert_dataset", "--from", "coco", str(bad), str(digits / "images"), str(tmp_path / "x"))
    assert run.returncode == 2 and "names image 5, which is not listed" in run.stderr
    # several faults at once: every one is reported, in one error, and nothing is written
    faulty = {
        "images": [
            *images[:3],
            {"id": 9},
            {"id": 8, "file_name": "../outside.jpg"},
            {"id": 7, "file_name": "gone.jpg"},
        ],
        "annotations": [
            {"id": 1, "image_id": 5, "category_id": 11},
            {"id": 2, "image_id": 1000, "category_id": 99},
            {"id": 3, "image_id": 1001, "category_id": 11},
        ],
        "categories": [*categories, {"name": "no id"}],
    }
    bad.write_text(json.dumps(faulty))
    run = run_cli("convert_dataset", "--from", "coco", str(bad), str(digits / "images"), str(tmp_path / "y"))
    assert run.returncode == 2
    for fault in (
        "6 problem(s) in the COCO annotations",
        "a category lacks an integer 'id' or a 'name'",
        "an image entry lacks 'id' or 'file_name'",
        "annotation 1 names image 5, which is not listed",
        "annotation 2 names category 99, which is not listed",
        "image file_name '../outside.jpg' must be a plain path",
        "annotated image gone.jpg not found",
    ):
        assert fault in run.stderr, (fault, run.stderr)
    assert not (tmp_path / "y").exists()
    run = run_cli("convert_dataset", "--from", "coco", str(tmp_path / "none.json"), str(digits / "images"), "z")
    assert run.returncode == 2 and "none.json: no such file" in run.stderr
