#!/usr/bin/env python3
"""Reads mpi-scaling.sh's timing lines and prints, for each configuration's best run, tokens/s,
the scaling efficiency and the bytes a training step sends between ranks (data parallel: the
gradients; feature sharding: the reconstructions).

  mpi_report.py bench-out/mpi/last-run.jsonl
"""
import json
import sys


def parameters(layers, d, features):
    """P = L(F·d + 2F) + F·d·L(L+1)/2 + L·d (TrainingConfiguration.memoryEstimate)."""
    return layers * (features * d + 2 * features) + features * d * layers * (layers + 1) // 2 + layers * d


def step_bytes(run, ranks):
    """What one rank sends and receives per step, by MPI_Allreduce's ring bound 2(n-1)/n · size."""
    layers, d, features, batch = run["layers"], run["d_model"], run["features"], run["batch"]
    ring = 2 * (ranks - 1) / ranks
    gradients = 4 * parameters(layers, d, features) + layers * features  # floats, and row masks
    reconstructions = 4 * batch * layers * d
    return {"data parallel": ring * gradients, "sharded": ring * reconstructions}


def main():
    best = {}
    for line in open(sys.argv[1]):
        if line.strip():
            run = json.loads(line)
            if run["label"] not in best or run["wall_tokens_per_second"] > best[run["label"]]["wall_tokens_per_second"]:
                best[run["label"]] = run
    runs = list(best.values())
    print(f"{'configuration':40} {'tokens/s (wall)':>16} {'forward':>8} {'backward':>9} {'update':>7}")
    for run in runs:
        f, b, u = run["phase_seconds"]
        print(f"{run['label']:40} {run['wall_tokens_per_second']:16.1f} {f:8.2f} {b:9.2f} {u:7.2f}")
    by = {run["label"]: run["wall_tokens_per_second"] for run in runs}
    one, two = by.get("1 process, 1 thread"), by.get("1 process, 2 threads")
    for label in ("2 ranks, data parallel", "2 ranks, --shard-features"):
        if label in by and one:
            print(f"{label}: speed-up {by[label] / one:.2f} over 1 process x 1 thread "
                  f"(efficiency {by[label] / one / 2:.0%}), {by[label] / two:.2f} of 1 process x 2 threads")
    first = runs[0]
    sizes = step_bytes(first, 2)
    print(f"bytes a rank sends per step at 2 ranks: data parallel {sizes['data parallel'] / 1e6:.0f} MB, "
          f"sharded {sizes['sharded'] / 1e6:.0f} MB (+ about 7 reductions of 64 integers a layer for BatchTopK)")


if __name__ == "__main__":
    main()
