#!/usr/bin/env python3
"""Writes the Llama golden fixtures that the Swift tests compare against.

A small `transformers.LlamaForCausalLM` with *every* parameter randomised (RMSNorm gains
included; grouped-query attention; tied embeddings) is written as a GGUF file the way
llama.cpp's convert_hf_to_gguf.py writes a Llama, and run on fixed token windows.

The GGUF convention that matters: the converter permutes the rows of attn_q and attn_k so that
within each head the two halves Hugging Face rotates together (element i with i + head_dim/2,
`rotate_half`) become adjacent rows (2i, 2i+1), which is what ggml's "normal" RoPE mode
(LLAMA_ROPE_TYPE_NORM) rotates. `permute` below is that reshape (n_head, 2, head_dim/2, in) ->
swap the middle axes -> (n_head, head_dim/2, 2, in); transformers' GGUF loader undoes it with
the reverse reshape, which this script also checks. So the reference logits come from the
unpermuted model, and the Swift model must match them running on the permuted GGUF.

Outputs (in OUT_DIR):
  llama-tiny.gguf          float32 tensors
  llama-tiny-f16.gguf      the same with float16 matrices (norm gains stay float32, as llama.cpp does)
  llama-no-head-count.gguf metadata only, without llama.attention.head_count (the missing-key error)
  llama-tiny-golden.safetensors:
    input_ids        [B, T]        float32 (small integers, exact)
    logits           [B, T, V]     float32
    mlp_in.{l}       [B, T, C]     post_attention_layernorm output of layer l (the MLP's input)
    mlp_out.{l}      [B, T, C]     MLP output of layer l (down_proj), before the residual add
    prompt_ids       [P]           float32, a prompt for generation
    greedy_ids       [N]           float32, model.generate(do_sample=False) continuation

Usage: python3 scripts/make_llama_fixture.py [OUT_DIR]   (needs torch, transformers, safetensors, gguf)
"""
import os
import sys

import numpy as np
import torch
from gguf import GGUFWriter
from safetensors.torch import save_file
from transformers import LlamaConfig, LlamaForCausalLM

OUT = sys.argv[1] if len(sys.argv) > 1 else "Tests/LanguageModelsTests/Fixtures"
torch.manual_seed(4321)

config = LlamaConfig(
    vocab_size=128, hidden_size=64, intermediate_size=96, num_hidden_layers=3,
    num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=48,
    rms_norm_eps=1e-5, rope_theta=100000.0, tie_word_embeddings=True,
    attention_bias=False, mlp_bias=False, hidden_act="silu",
    bos_token_id=1, eos_token_id=2, pad_token_id=2,
)
model = LlamaForCausalLM(config).eval().float()
with torch.no_grad():
    for name, p in model.named_parameters():
        if name.endswith("norm.weight"):
            p.copy_(1.0 + 0.3 * torch.randn_like(p))
        else:
            p.copy_(0.2 * torch.randn_like(p))
assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr(), "embeddings must be tied"

# transformers 5 keeps rope_theta inside rope_parameters; older versions keep it as an attribute.
ROPE_THETA = (getattr(config, "rope_parameters", None) or {}).get("rope_theta") or config.rope_theta
assert ROPE_THETA == 100000.0
n_head, n_kv = config.num_attention_heads, config.num_key_value_heads
head_dim = config.hidden_size // n_head


def permute(w: np.ndarray, heads: int) -> np.ndarray:
    """llama.cpp's LlamaModel.permute: HF rotate_half halves -> adjacent RoPE pairs, per head."""
    return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def unpermute(w: np.ndarray, heads: int) -> np.ndarray:
    """transformers' GGUF loader's _reverse_permute_weights, for the round-trip check."""
    return w.reshape(heads, w.shape[0] // heads // 2, 2, *w.shape[1:]).swapaxes(2, 1).reshape(w.shape)


def tensors():
    """(GGUF name, numpy array) in llama.cpp's naming, q/k permuted."""
    sd = {k: v.detach().numpy().astype(np.float32) for k, v in model.state_dict().items()}
    yield "token_embd.weight", sd["model.embed_tokens.weight"]
    for l in range(config.num_hidden_layers):
        p = f"model.layers.{l}."
        q = permute(sd[p + "self_attn.q_proj.weight"], n_head)
        k = permute(sd[p + "self_attn.k_proj.weight"], n_kv)
        assert np.array_equal(unpermute(q, n_head), sd[p + "self_attn.q_proj.weight"])
        assert np.array_equal(unpermute(k, n_kv), sd[p + "self_attn.k_proj.weight"])
        yield f"blk.{l}.attn_norm.weight", sd[p + "input_layernorm.weight"]
        yield f"blk.{l}.attn_q.weight", q
        yield f"blk.{l}.attn_k.weight", k
        yield f"blk.{l}.attn_v.weight", sd[p + "self_attn.v_proj.weight"]
        yield f"blk.{l}.attn_output.weight", sd[p + "self_attn.o_proj.weight"]
        yield f"blk.{l}.ffn_norm.weight", sd[p + "post_attention_layernorm.weight"]
        yield f"blk.{l}.ffn_gate.weight", sd[p + "mlp.gate_proj.weight"]
        yield f"blk.{l}.ffn_up.weight", sd[p + "mlp.up_proj.weight"]
        yield f"blk.{l}.ffn_down.weight", sd[p + "mlp.down_proj.weight"]
    yield "output_norm.weight", sd["model.norm.weight"]


def write_gguf(path: str, matrix_dtype, with_tensors: bool = True, skip_head_count: bool = False) -> None:
    w = GGUFWriter(path, "llama")
    w.add_name("llama-tiny (random, CLTKit golden fixture)")
    w.add_block_count(config.num_hidden_layers)
    w.add_context_length(config.max_position_embeddings)
    w.add_embedding_length(config.hidden_size)
    w.add_feed_forward_length(config.intermediate_size)
    if not skip_head_count:
        w.add_head_count(n_head)
    w.add_head_count_kv(n_kv)
    w.add_rope_freq_base(ROPE_THETA)
    w.add_layer_norm_rms_eps(config.rms_norm_eps)
    w.add_rope_dimension_count(head_dim)
    w.add_vocab_size(config.vocab_size)
    for name, t in tensors() if with_tensors else []:
        w.add_tensor(name, t.astype(matrix_dtype) if t.ndim == 2 else t)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


os.makedirs(OUT, exist_ok=True)
write_gguf(os.path.join(OUT, "llama-tiny.gguf"), np.float32)
write_gguf(os.path.join(OUT, "llama-tiny-f16.gguf"), np.float16)
write_gguf(os.path.join(OUT, "llama-no-head-count.gguf"), np.float32, with_tensors=False, skip_head_count=True)

captured = {}


def hook(layer):
    def fn(module, inputs, output):
        captured[f"mlp_in.{layer}"] = inputs[0].detach().clone()
        captured[f"mlp_out.{layer}"] = output.detach().clone()
    return fn


handles = [blk.mlp.register_forward_hook(hook(i)) for i, blk in enumerate(model.model.layers)]
B, T = 3, 19
input_ids = torch.randint(0, config.vocab_size, (B, T))
with torch.no_grad():
    logits = model(input_ids).logits
for h in handles:
    h.remove()

prompt = torch.randint(3, config.vocab_size, (1, 6))
with torch.no_grad():
    out = model.generate(prompt, max_new_tokens=14, do_sample=False, pad_token_id=2,
                         eos_token_id=None, attention_mask=torch.ones_like(prompt))
greedy = out[0, prompt.shape[1]:]

golden = {"input_ids": input_ids.float(), "logits": logits.float(),
          "prompt_ids": prompt[0].float(), "greedy_ids": greedy.float()}
golden.update({k: v.float().contiguous() for k, v in captured.items()})
save_file(golden, os.path.join(OUT, "llama-tiny-golden.safetensors"))
print("wrote llama-tiny GGUFs and golden:", {k: tuple(v.shape) for k, v in golden.items()})
