#!/usr/bin/env bash
# Installs what pyml needs on a fresh Debian/Ubuntu machine, then pyml itself
# (editable, with the test extras). Safe to run again: it skips what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(g++ pkg-config libturbojpeg0-dev libjpeg62-turbo-dev libpng-dev libgtest-dev libyaml-cpp-dev
                 libgrpc++-dev libprotobuf-dev protobuf-compiler-grpc clang libclang-rt-14-dev
                 fonts-dejavu-core fonts-wqy-microhei chromium chromium-driver
                 libimage-exiftool-perl)  # exiftool: the tests' independent reader of photo metadata

missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: installing Debian packages: ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

PYTHON=${PYTHON:-python3}
"$PYTHON" -m pip install -q --upgrade pip
"$PYTHON" -m pip install -q cmake ninja
"$PYTHON" -m pip install -q -e ".[test]"
# The architecture definitions for tools/ (and the tests that export models).
# paddleclas 2.6 pins numpy 1.24 and an old OpenCV for parts pyml never imports,
# so it is installed without its dependencies (pyml[train] has the few its arch modules use).
"$PYTHON" -m pip install -q --no-deps "paddleclas==2.6.0"
echo "bootstrap: pyml $("$PYTHON" -c 'import pyml; print(pyml.__version__)') is installed" >&2
