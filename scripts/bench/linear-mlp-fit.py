#!/usr/bin/env python3
"""How much of each MLP's output a linear map from its input explains (issue 19, session 25).

Fits, per layer, an affine map mlp_in -> mlp_out by ridge least squares on the first shards of a
dump and prints its NMSE on held-out shards, over all tokens and over the typical tokens (squared
norm at most 50 x the layer's median, as clt-fit --eval's typical NMSE): what a transcoder's skip
connection (clt-fit --skip) can take off its features.

    python3 scripts/bench/linear-mlp-fit.py TRAIN_DIR HELDOUT_DIR [--shards 3] [--ridge 1e-3]

Needs numpy and h5py (pip install h5py). The demo's shards: results/acts/smollm2-135m-ctx256-*.
"""
import argparse
import glob
import os

import h5py
import numpy as np


def read(paths):
    xs, ys = [], []
    for path in paths:
        with h5py.File(path, "r") as f:
            xs.append(f["mlp_in"][:])
            ys.append(f["mlp_out"][:])
    return np.concatenate(xs), np.concatenate(ys)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("train")
    parser.add_argument("heldout")
    parser.add_argument("--shards", type=int, default=3, help="training shards to fit on")
    parser.add_argument("--ridge", type=float, default=1e-3, help="ridge, relative to the mean diagonal")
    args = parser.parse_args()
    shards = lambda d: sorted(glob.glob(os.path.join(d, "shard-*.h5")))
    x, y = read(shards(args.train)[: args.shards])
    xh, yh = read(shards(args.heldout))
    layers, d = x.shape[1], x.shape[2]
    print(f"fitted on {len(x)} tokens, scored on {len(xh)}")
    every, typical = [], []
    for l in range(layers):
        a = np.hstack([x[:, l].astype(np.float64), np.ones((len(x), 1))])
        gram = a.T @ a
        gram[np.diag_indices(d)] += args.ridge * np.trace(gram) / (d + 1)
        w = np.linalg.solve(gram, a.T @ y[:, l].astype(np.float64))
        target = yh[:, l].astype(np.float64)
        error = ((np.hstack([xh[:, l], np.ones((len(xh), 1))]) @ w - target) ** 2).sum(1)
        squares = (target**2).sum(1)
        kept = squares <= 50 * np.median(squares)
        nmse = lambda m: error[m].sum() / ((target[m] - target[m].mean(0)) ** 2).sum()
        every.append(nmse(np.ones(len(target), bool)))
        typical.append(nmse(kept))
    print("held-out NMSE per layer:", " ".join(f"{v:.3f}" for v in every))
    print(f"mean {np.mean(every):.4f}")
    print("typical tokens per layer:", " ".join(f"{v:.3f}" for v in typical))


if __name__ == "__main__":
    main()
