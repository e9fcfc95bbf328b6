"""Reference figures for scripts/bench/resnet.ts: torchvision resnet50 at 224x224 on the given threads (all cores
by default).

Prints one JSON object: forward latency at batch 1 and one SGD training step at batch 4 (median of repeats, ms),
threads used, torch and torchvision versions. Run by the benchmark when /usr/bin/python3 can import torch.
"""
import json
import sys

import torch
import torchvision

from torch_common import header, median_ms, set_threads


def main():
    arch = sys.argv[1] if len(sys.argv) > 1 else "resnet50"
    size = int(sys.argv[2]) if len(sys.argv) > 2 else 224
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    set_threads(int(sys.argv[4]) if len(sys.argv) > 4 else None)
    model = getattr(torchvision.models, arch)()
    x1 = torch.randn(1, 3, size, size)
    model.eval()
    with torch.no_grad():
        fwd = median_ms(lambda: model(x1), 2, repeats)
    if "--forward-only" in sys.argv:
        print(json.dumps({**header(), "forward_b1_ms": fwd}))
        return
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    x4 = torch.randn(4, 3, size, size)
    y4 = torch.randint(0, 1000, (4,))

    def step():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x4), y4)
        loss.backward()
        opt.step()

    train = median_ms(step, 1, repeats)
    print(json.dumps({**header(), "forward_b1_ms": fwd, "train_step_b4_ms": train}))


if __name__ == "__main__":
    main()
