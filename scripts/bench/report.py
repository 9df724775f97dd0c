#!/usr/bin/env python3
"""Summarises one `make bench` run: a comparison table, and an append to results.jsonl.

Reads the JSON lines that the run collected (both sides, any order; other lines ignored):
  {"side": "swift"|"pytorch", "bench": ..., "tokens": N, "seconds": S, "tokens_per_second": X}
Where a side has several lines for one bench (the Swift generate runs), the run with the
median seconds stands for it. Prints a table (bench, Swift tokens/s, PyTorch tokens/s,
Swift / PyTorch) and appends every line, with a timestamp, the machine and its load, to --results.

Usage: python3 scripts/bench/report.py RUN.jsonl --results bench-out/results.jsonl
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return platform.processor() or "unknown"


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def read_lines(path):
    records = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if {"side", "bench", "tokens", "seconds", "tokens_per_second"} <= obj.keys():
                records.append(obj)
    return records


def median_record(records):
    """The record with the median seconds (the lower middle one for an even count)."""
    ordered = sorted(records, key=lambda r: r["seconds"])
    return ordered[(len(ordered) - 1) // 2]


def fmt(x):
    return f"{x:,.1f}" if x is not None else "-"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("--results", required=True)
    parser.add_argument("--loadavg-start", type=float, help="1-minute load average when the run began")
    args = parser.parse_args()

    records = read_lines(args.run)
    if not records:
        sys.exit(f"report: no measurements in {args.run}")
    best = {}
    for side_bench in {(r["side"], r["bench"]) for r in records}:
        best[side_bench] = median_record([r for r in records if (r["side"], r["bench"]) == side_bench])

    def tps(side, bench):
        r = best.get((side, bench))
        return r["tokens_per_second"] if r else None

    rows = [("dump", "dump", "dump"),
            ("dump (PyTorch with LM head)", "dump", "dump_lmhead"),
            ("generate", "generate", "generate"),
            ("clt-fit training (dense torch)", "clt_fit", "clt_fit"),
            ("SmolLM2 dump", "smollm2_dump", "smollm2_dump"),
            ("SmolLM2 dump (PyTorch LM head)", "smollm2_dump", "smollm2_dump_lmhead"),
            ("SmolLM2 generate", "smollm2_generate", "smollm2_generate"),
            ("SmolLM2 generate (replacement)", "smollm2_generate_replacement", "smollm2_generate")]
    rows = [r for r in rows if ("swift", r[1]) in best or ("pytorch", r[2]) in best]
    print(f"{'bench':<30} {'Swift tok/s':>12} {'PyTorch tok/s':>14} {'Swift/PyTorch':>14}")
    for label, swift_bench, torch_bench in rows:
        s, t = tps("swift", swift_bench), tps("pytorch", torch_bench)
        ratio = f"{s / t:.2f}x" if s and t else "-"
        print(f"{label:<30} {fmt(s):>12} {fmt(t):>14} {ratio:>14}")

    # Attribution graphs have no PyTorch side here: their targets are seconds and peak memory.
    graphs = sorted(b for (side, b) in best if side == "swift" and "attrib" in b)
    if graphs:
        print(f"\n{'attribution graph':<30} {'tokens':>8} {'seconds':>9} {'load s':>8} {'peak MiB':>10}")
        for bench in graphs:
            r = best[("swift", bench)]
            print(f"{bench:<30} {r['tokens']:>8} {r['seconds']:>9.2f} {r.get('load_seconds', 0):>8.2f} "
                  f"{r.get('max_rss_mb', 0):>10,.0f}")

    meta = {
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": platform.machine(),
        "cpu": cpu_model(),
        "nproc": os.cpu_count(),
        "loadavg_1m_start": args.loadavg_start,
        "loadavg_1m_end": round(os.getloadavg()[0], 2),
        "commit": git_commit(),
    }
    with open(args.results, "a", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps({**r, **meta}) + "\n")
    print(f"appended {len(records)} lines to {args.results} ({meta['cpu']}, {meta['machine']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
