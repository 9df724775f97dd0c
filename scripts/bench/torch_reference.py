#!/usr/bin/env python3
"""The PyTorch side of `make bench`: Hugging Face transformers on CPU torch.

Measures, on the same checkpoint the Swift tools load, with torch.set_num_threads(THREADS)
and torch.inference_mode():

  dump         what gpt2-acts does: the token windows of --windows (a JSON list of lists of
               ids, each 128 ids starting with 50256) go through GPT2Model, the base model
               without the LM head (the dump never needs logits), in batches of --batch
               windows. Forward hooks on every block's `mlp` copy its input (the ln_2 output)
               and its output into CPU numpy float16 arrays laid out [rows, n_layers, d_model],
               as a shard holds them, dropping the BOS row of each window. The first batch is
               a warm-up; the rest are timed. tokens = rows written (127 per window).
               Nothing is written to disk (the Swift side also writes HDF5 shards).
  dump_lmhead  the same through GPT2LMHeadModel (logits computed and discarded), the figure
               for a pipeline that does not bother to drop the head.
  generate     GPT2LMHeadModel.generate(prompt, max_new_tokens=N, min_new_tokens=N,
               do_sample=False) (greedy, KV cache on, EOS never stops it); one warm-up, then
               --runs timed runs; tokens/s = new tokens / median seconds.

Prints one JSON line per measurement on stdout:
  {"side": "pytorch", "bench": "dump"|"dump_lmhead"|"generate", "tokens": N, "seconds": S,
   "tokens_per_second": X}

Usage: python3 scripts/bench/torch_reference.py --model DIR --windows windows.json
           --prompt-ids ids.json [--bench dump,dump_lmhead,generate]
--prompt-ids takes a JSON file or an inline JSON list ("[15496, 995]").
"""
import argparse
import json
import statistics
import sys
import time

import numpy as np
import torch

BENCHES = ("dump", "dump_lmhead", "generate")


PREFIX = ""  # "smollm2_" for the SmolLM2 benches


def emit(bench: str, tokens: int, seconds: float) -> None:
    print(json.dumps({"side": "pytorch", "bench": PREFIX + bench, "tokens": tokens, "seconds": round(seconds, 4),
                      "tokens_per_second": round(tokens / seconds, 2)}), flush=True)


class MLPRecorder:
    """Forward hooks that copy every block's MLP input and output into float16 row buffers."""

    def __init__(self, blocks, batch: int, context: int, d_model: int):
        self.rows = batch * (context - 1)
        shape = (self.rows, len(blocks), d_model)  # [rows, n_layers, d_model], as in a shard
        self.mlp_in = np.empty(shape, dtype=np.float16)
        self.mlp_out = np.empty(shape, dtype=np.float16)
        self.handles = [block.mlp.register_forward_hook(self._hook(layer), with_kwargs=True)
                        for layer, block in enumerate(blocks)]

    def _hook(self, layer: int):
        def hook(module, args, kwargs, output):
            x = args[0] if args else kwargs["hidden_states"]
            self._copy(self.mlp_in, layer, x)
            self._copy(self.mlp_out, layer, output)
        return hook

    @staticmethod
    def _copy(buffer, layer, t):
        rows = t[:, 1:, :].reshape(-1, t.shape[-1])  # drop each window's BOS row
        buffer[: rows.shape[0], layer, :] = rows.to(torch.float16).numpy()

    def remove(self):
        for h in self.handles:
            h.remove()


def bench_dump(model, blocks, windows, batch: int, name: str) -> None:
    context = len(windows[0])
    if any(len(w) != context for w in windows):
        sys.exit("torch_reference: windows differ in length")
    batches = [torch.tensor(windows[i:i + batch], dtype=torch.long) for i in range(0, len(windows), batch)]
    if len(batches) < 2:
        sys.exit("torch_reference: need at least two batches (one is the warm-up)")
    recorder = MLPRecorder(blocks, batch, context, model.config.hidden_size)
    try:
        model(input_ids=batches[0], use_cache=False)  # warm-up
        rows = 0
        start = time.perf_counter()
        for ids in batches[1:]:
            model(input_ids=ids, use_cache=False)
            rows += ids.shape[0] * (context - 1)
        seconds = time.perf_counter() - start
    finally:
        recorder.remove()
    emit(name, rows, seconds)


def bench_generate(model, prompt_ids, new_tokens: int, runs: int, pad_id: int) -> None:
    ids = torch.tensor([prompt_ids], dtype=torch.long)
    kwargs = dict(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=new_tokens,
                  min_new_tokens=new_tokens, do_sample=False, pad_token_id=pad_id)
    model.generate(**kwargs)  # warm-up
    times, produced = [], set()
    for _ in range(runs):
        start = time.perf_counter()
        out = model.generate(**kwargs)
        times.append(time.perf_counter() - start)
        produced.add(out.shape[1] - ids.shape[1])
    if produced != {new_tokens}:
        sys.exit(f"torch_reference: generate produced {sorted(produced)} new tokens, expected {new_tokens}")
    emit("generate", new_tokens, statistics.median(times))


def load_prompt(value: str):
    text = value if value.lstrip().startswith("[") else open(value, encoding="utf-8").read()
    ids = json.loads(text)
    if not ids or not all(isinstance(t, int) for t in ids):
        sys.exit("torch_reference: --prompt-ids must be a non-empty JSON list of token ids")
    return ids


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True,
                        help="GPT-2 checkpoint directory (config.json + model.safetensors), or a Llama .gguf file "
                             "(loaded by transformers, dequantised to float32: the same weights gpt2-acts uses)")
    parser.add_argument("--prefix", default="", help="prefix for the bench names (e.g. smollm2_)")
    parser.add_argument("--windows", help="JSON list of token windows (dump benches)")
    parser.add_argument("--prompt-ids", help="JSON file or inline JSON list (generate bench)")
    parser.add_argument("--bench", default=",".join(BENCHES), help="comma-separated subset of " + ",".join(BENCHES))
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    benches = [b for b in args.bench.split(",") if b]
    unknown = set(benches) - set(BENCHES)
    if unknown:
        parser.error(f"unknown bench {sorted(unknown)}")
    if {"dump", "dump_lmhead"} & set(benches) and not args.windows:
        parser.error("the dump benches need --windows")
    if "generate" in benches and not args.prompt_ids:
        parser.error("the generate bench needs --prompt-ids")

    global PREFIX
    PREFIX = args.prefix
    torch.set_num_threads(args.threads)
    if args.model.endswith(".gguf"):
        return run_llama(args, benches)
    from transformers import GPT2LMHeadModel, GPT2Model
    from transformers.utils import logging as hf_logging
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()

    windows = None
    if args.windows:
        with open(args.windows, encoding="utf-8") as f:
            windows = json.load(f)
    with torch.inference_mode():
        if "dump" in benches:
            base = GPT2Model.from_pretrained(args.model, dtype=torch.float32).eval()
            bench_dump(base, base.h, windows, args.batch, "dump")
            del base
        if {"dump_lmhead", "generate"} & set(benches):
            lm = GPT2LMHeadModel.from_pretrained(args.model, dtype=torch.float32).eval()
            if "dump_lmhead" in benches:
                bench_dump(lm, lm.transformer.h, windows, args.batch, "dump_lmhead")
            if "generate" in benches:
                bench_generate(lm, load_prompt(args.prompt_ids), args.max_new_tokens, args.runs, pad_id=50256)
    return 0


def run_llama(args, benches) -> int:
    """The same benches on a Llama-family GGUF: LlamaModel (no LM head) for dump, LlamaForCausalLM otherwise."""
    import os
    from transformers import LlamaForCausalLM
    from transformers.utils import logging as hf_logging
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    windows = None
    if args.windows:
        with open(args.windows, encoding="utf-8") as f:
            windows = json.load(f)
    folder, name = os.path.split(os.path.abspath(args.model))
    lm = LlamaForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32).eval()
    with torch.inference_mode():
        if "dump" in benches:
            bench_dump(lm.model, lm.model.layers, windows, args.batch, "dump")
        if "dump_lmhead" in benches:
            bench_dump(lm, lm.model.layers, windows, args.batch, "dump_lmhead")
        if "generate" in benches:
            bench_generate(lm, load_prompt(args.prompt_ids), args.max_new_tokens, args.runs, pad_id=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
