#!/usr/bin/env bash
# Assembles PaddleClas' training engine, the path PaddleX's trainer runs
# (`tools/train.py -c <recipe>`), from what the package registry carries, for
# benchmarks/bench_train.py's baseline column:
# - the engine, data loader, losses and optimizers: the PaddleClas copy that the
#   paddlex 2.1.0 wheel ships (PaddleX 3 clones PaddleClas from a git host instead,
#   which this project's machines cannot reach; the paddleclas wheels and sdists
#   carry ppcls.arch and ppcls.utils only);
# - the networks (PP-LCNet and PP-HGNetV2 with the ML-Decoder head) and utils:
#   paddleclas 2.6.0's sdist, the same definitions `pyml train` builds.
# The engine predates paddle 3; seven small edits (below, each with its reason) make it
# run on the paddle this project uses. Prints the tree's path.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
TREE=${PYML_PADDLECLAS_TREE:-build/paddleclas-trainer}
if [ -f "$TREE/.assembled" ]; then
  echo "$TREE"
  exit 0
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
"$PYTHON" -m pip download -q --no-deps -d "$WORK" "paddlex==2.1.0" >&2
"$PYTHON" -m pip download -q --no-deps --no-binary :all: -d "$WORK" "paddleclas==2.6.0" >&2
(cd "$WORK" && "$PYTHON" -m zipfile -e paddlex-2.1.0-py3-none-any.whl wheel >&2 && tar xzf paddleclas-2.6.0.tar.gz)
rm -rf "$TREE.partial"
cp -r "$WORK/wheel/PaddleClas" "$TREE.partial"
rm -rf "$TREE.partial/ppcls/arch"
cp -r "$WORK/paddleclas-2.6.0/ppcls/arch" "$TREE.partial/ppcls/arch"
cp -r "$WORK/paddleclas-2.6.0/ppcls/utils/." "$TREE.partial/ppcls/utils/"

engine="$TREE.partial/ppcls/engine/engine.py"
# 2.6's build_model reads the whole config (Arch and the MLDecoder section).
sed -i 's/build_model(self.config\["Arch"\])/build_model(self.config)/' "$engine"
sed -i 's/apply_to_static(self.config, self.model)/apply_to_static(self.config, self.model, is_rec=False)/' "$engine"
# VisualDL is only used with Global.use_visualdl; paddle 3 has no paddle.fluid.
sed -i 's/^from visualdl import LogWriter/try:\n    from visualdl import LogWriter\nexcept ImportError:\n    LogWriter = None/' "$engine"
sed -i 's/paddle\.fluid\.set_flags/paddle.set_flags/' "$engine"
# 2.6's save_load has no URL loader; the benchmark never downloads.
sed -i 's/^from ppcls.utils.save_load import load_dygraph_pretrain, load_dygraph_pretrain_from_url/from ppcls.utils.save_load import load_dygraph_pretrain\nload_dygraph_pretrain_from_url = None/' "$engine"
# paddle 3 returns 0-d tensors for losses and metrics.
sed -i 's/metric_dict\[key\]\.numpy()\[0\]/float(metric_dict[key])/; s/loss_dict\[key\]\.numpy()\[0\]/float(loss_dict[key])/' \
  "$TREE.partial/ppcls/engine/train/utils.py"
# Cutout writes into the decoded picture, which current numpy/Pillow hand over read-only.
sed -i 's/^        h, w = img.shape\[:2\]$/        img = np.array(img)\n        h, w = img.shape[:2]/' \
  "$TREE.partial/ppcls/data/preprocess/ops/cutout.py"
grep -q 'build_model(self.config)' "$engine"
grep -q 'img = np.array(img)' "$TREE.partial/ppcls/data/preprocess/ops/cutout.py"
touch "$TREE.partial/.assembled"
rm -rf "$TREE"
mv "$TREE.partial" "$TREE"
echo "$TREE"
