"""Reference for scripts/bench/detection_loader.ts: torchvision-style detection loading on the same images.

PIL decode + convert('RGB') -> Resize(800, max_size=1333) (bilinear, shorter side) -> horizontal flip -> ToTensor ->
Normalize(ImageNet). Prints one JSON object: {"images": n, "seconds": s, "imagesPerSecond": r, "threads": t}.
Usage: python3 detection_loader_reference.py THREADS FILE [FILE ...]
"""
import json
import sys
import time

import torch
from PIL import Image
from torchvision import transforms as T
from torchvision.transforms import functional as F


def main() -> None:
    threads = int(sys.argv[1])
    files = sys.argv[2:]
    torch.set_num_threads(threads)
    tf = T.Compose([
        T.Resize(800, max_size=1333),
        T.RandomHorizontalFlip(p=1.0),
        T.ToTensor(),
        T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    ])
    for f in files[:2]:  # warm-up
        tf(Image.open(f).convert('RGB'))
    t0 = time.perf_counter()
    shape = None
    for f in files:
        x = tf(Image.open(f).convert('RGB'))
        shape = list(x.shape)
    dt = time.perf_counter() - t0
    print(json.dumps({'images': len(files), 'seconds': dt, 'imagesPerSecond': len(files) / dt, 'threads': threads,
                      'torch': torch.__version__, 'lastShapeCHW': shape, 'resize': 'torchvision Resize(800, max_size=1333)'}))


if __name__ == '__main__':
    main()
