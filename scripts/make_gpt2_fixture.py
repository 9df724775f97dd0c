#!/usr/bin/env python3
"""Writes the GPT-2 golden fixtures that the Swift tests compare against.

A small GPT-2 with *every* parameter randomised (LayerNorm gains and biases included) is
built with Hugging Face `transformers`, saved as a checkpoint directory (config.json +
model.safetensors, plus float16 and bfloat16 copies), and run on fixed token windows.
The reference outputs go to golden.safetensors:

  input_ids        [B, T]        float32 (small integers, exact)
  logits           [B, T, V]     float32
  mlp_in.{l}       [B, T, C]     ln_2 output of block l (the MLP's input)
  mlp_out.{l}      [B, T, C]     MLP output of block l, before the residual add
  prompt_ids       [P]           float32, a prompt for generation
  greedy_ids       [N]           float32, model.generate(do_sample=False) continuation

Usage: python3 scripts/make_gpt2_fixture.py [OUT_DIR]   (needs torch, transformers, safetensors)
"""
import json
import os
import sys

import torch
from safetensors.torch import save_file
from transformers import GPT2Config, GPT2LMHeadModel

OUT = sys.argv[1] if len(sys.argv) > 1 else "Tests/LanguageModelsTests/Fixtures"
torch.manual_seed(1234)

config = GPT2Config(
    vocab_size=97, n_positions=40, n_embd=48, n_layer=3, n_head=4,
    layer_norm_epsilon=1e-5, activation_function="gelu_new",
    resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
    bos_token_id=96, eos_token_id=96,
)
model = GPT2LMHeadModel(config).eval()
with torch.no_grad():
    for name, p in model.named_parameters():
        if name.endswith("ln_1.weight") or name.endswith("ln_2.weight") or name.endswith("ln_f.weight"):
            p.copy_(1.0 + 0.3 * torch.randn_like(p))
        elif p.dim() == 1:
            p.copy_(0.2 * torch.randn_like(p))
        else:
            p.copy_(0.25 * torch.randn_like(p))

ckpt = os.path.join(OUT, "gpt2-tiny")
model.save_pretrained(ckpt, safe_serialization=True)
for dtype, suffix in [(torch.float16, "f16"), (torch.bfloat16, "bf16")]:
    d = os.path.join(OUT, f"gpt2-tiny-{suffix}")
    os.makedirs(d, exist_ok=True)
    sd = {k: v.to(dtype).contiguous() for k, v in model.transformer.state_dict().items() if not k.endswith(".attn.bias")}
    save_file(sd, os.path.join(d, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(config.to_dict(), f, indent=1, default=str)

captured = {}
def hook(layer):
    def fn(module, inputs, output):
        captured[f"mlp_in.{layer}"] = inputs[0].detach().clone()
        captured[f"mlp_out.{layer}"] = output.detach().clone()
    return fn
handles = [blk.mlp.register_forward_hook(hook(i)) for i, blk in enumerate(model.transformer.h)]

B, T = 3, 17
input_ids = torch.randint(0, config.vocab_size, (B, T))
with torch.no_grad():
    logits = model(input_ids).logits
for h in handles:
    h.remove()

prompt = torch.randint(0, config.vocab_size - 1, (1, 6))
with torch.no_grad():
    out = model.generate(prompt, max_new_tokens=12, do_sample=False, pad_token_id=96,
                         eos_token_id=None, attention_mask=torch.ones_like(prompt))
greedy = out[0, prompt.shape[1]:]

golden = {"input_ids": input_ids.float(), "logits": logits.float(),
          "prompt_ids": prompt[0].float(), "greedy_ids": greedy.float()}
golden.update({k: v.float().contiguous() for k, v in captured.items()})
save_file(golden, os.path.join(OUT, "gpt2-tiny-golden.safetensors"))
print("wrote", ckpt, "and golden:", {k: tuple(v.shape) for k, v in golden.items()})
