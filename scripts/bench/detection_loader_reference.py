"""Reference for scripts/bench/detection_loader.ts: torchvision-style detection loading on the same images.

PIL decode + convert('RGB') -> Resize(800, max_size=1333) (bilinear, shorter side) -> horizontal flip -> ToTensor ->
Normalize(ImageNet), as torchvision's detection references prepare images (the resize that
GeneralizedRCNNTransform does is done here on the PIL image, the same Pillow resampling our `pillow` mode matches).

Two measurements on the same files:
- singleProcess: one image after the other in this process (torch.set_num_threads(THREADS)).
- dataLoader: torch.utils.data.DataLoader(num_workers=WORKERS, batch_size=2, collate_fn=list,
  persistent_workers=True), the way a torchvision training script loads, the images arriving as tensors in the main
  process; the second epoch is timed (worker start-up excluded, as in detection_loader.ts).

CPU time per image (user + system, all threads and worker processes) is reported next to the wall-clock rate: it
does not depend on what else the machine runs. Prints one JSON object. Usage: python3 detection_loader_reference.py THREADS WORKERS FILE [FILE ...]
"""
import json
import os
import sys
import time

import torch
import torchvision
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms as T

TRANSFORM = T.Compose([
    T.Resize(800, max_size=1333),
    T.RandomHorizontalFlip(p=1.0),
    T.ToTensor(),
    T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
])


class Files(Dataset):
    def __init__(self, files):
        self.files = files

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        return TRANSFORM(Image.open(self.files[i]).convert('RGB'))


def worker_cpu_seconds(loader) -> float:
    """User + system CPU of the DataLoader's live worker processes, from /proc/<pid>/stat (utime, stime)."""
    it = loader._iterator
    if it is None or not hasattr(it, '_workers'):
        return 0.0
    ticks = os.sysconf('SC_CLK_TCK')
    total = 0
    for w in it._workers:
        with open(f'/proc/{w.pid}/stat') as f:
            fields = f.read().rsplit(')', 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def main() -> None:
    threads = int(sys.argv[1])
    workers = int(sys.argv[2])
    files = sys.argv[3:]
    torch.set_num_threads(threads)
    for f in files[:2]:  # warm-up
        TRANSFORM(Image.open(f).convert('RGB'))
    t0 = time.perf_counter()
    c0 = time.process_time()
    shape = None
    for f in files:
        x = TRANSFORM(Image.open(f).convert('RGB'))
        shape = list(x.shape)
    single = time.perf_counter() - t0
    single_cpu = time.process_time() - c0

    loader = DataLoader(Files(files), batch_size=2, num_workers=workers, collate_fn=list,
                        persistent_workers=workers > 0)
    for batch in loader:  # warm-up epoch: starts the worker processes
        pass
    w0 = worker_cpu_seconds(loader)
    t0 = time.perf_counter()
    c0 = time.process_time()
    n = 0
    for batch in loader:
        n += len(batch)
    loaded = time.perf_counter() - t0
    loaded_cpu = time.process_time() - c0 + worker_cpu_seconds(loader) - w0
    assert n == len(files)
    print(json.dumps({
        'images': len(files),
        'singleProcess': {'seconds': single, 'imagesPerSecond': len(files) / single, 'threads': threads,
                          'cpuMsPerImage': 1000 * single_cpu / len(files)},
        'dataLoader': {'seconds': loaded, 'imagesPerSecond': len(files) / loaded, 'numWorkers': workers,
                       'cpuMsPerImage': 1000 * loaded_cpu / len(files),
                       'batchSize': 2, 'note': 'second epoch (persistent workers already started)'},
        'torch': torch.__version__, 'torchvision': torchvision.__version__, 'pillow': Image.__version__,
        'lastShapeCHW': shape, 'resize': 'torchvision Resize(800, max_size=1333)',
    }))


if __name__ == '__main__':
    main()
