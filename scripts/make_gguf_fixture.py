#!/usr/bin/env python3
"""Writes a small GGUF v3 file covering every metadata value type and the tensor types CLTKit
dequantises (F32, F16, BF16, Q8_0, Q4_1), plus the reference dequantisation by the `gguf` package
(llama.cpp's own Python library) as safetensors, for the Swift GGUF reader's tests.

Outputs (in OUT_DIR, default Tests/ModelFormatsTests/Fixtures):
  types.gguf                     the GGUF file
  types-reference.safetensors    for each tensor NAME, its float32 values as gguf dequantises them

Usage: python3 scripts/make_gguf_fixture.py [OUT_DIR]   (needs numpy, gguf, safetensors)
"""
import os
import sys

import numpy as np
from gguf import GGMLQuantizationType, GGUFValueType, GGUFWriter
from gguf.quants import dequantize, quantize
from safetensors.numpy import save_file

OUT = sys.argv[1] if len(sys.argv) > 1 else "Tests/ModelFormatsTests/Fixtures"
os.makedirs(OUT, exist_ok=True)
rng = np.random.default_rng(42)

w = GGUFWriter(os.path.join(OUT, "types.gguf"), "llama")
w.add_uint8("test.u8", 200)
w.add_int8("test.i8", -100)
w.add_uint16("test.u16", 60000)
w.add_int16("test.i16", -30000)
w.add_uint32("test.u32", 4_000_000_000)
w.add_int32("test.i32", -2_000_000_000)
w.add_float32("test.f32", 0.25)
w.add_bool("test.bool", True)
w.add_string("test.string", "héllo, GGUF")
w.add_array("test.array_str", ["a", "bc", "Ġthe"])
w.add_array("test.array_i32", [1, -2, 3])
w.add_uint64("test.u64", 2**40 + 3)
w.add_int64("test.i64", -(2**40))
w.add_float64("test.f64", 1e-300)

reference = {}
base = (rng.standard_normal((4, 64)) * 2).astype(np.float32)
for name, qtype in [("t_f32", GGMLQuantizationType.F32), ("t_f16", GGMLQuantizationType.F16),
                    ("t_bf16", GGMLQuantizationType.BF16), ("t_q8_0", GGMLQuantizationType.Q8_0),
                    ("t_q4_1", GGMLQuantizationType.Q4_1)]:
    data = base + np.float32(0.5 * len(reference))  # different values per tensor
    q = quantize(data, qtype)
    w.add_tensor(name, q, raw_dtype=qtype)
    reference[name] = dequantize(q, qtype).astype(np.float32).reshape(data.shape)
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()
save_file(reference, os.path.join(OUT, "types-reference.safetensors"))
print("wrote", OUT, {k: v.shape for k, v in reference.items()})
