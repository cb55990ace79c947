"""Labels written where photo tools read them (pyml batch --metadata, pyml metadata remove),
read back by exiftool, a client no one here wrote (Debian's libimage-exiftool-perl)."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms

from pyml.models import demo_model_dir

pytest.importorskip("pyexiv2", reason="pip install 'pyml[photos]'")
if shutil.which("exiftool") is None:
    pytest.skip("exiftool is not installed (bootstrap.sh installs libimage-exiftool-perl)", allow_module_level=True)

PYML = [sys.executable, "-m", "pyml.cli"]
DEMO = sorted((demo_model_dir().parent / "images").glob("*.jpg"))[:3]
THEIRS = ["holiday", "one"]  # keywords a person set before pyml came ("one" is also a label pyml finds)


def exiftool(path: Path) -> dict:
    run = subprocess.run(
        ["exiftool", "-j", "-G1", "-XMP-dc:Subject", "-XMP-lr:HierarchicalSubject", "-IPTC:Keywords",
         "-GPSLatitude", "-Make", "-ICC_Profile:ProfileDescription", str(path)],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    found = json.loads(run.stdout)[0]
    for key in ("XMP-dc:Subject", "XMP-lr:HierarchicalSubject", "IPTC:Keywords"):  # one value comes as a string
        if isinstance(found.get(key), str):
            found[key] = [found[key]]
    return found


def pixels(path: Path) -> np.ndarray:
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)


@pytest.fixture
def library(tmp_path):
    """A small photo library: JPEG and PNG, with someone's keywords, EXIF, GPS and an ICC profile."""
    folder = tmp_path / "photos"
    folder.mkdir()
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    for source in DEMO:
        picture = Image.open(source).convert("RGB")
        for ext in ("jpg", "png"):
            buffer = io.BytesIO()
            picture.save(buffer, "JPEG" if ext == "jpg" else "PNG", icc_profile=icc)
            (folder / f"{source.stem}.{ext}").write_bytes(buffer.getvalue())
    subprocess.run(
        ["exiftool", "-q", "-overwrite_original", "-Make=PymlTestCam", "-GPSLatitude=48.8566", "-GPSLatitudeRef=N",
         *[f"-XMP-dc:Subject+={k}" for k in THEIRS], *[f"-IPTC:Keywords+={k}" for k in THEIRS], str(folder)],
        check=True, timeout=120,
    )  # fmt: skip
    return folder


def batch(folder: Path, output: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*PYML, "batch", str(folder), "--pipeline", "pyml_demo", "--output", str(output), "--no_progress", *args],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def rows(output: Path) -> dict[str, dict]:
    return {Path(r["img_path"]).name: r for r in map(json.loads, output.read_text().splitlines())}


def test_embedded_keywords_are_the_results_and_nothing_else_changes(library, tmp_path):
    before = {p.name: (pixels(p), p.stat()) for p in library.iterdir()}
    run = batch(library, tmp_path / "r.jsonl", "--metadata", "embed")
    assert run.returncode == 0, run.stderr
    for name, row in rows(tmp_path / "r.jsonl").items():
        path = library / name
        found = exiftool(path)
        labels = row["label_names"]
        assert found["XMP-dc:Subject"] == THEIRS + [k for k in labels if k not in THEIRS]
        assert found["XMP-lr:HierarchicalSubject"] == [f"pyml|{k}" for k in labels]  # the demo's have no category
        assert found["IPTC:Keywords"] == THEIRS + [k for k in labels if k not in THEIRS]
        # pixels byte for byte, the other metadata, the file's mode and time
        assert np.array_equal(pixels(path), before[name][0])
        assert found["IFD0:Make"] == "PymlTestCam" and abs(float(str(found["GPS:GPSLatitude"]).split()[0]) - 48) < 1
        assert found["ICC_Profile:ProfileDescription"]
        assert path.stat().st_mtime_ns == before[name][1].st_mtime_ns
        assert path.stat().st_mode == before[name][1].st_mode
    assert sorted(p.name for p in library.iterdir()) == sorted(before)  # no staging file left


def test_sidecars_hold_the_labels_and_the_pictures_are_untouched(library, tmp_path):
    before = {p.name: p.read_bytes() for p in library.iterdir()}
    run = batch(library, tmp_path / "r.jsonl", "--metadata", "sidecar")
    assert run.returncode == 0, run.stderr
    for name, row in rows(tmp_path / "r.jsonl").items():
        assert (library / name).read_bytes() == before[name]
        sidecar = library / f"{name}.xmp"
        assert row["metadata"]["file"] == str(sidecar)
        found = exiftool(sidecar)
        assert found["XMP-dc:Subject"] == row["label_names"]
        assert found["XMP-lr:HierarchicalSubject"] == [f"pyml|{k}" for k in row["label_names"]]


def test_a_rerun_replaces_only_pymls_keywords_and_remove_restores_the_set(library, tmp_path):
    jpeg = next(p for p in library.iterdir() if p.suffix == ".jpg")
    original = exiftool(jpeg)
    assert batch(library, tmp_path / "a.jsonl", "--metadata", "embed", "--threshold", "0.05").returncode == 0
    many = exiftool(jpeg)
    again = batch(library, tmp_path / "b.jsonl", "--metadata", "embed", "--threshold", "0.9")  # another threshold
    assert again.returncode == 0, again.stderr
    labels = rows(tmp_path / "b.jsonl")[jpeg.name]["label_names"]
    few = exiftool(jpeg)
    assert len(many["XMP-dc:Subject"]) > len(few["XMP-dc:Subject"])
    assert few["XMP-dc:Subject"] == THEIRS + [k for k in labels if k not in THEIRS]  # no duplicates, theirs kept
    same = batch(library, tmp_path / "c.jsonl", "--metadata", "embed", "--threshold", "0.9")
    assert not any(r["metadata"].get("written") for r in rows(tmp_path / "c.jsonl").values())  # nothing to change
    remove = subprocess.run([*PYML, "metadata", "remove", str(library)], capture_output=True, text=True, timeout=300)
    assert remove.returncode == 0, remove.stderr
    restored = exiftool(jpeg)
    for key in ("XMP-dc:Subject", "IPTC:Keywords"):
        assert restored[key] == original[key] == THEIRS
    assert "XMP-lr:HierarchicalSubject" not in restored
    assert same.returncode == 0


def test_remove_deletes_a_sidecar_pyml_alone_wrote(library, tmp_path):
    assert batch(library, tmp_path / "r.jsonl", "--metadata", "sidecar").returncode == 0
    assert list(library.glob("*.xmp"))
    remove = subprocess.run([*PYML, "metadata", "remove", str(library)], capture_output=True, text=True, timeout=300)
    assert remove.returncode == 0, remove.stderr
    assert not list(library.glob("*.xmp"))


def test_dry_run_lists_the_changes_and_writes_nothing(library, tmp_path):
    before = {p.name: p.read_bytes() for p in library.iterdir()}
    run = batch(library, tmp_path / "r.jsonl", "--metadata", "embed", "--dry_run")
    assert run.returncode == 0, run.stderr
    assert {p.name: p.read_bytes() for p in library.iterdir()} == before
    assert not (tmp_path / "r.jsonl").exists()
    lines = [line for line in run.stdout.splitlines() if line.startswith("would change ")]
    assert len(lines) == len(before) and all("+" in line for line in lines)


def test_a_read_only_picture_is_one_error_row_and_the_run_goes_on(library, tmp_path):
    locked = next(library.glob("*.png"))
    locked.chmod(0o444)
    run = batch(library, tmp_path / "r.jsonl", "--metadata", "embed")
    assert run.returncode == 1
    found = rows(tmp_path / "r.jsonl")
    assert found[locked.name]["error"]["reason"] == "metadata" and "read-only" in found[locked.name]["error"]["message"]
    assert sum("error" in r for r in found.values()) == 1


def test_a_full_disk_is_one_error_row_and_the_run_goes_on(library, tmp_path):
    """A real full filesystem: a small tmpfs in a mount namespace of its own."""
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode:
        pytest.skip("no mount namespace here to mount a small tmpfs in")
    disk = tmp_path / "disk"
    disk.mkdir()
    script = (
        f"mount -t tmpfs -o size=400k tmpfs {disk} && cp {library}/*.jpg {disk}/ && "
        f"dd if=/dev/zero of={disk}/filler bs=1k count=400 2>/dev/null; "
        f"exec {sys.executable} -m pyml.cli batch {disk} --pipeline pyml_demo --output {tmp_path}/r.jsonl "
        "--no_progress --metadata embed"
    )
    run = subprocess.run(["unshare", "-m", "bash", "-c", script], capture_output=True, text=True, timeout=600)
    found = rows(tmp_path / "r.jsonl")
    assert len(found) == len(DEMO), run.stderr  # every picture has its row
    errors = [r["error"] for r in found.values() if "error" in r]
    assert errors and all(e["reason"] == "metadata" and "No space left" in e["message"] for e in errors), errors
    assert run.returncode == 1


def test_resume_writes_each_picture_once(library, tmp_path):
    first = sorted(library.iterdir())[:2]
    listing = tmp_path / "first.txt"
    listing.write_text("\n".join(map(str, first)))
    output = tmp_path / "r.jsonl"
    run = subprocess.run(
        [*PYML, "batch", "--from_list", str(listing), "--pipeline", "pyml_demo", "--output", str(output),
         "--no_progress", "--metadata", "embed"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    inodes = {p: p.stat().st_ino for p in first}  # an atomic write replaces the file: a new inode
    resumed = batch(library, output, "--metadata", "embed", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert {p: p.stat().st_ino for p in first} == inodes
    assert len(rows(output)) == len(list(library.iterdir()))
    assert all("pyml|" in str(exiftool(p).get("XMP-lr:HierarchicalSubject")) for p in library.iterdir())


def test_webp_gets_xmp_and_a_format_exiv2_cannot_write_is_a_skip_line(tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    picture = Image.open(DEMO[0]).convert("RGB")
    picture.save(folder / "a.webp", "WEBP", lossless=True)
    picture.save(folder / "b.bmp", "BMP")
    before = {p.name: pixels(p) for p in folder.iterdir()}
    run = batch(folder, tmp_path / "r.jsonl", "--metadata", "embed")
    assert run.returncode == 0, run.stderr
    found = rows(tmp_path / "r.jsonl")
    assert found["b.bmp"]["metadata"]["note"].startswith("skipped: exiv2 cannot write metadata into .bmp")
    assert "XMP only" in found["a.webp"]["metadata"]["note"]
    assert exiftool(folder / "a.webp")["XMP-dc:Subject"] == found["a.webp"]["label_names"]
    assert all(np.array_equal(pixels(folder / name), px) for name, px in before.items())


@pytest.mark.slow
def test_on_ray_each_actor_writes_what_it_classified(library, tmp_path):
    run = batch(library, tmp_path / "r.jsonl", "--metadata", "sidecar", "--ray_local", "2", "--batch_size", "2")
    assert run.returncode == 0, run.stderr
    found = rows(tmp_path / "r.jsonl")
    assert len(found) == len(list(library.glob("*.jpg"))) + len(list(library.glob("*.png")))
    for name, row in found.items():
        assert exiftool(library / f"{name}.xmp")["XMP-dc:Subject"] == row["label_names"]


def test_display_names_are_the_keywords_written(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(DEMO[0], folder / DEMO[0].name)
    names = tmp_path / "names.tsv"
    names.write_text("1\t一\neight\t八\n", encoding="utf-8")
    run = batch(folder, tmp_path / "r.jsonl", "--metadata", "embed", "--label_names", str(names))
    assert run.returncode == 0, run.stderr
    (row,) = rows(tmp_path / "r.jsonl").values()
    assert {"一", "八"} <= set(row["label_names"])
    found = exiftool(folder / DEMO[0].name)
    assert found["XMP-dc:Subject"] == found["IPTC:Keywords"] == row["label_names"]
    assert found["XMP-lr:HierarchicalSubject"] == [f"pyml|{k}" for k in row["label_names"]]
