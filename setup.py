"""Builds pyml's native module through CMake (the one build description).

Honours CMAKE_ARGS (extra configure flags) and CMAKE_BUILD_PARALLEL_LEVEL
(parallel jobs), like other CMake-driven Python packages.
"""

import os
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py

ROOT = Path(__file__).parent.resolve()
CPP_PACKAGE_DIR = "cpp"  # pyml/cpp: the C++ package inside the Python one (pyml.cmake_dir())


def generate_grpc_stubs() -> None:
    """proto/pyml/v1/*.proto -> pyml/v1/*_pb2*.py (generated, never committed)."""
    from grpc_tools import protoc

    protos = sorted(str(p.relative_to(ROOT / "proto")) for p in (ROOT / "proto").rglob("*.proto"))
    out = ROOT / "pyml" / "v1"
    out.mkdir(exist_ok=True)
    (out / "__init__.py").write_text(STUBS_INIT)
    include = Path(protoc.__file__).parent / "_proto"
    args = [
        "protoc",
        f"-I{ROOT / 'proto'}",
        f"-I{include}",
        f"--python_out={ROOT}",
        f"--pyi_out={ROOT}",
        f"--grpc_python_out={ROOT}",
        *protos,
    ]
    if protoc.main(args) != 0:
        raise RuntimeError("protoc failed on " + " ".join(protos))
    for module in out.glob("*_pb2.py"):
        _use_private_pool(module)


# pyml's messages go into a descriptor pool of its own, not protobuf's default one: the
# KServe messages (package `inference`) would otherwise collide with any other copy of
# them in the process, e.g. tritonclient's ("duplicate symbol 'inference.ServerLiveRequest'").
# Only the Python objects move; the wire form (service and message names, field numbers)
# is the .proto's.
STUBS_INIT = '''"""Generated gRPC stubs of proto/pyml/v1 (see setup.py), in POOL, pyml's own descriptor pool."""
from google.protobuf import descriptor_pool

POOL = descriptor_pool.DescriptorPool()
'''
DEFAULT_POOL_CALL = "_descriptor_pool.Default().AddSerializedFile("


def _use_private_pool(module: Path) -> None:
    text = module.read_text(encoding="utf-8")
    if DEFAULT_POOL_CALL not in text:
        raise RuntimeError(f"{module}: protoc's output changed shape; cannot move it to pyml's pool")
    text = text.replace(DEFAULT_POOL_CALL, "_pyml_pool.AddSerializedFile(")
    text = text.replace(
        "# @@protoc_insertion_point(imports)",
        "from pyml.v1 import POOL as _pyml_pool\n# @@protoc_insertion_point(imports)",
        1,
    )
    module.write_text(text, encoding="utf-8")


class CMakeExtension(Extension):
    def __init__(self, name: str) -> None:
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext: Extension) -> None:
        import pybind11

        # The directory that must receive _native*.so (works for wheel and editable builds).
        ext_dir = Path(self.get_ext_fullpath(ext.name)).parent.resolve()
        build_type = os.environ.get("PYML_BUILD_TYPE", "Release")
        build_temp = Path(self.build_temp) / ext.name
        build_temp.mkdir(parents=True, exist_ok=True)
        configure = [
            "cmake",
            str(ROOT),
            f"-DCMAKE_LIBRARY_OUTPUT_DIRECTORY={ext_dir}",
            f"-DCMAKE_BUILD_TYPE={build_type}",
            f"-DPython_EXECUTABLE={sys.executable}",
            f"-Dpybind11_DIR={pybind11.get_cmake_dir()}",
            "-DPYML_BUILD_PYTHON=ON",
            "-DPYML_BUILD_TESTS=OFF",
            "-DCMAKE_INSTALL_LIBDIR=lib",  # the same layout on every distribution: pyml/cpp/lib/cmake/pyml
            *os.environ.get("CMAKE_ARGS", "").split(),
        ]
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 2))
        subprocess.run(configure, cwd=build_temp, check=True)
        subprocess.run(["cmake", "--build", ".", "-j", jobs], cwd=build_temp, check=True)
        # The C++ package (headers, static libraries, CMake config) travels in the wheel as
        # pyml/cpp, for find_package(pyml) with pyml.cmake_dir(); the same files as
        # `cmake --install` gives a C++ user of a checkout.
        subprocess.run(["cmake", "--install", ".", "--prefix", str(ext_dir / CPP_PACKAGE_DIR)], cwd=build_temp,
                       check=True, stdout=subprocess.DEVNULL)  # fmt: skip


class BuildPy(build_py):
    """The gRPC stubs are build output, like _native: made here, in the build step (wheels
    and editable installs both run it), and added to the packages it copies."""

    def run(self) -> None:
        generate_grpc_stubs()
        if "pyml.v1" not in self.packages:
            self.packages.append("pyml.v1")
        super().run()


setup(
    ext_modules=[CMakeExtension("pyml._native")],
    cmdclass={"build_ext": CMakeBuild, "build_py": BuildPy},
)
