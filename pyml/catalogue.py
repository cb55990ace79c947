"""The six official PaddleX multi-label models, one row each: every fact pyml keeps about
them lives here, and the modules that need one read it from this table (models.py for
names, downloads and `pyml models`; train/networks.py for the training architecture;
backends/parity.py for the tolerance).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class OfficialModel:
    name: str
    map: float  # mAP on COCO2017 multi-label, as PaddleX publishes it
    size_mb: float  # the inference model's size, as PaddleX publishes it
    # The parity rule's absolute tolerance on scores (backends/parity.py): measured
    # max |diff| between two exact float32 runs of pyml's calibrated random-weight export
    # (in the comment of each row), rounded up with margin.
    parity_atol: float
    # The Arch and MLDecoder sections of PaddleX's training config
    # (paddlex/repo_apis/PaddleClas_api/configs/<model>.yaml); class counts are set per dataset.
    architecture: dict[str, Any] = field(repr=False)
    input_size: int = 448  # the exported model's input, square


def _arch(name: str, in_channels: int, **decoder: Any) -> dict[str, Any]:
    return {"Arch": {"name": name}, "MLDecoder": {"query_num": 80, "in_channels": in_channels, **decoder}}


OFFICIAL_MODELS: dict[str, OfficialModel] = {
    m.name: m
    for m in (
        OfficialModel("PP-LCNet_x1_0_ML", 77.96, 29.4, 2e-4, _arch("PPLCNet_x1_0", 1280)),  # 1.8e-5
        OfficialModel("PP-HGNetV2-B0_ML", 80.98, 39.6, 1e-4, _arch("PPHGNetV2_B0", 2048)),  # 7.5e-6
        OfficialModel("PP-HGNetV2-B4_ML", 87.96, 88.5, 2e-3, _arch("PPHGNetV2_B4", 2048)),  # 1.1e-4
        # 8.4e-3: 174 random BatchNorm layers amplify rounding about 1e5-fold; six times it,
        # still several times below what a defect does to this network.
        OfficialModel("PP-HGNetV2-B6_ML", 91.25, 286.5, 5e-2, _arch("PPHGNetV2_B6", 2048)),
        OfficialModel("ResNet50_ML", 83.50, 108.9, 1e-3, _arch("ResNet50", 2048)),  # 7.0e-5
        OfficialModel(
            "CLIP_vit_base_patch16_448_ML",
            89.15,
            325.6,
            2e-5,  # 1.1e-6
            {
                "Arch": {"name": "CLIP_vit_base_patch16_224", "return_embed": False, "use_fused_attn": False},
                "MLDecoder": {"query_num": 80, "in_channels": 768, "remove_layers": [], "replace_layer": "head"},
            },
        ),
    )
}

# COCO's own supercategory of each of its 80 labels (the "supercategory" field of COCO
# 2017's annotation files), under PaddleX's spelling of the labels: the categories of the
# official models, whose labels are COCO's.
COCO_SUPERCATEGORIES: dict[str, tuple[str, ...]] = {
    "person": ("person",),
    "vehicle": ("bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat"),
    "outdoor": ("traffic light", "fire hydrant", "stop sign", "parking meter", "bench"),
    "animal": ("bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe"),
    "accessory": ("backpack", "umbrella", "handbag", "tie", "suitcase"),
    "sports": (
        "frisbee", "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard",
        "surfboard", "tennis racket",
    ),
    "kitchen": ("bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl"),
    "food": ("banana", "apple", "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake"),
    "furniture": ("chair", "couch", "potted plant", "bed", "dining table", "toilet"),
    "electronic": ("tv", "laptop", "mouse", "remote", "keyboard", "cell phone"),
    "appliance": ("microwave", "oven", "toaster", "sink", "refrigerator"),
    "indoor": ("book", "clock", "vase", "scissors", "teddy bear", "hair drier", "toothbrush"),
}  # fmt: skip
COCO_CATEGORY_OF = {label: category for category, labels in COCO_SUPERCATEGORIES.items() for label in labels}


def categories_for(labels: list[str], declared: list[str]) -> list[str]:
    """Each label's category: the model's own (inference.yml's Global.pyml_categories),
    else COCO's for a model whose labels are all COCO's, else "" (none)."""
    if declared:
        return list(declared)
    if labels and all(label in COCO_CATEGORY_OF for label in labels):
        return [COCO_CATEGORY_OF[label] for label in labels]
    return [""] * len(labels)


__all__ = ["COCO_CATEGORY_OF", "COCO_SUPERCATEGORIES", "OFFICIAL_MODELS", "OfficialModel", "categories_for"]
