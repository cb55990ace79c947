"""Make docs/images/photo-keywords.png: what exiftool (Debian's libimage-exiftool-perl)
reads from pictures `pyml batch --metadata embed` tagged, as a terminal shows it.

The run is real: a copy of the demo model whose inference.yml carries categories (what
`pyml train` writes from label.txt's optional column), three sample pictures, one of them
already carrying a keyword another tool wrote. The text exiftool prints is drawn by
headless Chromium. Run: python -m tools.screenshot_keywords [OUT.png]
"""

from __future__ import annotations

import html
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from pyml.model_dir import read_inference_yml, write_inference_yml
from pyml.models import demo_model_dir

ROOT = Path(__file__).resolve().parents[1]
PICTURES = ["digits_01.jpg", "digits_04.jpg"]
TAGS = ["-XMP-dc:Subject", "-XMP-lr:HierarchicalSubject", "-IPTC:Keywords", "-XMP-pyml:all"]


def shell(command: list[str], cwd: Path) -> str:
    """Run a command and give back what a terminal would show: the prompt line and its output."""
    run = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=True)
    shown = " ".join(part if " " not in part else f"'{part}'" for part in command)
    return f"$ {shown}\n{run.stdout}{run.stderr}"


def main(out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model = work / "digits_model"
        shutil.copytree(demo_model_dir(), model)
        config = read_inference_yml(model)
        labels = config["PostProcess"]["MultiLabelThreshOutput"]["label_list"]
        config["Global"]["pyml_categories"] = ["even" if i % 2 == 0 else "odd" for i in range(len(labels))]
        write_inference_yml(model, config)
        photos = work / "photos"
        photos.mkdir()
        for name in PICTURES:
            shutil.copy(demo_model_dir().parent / "images" / name, photos / name)
        subprocess.run(
            ["exiftool", "-q", "-overwrite_original", "-XMP-dc:Subject=holiday", "-IPTC:Keywords=holiday",
             str(photos / PICTURES[0])],
            check=True,
        )  # fmt: skip
        transcript = shell(
            ["pyml", "batch", "photos", "--pipeline", "pyml_demo", "--model_dir", "digits_model",
             "--metadata", "embed", "--output", "results.jsonl"],
            work,
        )  # fmt: skip
        transcript += shell(["exiftool", "-G1", "-a", *TAGS, f"photos/{PICTURES[0]}"], work)
        transcript += shell(["exiftool", "-G1", "-a", *TAGS[:2], f"photos/{PICTURES[1]}"], work)
        page = work / "page.html"
        page.write_text(
            "<html><body style='margin:0;background:#1e1e1e'><pre style='margin:0;padding:16px;color:#ddd;"
            "font:14px DejaVu Sans Mono,monospace;white-space:pre'>" + html.escape(transcript) + "</pre></body></html>",
            encoding="utf-8",
        )
        chromium = shutil.which("chromium") or shutil.which("chromium-browser")
        if chromium is None:
            sys.exit("needs Debian's chromium (apt install chromium)")
        rows = transcript.count("\n") + 2
        subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--screenshot={out.resolve()}", f"--window-size=1180,{rows * 17 + 32}", page.as_uri()],
            check=True, capture_output=True,
        )  # fmt: skip
    print(transcript)
    print(f"written: {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "images" / "photo-keywords.png")
