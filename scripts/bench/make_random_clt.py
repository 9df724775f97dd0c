#!/usr/bin/env python3
"""Writes a random, untrained clt.h5 for the model whose activation shard is given: for timing the
replacement model (`clt-replace --clt`) where training a real transcoder would take hours.

The file follows docs/FORMATS.md ("Cross-layer transcoder"), with the model's identity (architecture,
model, model_sha256, taps) copied from the shard, so clt-replace accepts it for that model. The
normalisation scales are measured on the shard's rows, each feature's encoder bias is set so that it
fires on about --l0 / --features of them, and the activation is TopK with k = --l0: exactly that many
features fire per token and layer. (As a JumpReLU, its noisy reconstructions push the replacement
model's residual stream where about 350 fire a layer, five times what a trained CLT's do, and the
benchmark would time a transcoder nobody trains.) The replacement then does the work a trained CLT
with that L0 does. Its reconstructions are noise; only its speed means anything.

Usage: python3 scripts/bench/make_random_clt.py SHARD.h5 -o clt.h5 --features 4096 --l0 64
"""
import argparse

import h5py
import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("shard")
    parser.add_argument("-o", "--output", required=True)
    parser.add_argument("--features", type=int, default=4096)
    parser.add_argument("--l0", type=int, default=64, help="features active per token and layer")
    parser.add_argument("--rows", type=int, default=2048, help="shard rows used to set scales and biases")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    with h5py.File(args.shard, "r") as shard:
        attrs = {k: shard.attrs[k] for k in shard.attrs}
        x_all = shard["mlp_in"][: args.rows].astype(np.float32)    # (N, L, d)
        y_all = shard["mlp_out"][: args.rows].astype(np.float32)
    n_layers, d = int(attrs["n_layers"]), int(attrs["d_model"])
    f = args.features

    def scale(v):
        m = float(np.mean(np.sum(v.astype(np.float64) ** 2, axis=-1)))
        return np.float32(np.sqrt(d / m)) if m > 0 else np.float32(1)

    in_scales = np.array([scale(x_all[:, l]) for l in range(n_layers)], dtype=np.float32)
    out_scales = np.array([scale(y_all[:, l]) for l in range(n_layers)], dtype=np.float32)
    fire = 1 - args.l0 / f

    def s(text):
        return text.decode() if isinstance(text, bytes) else str(text)

    with h5py.File(args.output, "w") as out:
        for name, value in [("format_version", 2), ("n_layers", n_layers), ("d_model", d), ("features", f), ("k", args.l0),
                            ("warmup_steps", 0), ("batch", 1), ("planned_steps", 0), ("shuffle_rows", 1),
                            ("dead_window", 1), ("seed", args.seed), ("steps", 0), ("tokens_seen", 0)]:
            out.attrs[name] = np.int64(value)
        for name in ["lambda", "tanh_scale", "preact_lambda", "bandwidth", "learning_rate", "decay_fraction",
                     "gradient_clip"]:
            out.attrs[name] = np.float64(0)
        out.attrs["initial_threshold"] = np.float64(1)
        out.attrs["initial_l0"] = np.float64(args.l0)
        out.attrs["activation"] = "topk"
        for name in ["architecture", "model", "model_sha256", "input_tap", "output_tap"]:
            out.attrs[name] = s(attrs[name])
        out.attrs["created_by"] = "make_random_clt.py (random, for timing only)"
        dec_std = 1 / np.sqrt(args.l0 * n_layers)
        for l in range(n_layers):
            w_enc = (rng.standard_normal((f, d), dtype=np.float32) / np.sqrt(d)).astype(np.float32)
            h = (x_all[:, l] * in_scales[l]) @ w_enc.T                   # (N, F)
            # With θ = 1: a feature fires where h + b_enc > 1, i.e. above its `fire` quantile.
            b_enc = (1 - np.quantile(h, fire, axis=0)).astype(np.float32)
            out["W_enc_%d" % l] = w_enc
            out["b_enc_%d" % l] = b_enc
            out["log_threshold_%d" % l] = np.zeros(f, dtype=np.float32)
            for target in range(l, n_layers):
                out["W_dec_%d_%d" % (l, target)] = (
                    rng.standard_normal((f, d), dtype=np.float32) * dec_std).astype(np.float32)
            out["b_dec_%d" % l] = np.zeros(d, dtype=np.float32)
            out["frequency_%d" % l] = np.full(f, args.l0 / f, dtype=np.float32)
        out["input_scale"] = in_scales
        out["output_scale"] = out_scales


if __name__ == "__main__":
    main()
