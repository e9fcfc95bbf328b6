"""Golden values for datasets/pipeline classification_presets (eval path) against torchvision.

Generates synthetic RGB images from a closed-form pattern (the TypeScript test builds the same pixels), applies
torchvision's ImageNet eval transforms (Resize(shorter side) -> CenterCrop) and RandomResizedCrop's resize step
(F.resized_crop with fixed windows) on PIL images, and writes the uint8 results to test/golden/classification_transforms.json.

Run: /usr/bin/python3 scripts/parity/classification_transforms.py   (needs torchvision, PIL, numpy; never run in CI)
"""
import json
import os

import numpy as np
import PIL
import torchvision
from PIL import Image
from torchvision import transforms as T
from torchvision.transforms import functional as F


def pattern(h, w):
    # Smooth gradients plus a mild texture, uint8 [H, W, 3]; must match patternImage() in the TypeScript test.
    y, x = np.mgrid[0:h, 0:w]
    out = np.zeros((h, w, 3), dtype=np.int64)
    out[..., 0] = (x * 255) // max(w - 1, 1)
    out[..., 1] = (y * 255) // max(h - 1, 1)
    out[..., 2] = ((x * 7 + y * 13) % 64) * 4
    return out.astype(np.uint8)


MODES = {"bilinear": T.InterpolationMode.BILINEAR, "bicubic": T.InterpolationMode.BICUBIC,
         "nearest": T.InterpolationMode.NEAREST}

# Eval preset: Resize(resize) on the shorter side + CenterCrop(crop).
EVAL_CASES = [
    # (name, H, W, resize, crop, interpolation)
    ("eval_up", 37, 53, 48, 40, "bilinear"),
    ("eval_down_1.2x", 37, 53, 32, 28, "bilinear"),
    ("eval_down_4.6x", 150, 230, 32, 28, "bilinear"),
    ("eval_up_bicubic", 37, 53, 48, 40, "bicubic"),
    ("eval_down_bicubic", 150, 230, 32, 28, "bicubic"),
]
# RandomResizedCrop with a fixed window: F.resized_crop(img, top, left, h, w, size).
RESIZED_CROP_CASES = [
    # (name, H, W, top, left, h, w, size, interpolation)
    ("rrc_down", 150, 230, 10, 20, 90, 120, 24, "bilinear"),
    ("rrc_up", 37, 53, 5, 7, 20, 30, 64, "bilinear"),
    ("rrc_nearest", 37, 53, 3, 4, 30, 41, 17, "nearest"),
]


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    cases = []
    for name, h, w, resize, crop, interp in EVAL_CASES:
        img = Image.fromarray(pattern(h, w))
        t = T.Compose([T.Resize(resize, interpolation=MODES[interp]), T.CenterCrop(crop)])
        out = np.asarray(t(img))
        cases.append({"name": name, "op": "eval", "height": h, "width": w, "resize": resize, "crop": crop,
                      "interpolation": interp, "output": out.reshape(-1).tolist()})
    for name, h, w, top, left, ch, cw, size, interp in RESIZED_CROP_CASES:
        img = Image.fromarray(pattern(h, w))
        out = np.asarray(F.resized_crop(img, top, left, ch, cw, [size, size], interpolation=MODES[interp]))
        cases.append({"name": name, "op": "resized_crop", "height": h, "width": w,
                      "window": {"top": top, "left": left, "height": ch, "width": cw}, "size": size,
                      "interpolation": interp, "output": out.reshape(-1).tolist()})
    doc = {
        "generator": "scripts/parity/classification_transforms.py",
        "reference": f"torchvision {torchvision.__version__}, PIL {PIL.__version__}: "
                     "T.Resize(resize) + T.CenterCrop(crop), F.resized_crop on PIL RGB images",
        "seed": None,
        "cases": cases,
    }
    path = os.path.join(root, "test", "golden", "classification_transforms.json")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f)
    os.replace(tmp, path)
    print("wrote", path)


if __name__ == "__main__":
    main()
