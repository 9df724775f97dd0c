#!/usr/bin/env python3
"""Writes activation shards of a chosen shape (docs/FORMATS.md, "Activation shards") filled with
random activations, for timing clt-fit at a model's sizes without running the model.

The shapes, not the values, set a training step's cost: the encoder's product is dense and
BatchTopK fixes the number of active features at k a token. Inputs are Gaussian; each layer's
output is a fixed random linear map of the input's positive part, so the CLT has something to fit.
Needs numpy and h5py.

  make_synthetic_shards.py --out DIR --layers 30 --d-model 576 --rows 2048 --shards 4
"""
import argparse
import os

import h5py
import numpy as np


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--layers", type=int, default=30)
    parser.add_argument("--d-model", type=int, default=576)
    parser.add_argument("--rows", type=int, default=2048, help="rows (tokens) per shard")
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    L, d, n = args.layers, args.d_model, args.rows
    maps = rng.standard_normal((L, d, d)).astype(np.float32) / np.sqrt(d)
    for s in range(args.shards):
        x = rng.standard_normal((n, L, d)).astype(np.float32)
        y = np.matmul(np.maximum(x, 0).transpose(1, 0, 2), maps).transpose(1, 0, 2)  # (n, L, d)
        path = os.path.join(args.out, f"shard-{s:06d}.h5")
        with h5py.File(path + ".tmp", "w") as f:
            f.attrs["format_version"] = np.int64(1)
            f.attrs["architecture"] = "synthetic"
            f.attrs["model"] = f"synthetic-{L}x{d}"
            f.attrs["model_sha256"] = "0" * 64
            f.attrs["n_layers"] = np.int64(L)
            f.attrs["d_model"] = np.int64(d)
            f.attrs["context"] = np.int64(n)
            f.attrs["dtype"] = "f16"
            f.attrs["input_tap"] = "synthetic x"
            f.attrs["output_tap"] = "synthetic y"
            f.attrs["created_by"] = "make_synthetic_shards.py"
            f.create_dataset("mlp_in", data=x.astype(np.float16))
            f.create_dataset("mlp_out", data=y.astype(np.float16))
            f.create_dataset("tokens", data=np.zeros(n, dtype=np.int32))
            f.create_dataset("positions", data=np.arange(n, dtype=np.int32))
            f.create_dataset("windows", data=np.zeros(n, dtype=np.int32))
        os.replace(path + ".tmp", path)


if __name__ == "__main__":
    main()
