#!/usr/bin/env python3
"""PyTorch peer of the GPU benchmark (bench/gpu/device-check.sh): the Fashion-MNIST MLP 784-256-128-10 (ReLU,
cross-entropy, SGD momentum 0.9, lr 0.05) trained on a CUDA device, the data set held on the device as uint8
and converted per batch, as `backprop train --device cuda` does. Prints one JSON line per setting:
{"setting", "batch", "samples_per_second" (median epoch after the first), "epoch_seconds"}.

    python3 torch_fmnist_cuda.py IMAGES.npy LABELS.npy BATCH [EPOCHS]

Settings: "eager" (torch.optim.SGD's default foreach implementation) and "fused" (fused=True, where this
torch has it); the benchmark reports the better one. TF32 stays off (torch's default for float32 matmul), as
in backprop, so both do full float32 products.
"""
import json
import statistics
import sys
import time

import numpy as np
import torch


def epochs_seconds(images, labels, batch, epochs, fused):
    torch.manual_seed(0)
    device = torch.device("cuda")
    model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 128),
                                torch.nn.ReLU(), torch.nn.Linear(128, 10)).to(device)
    options = {"fused": True} if fused else {}
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, **options)
    loss_function = torch.nn.CrossEntropyLoss()
    rows = images.shape[0]
    seconds = []
    for _ in range(epochs):
        torch.cuda.synchronize()
        start = time.perf_counter()
        order = torch.randperm(rows, device=device)
        for first in range(0, rows, batch):
            index = order[first:first + batch]
            x = images[index].float().div_(255.0)
            y = labels[index]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_function(model(x), y)
            loss.backward()
            optimizer.step()
        torch.cuda.synchronize()
        seconds.append(time.perf_counter() - start)
    return seconds


def main():
    images_path, labels_path, batch = sys.argv[1], sys.argv[2], int(sys.argv[3])
    epochs = int(sys.argv[4]) if len(sys.argv) > 4 else 5
    torch.backends.cuda.matmul.allow_tf32 = False
    images = torch.from_numpy(np.load(images_path)).reshape(-1, 784).cuda()
    labels = torch.from_numpy(np.load(labels_path).astype(np.int64)).cuda()
    for setting in ("eager", "fused"):
        try:
            seconds = epochs_seconds(images, labels, batch, epochs, setting == "fused")
        except (TypeError, RuntimeError) as error:  # a torch without fused SGD
            print(json.dumps({"setting": setting, "batch": batch, "error": str(error)}), flush=True)
            continue
        median = statistics.median(seconds[1:] if len(seconds) > 1 else seconds)
        print(json.dumps({"setting": setting, "batch": batch, "samples_per_second": images.shape[0] / median,
                          "epoch_seconds": median}), flush=True)


if __name__ == "__main__":
    main()
