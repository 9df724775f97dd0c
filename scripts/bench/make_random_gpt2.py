#!/usr/bin/env python3
"""Creates a random-weight GPT-2 checkpoint for `make bench`.

The architecture is that of openai-community/gpt2 (by default "small": vocab 50257,
n_positions 1024, n_embd 768, n_layer 12, n_head 12, gelu_new, LayerNorm eps 1e-5); only
the weights are random (transformers' own initialisation, fixed seed), so the benchmark
needs no network access and measures exactly the same arithmetic as the real model.

Writes OUT_DIR/config.json and OUT_DIR/model.safetensors (float32, tied LM head stored
once, as Hugging Face does). Does nothing if OUT_DIR/model.safetensors already exists.

Usage: python3 scripts/bench/make_random_gpt2.py OUT_DIR [--size small] [--seed 0]
"""
import argparse
import inspect
import os
import sys

# Shapes of the published GPT-2 checkpoints: (n_embd, n_layer, n_head).
SIZES = {
    "small": (768, 12, 12),
    "medium": (1024, 24, 16),
    "large": (1280, 36, 20),
    "xl": (1600, 48, 25),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    target = os.path.join(args.out_dir, "model.safetensors")
    if os.path.exists(target):
        print(f"{target} exists; keeping it", file=sys.stderr)
        return 0

    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    n_embd, n_layer, n_head = SIZES[args.size]
    config = GPT2Config(
        vocab_size=50257, n_positions=1024, n_embd=n_embd, n_layer=n_layer, n_head=n_head,
        activation_function="gelu_new", layer_norm_epsilon=1e-5,
        resid_pdrop=0.1, embd_pdrop=0.1, attn_pdrop=0.1,  # as published; eval() disables them
        bos_token_id=50256, eos_token_id=50256,
    )
    torch.manual_seed(args.seed)
    model = GPT2LMHeadModel(config).eval()

    # transformers >= 5 always writes safetensors and dropped the keyword; older versions need it.
    kwargs = {}
    if "safe_serialization" in inspect.signature(model.save_pretrained).parameters:
        kwargs["safe_serialization"] = True
    os.makedirs(args.out_dir, exist_ok=True)
    model.save_pretrained(args.out_dir, **kwargs)
    if not os.path.exists(target):
        print(f"error: save_pretrained did not write {target}", file=sys.stderr)
        return 1
    n_params = sum(p.numel() for p in model.parameters())
    print(f"wrote {args.out_dir} (GPT-2 {args.size}, {n_params / 1e6:.1f}M parameters, seed {args.seed})",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
