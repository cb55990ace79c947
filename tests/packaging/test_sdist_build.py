"""Building from source (the sdist, or a checkout) where a library is missing stops at
configure time with one line that names the library and the package providing it on
Debian/Ubuntu, Fedora and Homebrew."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "hide, env, library, packages",
    [
        ([], {"PKG_CONFIG_LIBDIR": "/nonexistent"}, "libturbojpeg",
         ("libturbojpeg0-dev", "turbojpeg-devel", "jpeg-turbo")),
        (["-DCMAKE_DISABLE_FIND_PACKAGE_PNG=ON"], {}, "libpng", ("libpng-dev", "libpng-devel", "brew install libpng")),
        (["-DCMAKE_DISABLE_FIND_PACKAGE_yaml-cpp=ON", "-DPYML_BUILD_TESTS=ON"], {}, "yaml-cpp",
         ("libyaml-cpp-dev", "yaml-cpp-devel", "brew install yaml-cpp")),
        (["-DCMAKE_DISABLE_FIND_PACKAGE_GTest=ON", "-DPYML_BUILD_TESTS=ON"], {}, "GoogleTest",
         ("libgtest-dev", "gtest-devel", "googletest")),
    ],
)  # fmt: skip
def test_a_missing_library_is_one_line_naming_its_packages(tmp_path, hide, env, library, packages):
    run = subprocess.run(
        ["cmake", "-S", str(ROOT), "-B", str(tmp_path / "build"), "-DPYML_BUILD_PYTHON=OFF", *hide],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode != 0
    lines = [line for line in run.stderr.splitlines() if "pyml needs" in line]
    assert len(lines) == 1, run.stderr
    assert f"pyml needs {library}" in lines[0]
    for package in packages:
        assert package in lines[0], (package, lines[0])
    assert "Debian/Ubuntu" in lines[0] and "Fedora" in lines[0] and "Homebrew" in lines[0]
