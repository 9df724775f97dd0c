// Element-wise kernels in C, so that they can be compiled for AVX2/FMA with a portable fallback
// (function multi-versioning picks the variant at load time). Everything else is Swift.
#ifndef CKERNELS_H
#define CKERNELS_H
#include <stddef.h>

/// x <- GELU_tanh(x + bias), row by row. x (rows, dim), bias (dim) or NULL.
void gelu_tanh_bias_forward(float *x, const float *bias, size_t rows, size_t dim);

/// x <- softmax(x), numerically stable. x (count).
void softmax_forward(float *x, size_t count);

/// out <- silu(gate) * up, SwiGLU's element-wise part. out, gate, up (count); out may be gate.
void swiglu_forward(float *out, const float *gate, const float *up, size_t count);

#endif
