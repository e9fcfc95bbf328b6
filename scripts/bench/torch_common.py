"""What the torch reference scripts of scripts/bench/ share: thread count, median timing, the header of their JSON
object (implementation, versions, threads), peak RSS, and the detector measurement of faster_rcnn_torch.py and
retinanet_torch.py. Imported from the scripts' own folder (Python puts it first on sys.path).
"""
import ctypes
import json
import os
import resource
import statistics
import sys
import time

import torch
import torchvision


def loaded_blas():
    """The BLAS library this process loaded, as (kind, path): kind is "openblas", "mkl", "reference" (Netlib's
    unoptimized libblas, which Debian's torch uses until an optimized BLAS such as libopenblas0-pthread is
    installed) or "unknown". torch runs some convolutions through BLAS (1x1 ones on one thread, see
    aten/src/ATen/native/Convolution.cpp, `use_mkldnn`), so the reference's speed depends on it."""
    with open("/proc/self/maps") as maps:
        paths = {line.split()[-1] for line in maps if "/" in line}
    for path in sorted(paths):
        real = os.path.realpath(path)
        name = os.path.basename(real)
        if "openblas" in real:
            return "openblas", real
        if name.startswith("libmkl"):
            return "mkl", real
        if name.startswith("libblas.so"):
            return "reference", real
    return "unknown", ""


def set_threads(threads, seed=0):
    """Use `threads` intra-op threads (None: torch's default, all cores) and seed torch's global generator.

    OpenBLAS keeps its own thread pool, which torch.set_num_threads does not size (Debian's torch 1.13): without
    openblas_set_num_threads a "1 thread" reference ran its BLAS calls on every core."""
    if threads is not None:
        torch.set_num_threads(threads)
        kind, path = loaded_blas()
        if kind == "openblas":
            ctypes.CDLL(path).openblas_set_num_threads(threads)
    torch.manual_seed(seed)


def median_ms(fn, warmup, repeats):
    """Median wall time of `fn()` in ms over `repeats` runs, after `warmup` untimed runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000.0)
    return statistics.median(times)


def header():
    """The first fields of every reference's JSON object: implementation, torch and torchvision versions, threads."""
    return {"impl": "torchvision", "torch": torch.__version__, "torchvision": torchvision.__version__,
            "threads": torch.get_num_threads(), "blas": loaded_blas()[0]}


def peak_rss_mb():
    """Peak resident set size of this process in MB (2^20 bytes; Linux reports ru_maxrss in KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def detector_figures(model, h, w, repeats):
    """Inference latency (eval mode, batch 1, with post-processing) and one SGD training step (batch 1, two
    ground-truth boxes; lr 0.01, momentum 0.9, weight decay 1e-4) of a torchvision detector on one random image of
    h x w pixels, medians in ms after one warm-up, with the header and peak RSS.

    The benchmarks build their detectors as torchvision does with pretrained weights (FrozenBatchNorm2d, stem and
    layer1 frozen: trainable_backbone_layers=3), 91 classes, random weights; the image is already at the benchmark
    size, so GeneralizedRCNNTransform's resize is a scale of 1."""
    image = torch.rand(3, h, w)
    model.eval()
    with torch.no_grad():
        infer = median_ms(lambda: model([image]), 1, repeats)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=0.01, momentum=0.9, weight_decay=1e-4)
    target = {"boxes": torch.tensor([[10.0, 10.0, 60.0, 70.0], [100.0, 100.0, 150.0, 140.0]]), "labels": torch.tensor([1, 2])}

    def step():
        opt.zero_grad()
        losses = model([image], [target])
        sum(losses.values()).backward()
        opt.step()

    train = median_ms(step, 1, repeats)
    return {**header(), "inference_b1_ms": infer, "train_step_b1_ms": train, "peak_rss_mb": peak_rss_mb()}


def detector_main(build):
    """Command line of the detector references, `SCRIPT HEIGHT WIDTH [REPEATS=3] [THREADS=2]`: builds the model with
    `build(h, w)` (random weights, seed 0, 91 classes) and prints `detector_figures` as one JSON object."""
    h, w = int(sys.argv[1]), int(sys.argv[2])
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    set_threads(int(sys.argv[4]) if len(sys.argv) > 4 else 2)
    print(json.dumps(detector_figures(build(h, w), h, w, repeats)))
