#include "ckernels.h"
#include <stdint.h>
#include <math.h>
#include <string.h>

// e^x to about 2 ulp for x in [-87.3, 88]: Cody-Waite reduction by ln 2, degree-6 Taylor
// polynomial, 2^n built in the exponent bits (n rounded by the 1.5*2^23 trick, no conversion).
static inline float fast_exp(float x) {
  float c = x < -87.3f ? -87.3f : (x > 88.0f ? 88.0f : x);
  float shifted = c * 1.44269504f + 12582912.0f;
  float n = shifted - 12582912.0f;
  float r = c - n * 0.69314575f - n * 1.4286068e-6f;
  float p = 1.0f / 720;
  p = p * r + 1.0f / 120;
  p = p * r + 1.0f / 24;
  p = p * r + 1.0f / 6;
  p = p * r + 0.5f;
  p = p * r + 1;
  p = p * r + 1;
  uint32_t bits;
  memcpy(&bits, &shifted, 4);
  bits = (bits - 0x4B400000u + 127u) << 23;
  float scale;
  memcpy(&scale, &bits, 4);
  return p * scale;
}

// Softmax in place: x <- exp(x - max x) / sum exp(x - max x). Eight partial sums and maxima so
// the reductions vectorise without reassociating a single accumulator.
__attribute__((target_clones("arch=x86-64-v3", "default")))
void softmax_forward(float *x, size_t count) {
  float m8[8] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
  size_t i = 0;
  for (; i + 8 <= count; i += 8)
    for (int j = 0; j < 8; j++) m8[j] = x[i + j] > m8[j] ? x[i + j] : m8[j];
  float m = -INFINITY;
  for (int j = 0; j < 8; j++) m = m8[j] > m ? m8[j] : m;
  for (; i < count; i++) m = x[i] > m ? x[i] : m;
  float s8[8] = {0};
  for (i = 0; i + 8 <= count; i += 8)
    for (int j = 0; j < 8; j++) {
      float e = fast_exp(x[i + j] - m);
      x[i + j] = e;
      s8[j] += e;
    }
  float sum = 0;
  for (int j = 0; j < 8; j++) sum += s8[j];
  for (; i < count; i++) {
    x[i] = fast_exp(x[i] - m);
    sum += x[i];
  }
  float inv = 1.0f / sum;
  for (i = 0; i < count; i++) x[i] *= inv;
}

// SwiGLU's element-wise part: out <- silu(gate) * up = gate / (1 + exp(-gate)) * up.
__attribute__((target_clones("arch=x86-64-v3", "default")))
void swiglu_forward(float *out, const float *gate, const float *up, size_t count) {
  for (size_t i = 0; i < count; i++) {
    float g = gate[i];
    out[i] = g / (1.0f + fast_exp(-g)) * up[i];
  }
}

// GELU with the tanh approximation, as x / (1 + exp(-2y)), y = sqrt(2/pi) (x + 0.044715 x^3).
__attribute__((target_clones("arch=x86-64-v3", "default")))
void gelu_tanh_bias_forward(float *x, const float *bias, size_t rows, size_t dim) {
  const float c = 0.7978845608028654f;
  for (size_t r = 0; r < rows; r++) {
    float *row = x + r * dim;
    for (size_t i = 0; i < dim; i++) {
      float v = row[i] + (bias ? bias[i] : 0.0f);
      float y = c * (v + 0.044715f * v * v * v);
      row[i] = v / (1.0f + fast_exp(-2.0f * y));
    }
  }
}
