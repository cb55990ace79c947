"""The release wheel is self-contained: `bash tools/build_wheel.sh` builds it (from the
sdist it makes, so the sdist is complete too), the README's install lines install it
as written into fresh virtual environments, and there it runs the quick start, a gRPC
round trip and `import pyml._native` in a mount namespace where the system's copies of
the libraries it vendors are hidden and no compiler is on PATH."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import tomllib

pytestmark = [pytest.mark.slow, pytest.mark.wheel]

ROOT = Path(__file__).resolve().parents[2]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
MAX_WHEEL_BYTES = 10 * 1000 * 1000
# What auditwheel copies into pyml.libs/ (zlib stays the system's: the manylinux policy
# lists libz.so.1 among the libraries every Linux has).
VENDORED = ("libturbojpeg", "libpng16", "libyaml-cpp")
COMPILERS = ("cc", "c++", "gcc", "g++", "clang", "clang++", "cmake")


@pytest.fixture(scope="module")
def wheel() -> Path:
    build = subprocess.run(["bash", "tools/build_wheel.sh"], cwd=ROOT, capture_output=True, text=True, timeout=1800)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    (built,) = (ROOT / "dist").glob(f"pyml-{VERSION}-*.whl")
    assert (ROOT / "dist" / f"pyml-{VERSION}.tar.gz").is_file()
    return built


def readme_install_lines() -> list[str]:
    """The `pip install` lines of the README's Install section, as written."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Install\n", 1)[1].split("\n## ", 1)[0]
    lines = [line for block in re.findall(r"```bash\n(.*?)```", section, re.S) for line in block.splitlines()]
    return [line.split("  #", 1)[0].strip() for line in lines if line.startswith("pip install")]


def fresh_venv(where: Path) -> dict:
    """A virtual environment without system site-packages, and the environment to run in it."""
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True, timeout=300)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PATH"] = f"{where / 'bin'}{os.pathsep}{env['PATH']}"
    env["VIRTUAL_ENV"] = str(where)
    return env


def install(line: str, where: Path) -> dict:
    env = fresh_venv(where)
    run = subprocess.run(["bash", "-c", line], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    assert run.returncode == 0, f"{line}\n{run.stderr[-4000:]}"
    return env


def installed_native(venv: Path) -> Path:
    (native,) = venv.glob("lib/python*/site-packages/pyml/_native*.so")
    return native


@pytest.fixture(scope="module")
def plain_venv(wheel, tmp_path_factory) -> Path:
    (line,) = [line for line in readme_install_lines() if "[" not in line and "paddle" not in line]
    assert line == f"pip install dist/{wheel.name}", "the README's wheel name is not the one build_wheel.sh makes"
    venv = tmp_path_factory.mktemp("plain") / "venv"
    install(line, venv)
    return venv


def test_wheel_is_repaired_small_and_carries_what_pyml_needs(wheel):
    assert wheel.stat().st_size <= MAX_WHEEL_BYTES, wheel.stat().st_size
    assert re.search(r"-manylinux_2_\d+_x86_64\.whl$", wheel.name), wheel.name
    show = subprocess.run(
        [sys.executable, "-m", "auditwheel", "show", str(wheel)], capture_output=True, text=True, timeout=300
    )
    assert show.returncode == 0 and "is consistent with" in show.stdout, show.stdout + show.stderr
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "pyml/v1/classifier_pb2.py",  # the generated gRPC stubs
        "pyml/v1/classifier_pb2_grpc.py",
        "pyml/demo/model/inference.onnx",  # the demo model, with the file a plain install runs
        "pyml/demo/model/inference.pdiparams",
        "pyml/configs/image_multilabel_classification.yaml",
        "pyml/serving/static/index.html",  # the try page
        "pyml/cpp/include/pyml/pipeline.h",  # the C++ package for find_package(pyml)
        "pyml/cpp/lib/libpyml_core.a",
        "pyml/cpp/lib/cmake/pyml/pymlConfig.cmake",
    ):
        assert needed in names, needed
    for library in VENDORED:
        assert any(n.startswith(f"pyml.libs/{library}-") for n in names), library


def test_versions_agree(wheel, plain_venv):
    metadata = zipfile.ZipFile(wheel).read(f"pyml-{VERSION}.dist-info/METADATA").decode()
    assert f"\nVersion: {VERSION}\n" in metadata
    cli = subprocess.run([str(plain_venv / "bin" / "pyml"), "--version"], capture_output=True, text=True, timeout=120)
    assert cli.stdout.split()[-1] == VERSION, cli.stdout
    (config_version,) = plain_venv.glob("lib/python*/site-packages/pyml/cpp/lib/cmake/pyml/pymlConfigVersion.cmake")
    assert f'set(PACKAGE_VERSION "{VERSION}")' in config_version.read_text()
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert re.search(r"^## (\S+)", changelog, re.M).group(1) == VERSION


def test_paddle_is_only_an_extra_so_a_cuda_build_is_never_replaced(wheel):
    metadata = zipfile.ZipFile(wheel).read(f"pyml-{VERSION}.dist-info/METADATA").decode()
    paddle = [line for line in metadata.splitlines() if line.startswith("Requires-Dist: paddlepaddle")]
    assert paddle and all('extra == "cpu"' in line or 'extra == "test"' in line for line in paddle), paddle
    (cuda,) = [line for line in readme_install_lines() if "paddlepaddle-gpu" in line]
    assert cuda.endswith(f"&& pip install dist/{wheel.name}"), cuda  # the wheel without the cpu extra


def test_installed_native_module_links_the_vendored_copies(plain_venv):
    native = installed_native(plain_venv)
    ldd = subprocess.run(["ldd", str(native)], capture_output=True, text=True, timeout=60, check=True).stdout
    for library in VENDORED:
        (line,) = [line for line in ldd.splitlines() if library in line]
        assert "/pyml.libs/" in line, line
    assert "not found" not in ldd, ldd


def system_copies() -> list[Path]:
    """The system's files of the vendored libraries (symlinks resolved), to hide."""
    found = set()
    for folder in (Path("/lib/x86_64-linux-gnu"), Path("/usr/lib/x86_64-linux-gnu"), Path("/usr/lib"), Path("/lib")):
        for library in VENDORED:
            for path in folder.glob(f"{library}.so*"):
                found.add(path.resolve())
    return sorted(found)


# Runs inside the namespace, with the venv's python: each door a user meets first.
DRIVER = r"""
import shutil, signal, subprocess, sys
from pathlib import Path

compilers = [c for c in sys.argv[2].split(",") if shutil.which(c)]
assert not compilers, f"compilers on PATH: {compilers}"
for hidden in sys.argv[3].split(","):
    assert Path(hidden).stat().st_size == 0, f"{hidden} is not hidden"
subprocess.run([sys.executable, "-c", "import pyml._native"], check=True)

import pyml
image = str(Path(pyml.__file__).parent / "demo" / "images" / "digits_01.jpg")
quick = subprocess.run(["pyml", "--pipeline", "pyml_demo", "--input", image], capture_output=True, text=True)
assert quick.returncode == 0, quick.stderr
print("QUICK", quick.stdout.strip().splitlines()[-1])

server = subprocess.Popen(["pyml", "serve", "--pipeline", "pyml_demo", "--host", "127.0.0.1", "--port", "0"],
                          stdout=subprocess.PIPE, text=True)
ready = server.stdout.readline()
port = ready.split("gRPC on 127.0.0.1:")[1].split(",")[0]
answer = subprocess.run(["pyml", "client", "--target", f"127.0.0.1:{port}", "--input", image],
                        capture_output=True, text=True)
server.send_signal(signal.SIGTERM)
assert server.wait(60) == 0
assert answer.returncode == 0, answer.stderr
print("GRPC", answer.stdout.strip().splitlines()[-1])
"""


def test_quick_start_grpc_and_import_run_without_system_libraries_or_compiler(plain_venv, tmp_path):
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        pytest.skip("unshare/mount are not installed: the ldd test alone shows the vendored copies are used")
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, text=True, timeout=60)
    if probe.returncode != 0:
        pytest.skip(f"no mount namespace here ({probe.stderr.strip()}): the ldd test alone shows it")
    hidden = system_copies()
    assert hidden, "this machine has no system copies to hide; the test would prove nothing"
    (tmp_path / "driver.py").write_text(DRIVER)
    mounts = "".join(f"mount --bind /dev/null {path} && " for path in hidden)
    script = (
        f"{mounts}cd {tmp_path} && exec env -u PYTHONPATH PATH={plain_venv / 'bin'} HOME={tmp_path} "
        f"PYML_CACHE_DIR={tmp_path / 'cache'} python driver.py run {','.join(COMPILERS)} {','.join(map(str, hidden))}"
    )
    run = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "bash", "-c", script],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-5000:]
    quick = next(line for line in run.stdout.splitlines() if line.startswith("QUICK"))
    grpc = next(line for line in run.stdout.splitlines() if line.startswith("GRPC"))
    assert "label_names" in quick and "label_names" in grpc, run.stdout
    labels = re.search(r"'label_names': \[[^\]]*\]", quick).group(0)
    assert labels in grpc, (quick, grpc)  # one answer through both doors
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize("case", ["model_dir", "official", "eval"])
def test_plain_install_names_the_extra_in_one_line(plain_venv, lcnet_export, tmp_path, case):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    # nothing may be fetched: an empty PaddleX cache, and a mirror where nothing listens
    env.update(PYML_CACHE_DIR=str(tmp_path / "cache"), PADDLE_PDX_CACHE_HOME=str(tmp_path / "paddlex"))
    env["PYML_MODEL_MIRROR"] = "http://127.0.0.1:9"
    image = str(next((ROOT / "pyml" / "demo" / "images").glob("*.jpg")))
    args, extra = {
        "model_dir": (["--pipeline", "image_multilabel_classification", "--model_dir", str(lcnet_export),
                       "--input", image], "cpu"),
        "official": (["--pipeline", "image_multilabel_classification", "--input", image], "cpu"),
        "eval": (["eval", str(ROOT / "pyml" / "demo" / "model"), str(tmp_path)], "train"),
    }[case]  # fmt: skip
    run = subprocess.run(
        [str(plain_venv / "bin" / "pyml"), *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 2, run.stderr
    errors = [line for line in run.stderr.splitlines() if line.startswith("pyml")]
    assert len(errors) == 1 and f"pip install 'pyml[{extra}]'" in errors[0], run.stderr
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "paddlex").exists() or not any((tmp_path / "paddlex").rglob("*.pdiparams"))


def test_cpu_extra_runs_paddlex_pipeline_by_name_with_paddle(wheel, lcnet_export, tmp_path):
    (line,) = [line for line in readme_install_lines() if line.endswith('[cpu]"')]
    assert line == f'pip install "dist/{wheel.name}[cpu]"'
    venv = tmp_path / "venv"
    env = install(line, venv)
    official = tmp_path / "paddlex" / "official_models" / "PP-LCNet_x1_0_ML"
    shutil.copytree(lcnet_export, official)
    env.update(PADDLE_PDX_CACHE_HOME=str(tmp_path / "paddlex"), PYML_CACHE_DIR=str(tmp_path / "cache"))
    image = next((ROOT / "pyml" / "demo" / "images").glob("*.jpg"))
    run = subprocess.run(
        ["pyml", "--pipeline", "image_multilabel_classification", "--input", str(image), "--threshold", "0"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-4000:]
    assert "Traceback" not in run.stderr
    # the same answer as the checkout's Paddle backend on the same model
    here = subprocess.run(
        [sys.executable, "-m", "pyml.cli", "--pipeline", "image_multilabel_classification", "--model_dir",
         str(official), "--input", str(image), "--threshold", "0", "--backend", "paddle"],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert here.returncode == 0, here.stderr[-4000:]
    answer = re.compile(r"'class_ids'.*")
    assert answer.search(run.stdout).group(0) == answer.search(here.stdout).group(0)


@pytest.mark.needs_compiler
def test_find_package_pyml_from_the_installed_wheel(plain_venv, tmp_path):
    """A C++ host configures and builds against the wheel's C++ package (its static
    libraries link the -dev libraries the host has, which this machine has)."""
    cmake_dir = subprocess.run(
        [str(plain_venv / "bin" / "python"), "-c", "import pyml; print(pyml.cmake_dir())"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=True,
    ).stdout.strip()  # fmt: skip
    assert cmake_dir.startswith(str(plain_venv))
    build = tmp_path / "host"
    for step in (
        [
            "cmake",
            "-S",
            str(ROOT / "csrc" / "examples" / "preprocess_dir"),
            "-B",
            str(build),
            f"-Dpyml_DIR={cmake_dir}",
        ],
        ["cmake", "--build", str(build)],
    ):
        run = subprocess.run(step, capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
