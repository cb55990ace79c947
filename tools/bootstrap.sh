#!/usr/bin/env bash
# Installs what pyml needs on a fresh Debian/Ubuntu machine, then pyml itself
# (editable, with the test extras). Safe to run again: it skips what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(g++ pkg-config libturbojpeg0-dev libjpeg62-turbo-dev libpng-dev libgtest-dev)

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
echo "bootstrap: pyml $("$PYTHON" -c 'import pyml; print(pyml.__version__)') is installed" >&2
