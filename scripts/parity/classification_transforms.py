"""Golden values for datasets/pipeline classification_presets (eval path) against torchvision.

Generates synthetic RGB images from a closed-form pattern (the TypeScript test builds the same pixels), applies
torchvision's ImageNet eval transforms on PIL images (Resize(shorter side, bilinear) -> CenterCrop), and writes the
uint8 results to test/golden/classification_transforms.json.

Run: /usr/bin/python3 scripts/parity/classification_transforms.py   (needs torchvision, PIL, numpy; never run in CI)
"""
import json
import os

import numpy as np
import PIL
import torchvision
from PIL import Image
from torchvision import transforms as T


def pattern(h, w):
    # Smooth gradients plus a mild texture, uint8 [H, W, 3]; must match patternImage() in the TypeScript test.
    y, x = np.mgrid[0:h, 0:w]
    out = np.zeros((h, w, 3), dtype=np.int64)
    out[..., 0] = (x * 255) // max(w - 1, 1)
    out[..., 1] = (y * 255) // max(h - 1, 1)
    out[..., 2] = ((x * 7 + y * 13) % 64) * 4
    return out.astype(np.uint8)


CASES = [
    # (name, H, W, resize, crop)
    ("small_up", 37, 53, 48, 40),
    ("down_1.2x", 37, 53, 32, 28),
    ("down_4.6x", 150, 230, 32, 28),
]


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    cases = []
    for name, h, w, resize, crop in CASES:
        img = Image.fromarray(pattern(h, w))
        t = T.Compose([T.Resize(resize, interpolation=T.InterpolationMode.BILINEAR), T.CenterCrop(crop)])
        out = np.asarray(t(img))
        cases.append({"name": name, "height": h, "width": w, "resize": resize, "crop": crop,
                      "output": out.reshape(-1).tolist()})
    doc = {
        "generator": "scripts/parity/classification_transforms.py",
        "reference": f"torchvision {torchvision.__version__}, PIL {PIL.__version__}: "
                     "T.Resize(resize, BILINEAR) + T.CenterCrop(crop) on PIL RGB images",
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
