// Kernels over matrices stored as IEEE binary16 (half-precision) bits: attribution holds a
// transcoder's decoders this way to halve their memory. On CPUs with F16C (x86-64-v3) eight
// values convert per instruction; elsewhere a portable bit-level conversion is used.
#include "ckernels.h"
#include <stdint.h>
#include <string.h>

/// The float a binary16 bit pattern stands for (exact: every half is a float).
static inline float half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16;
  uint32_t exponent = (h >> 10) & 0x1f;
  uint32_t mantissa = h & 0x3ff;
  uint32_t bits;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000 | (mantissa << 13);  // infinity or NaN
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;
  } else {  // subnormal: normalise
    exponent = 113;
    while ((mantissa & 0x400) == 0) {
      mantissa <<= 1;
      exponent--;
    }
    bits = sign | (exponent << 23) | ((mantissa & 0x3ff) << 13);
  }
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

static void half_rows_scaled_portable(float *restrict dst, const uint16_t *restrict matrix, size_t ld,
                                      const int *restrict indices, const float *restrict scales, size_t k,
                                      size_t d) {
  for (size_t r = 0; r < k; r++) {
    const uint16_t *row = matrix + (size_t)indices[r] * ld;
    for (size_t j = 0; j < d; j++) dst[r * d + j] = scales[r] * half_to_float(row[j]);
  }
}

static void sparse_half_rows_axpy_portable(float *restrict out, const uint16_t *restrict matrix, size_t ld,
                                           const int *restrict indices, const float *restrict values,
                                           size_t k, size_t d) {
  for (size_t i = 0; i < k; i++) {
    const uint16_t *row = matrix + (size_t)indices[i] * ld;
    for (size_t j = 0; j < d; j++) out[j] += values[i] * half_to_float(row[j]);
  }
}

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#define HALF_HAS_F16C_PATH 1

__attribute__((target("avx2,fma,f16c")))
static void half_rows_scaled_f16c(float *restrict dst, const uint16_t *restrict matrix, size_t ld,
                                  const int *restrict indices, const float *restrict scales, size_t k,
                                  size_t d) {
  for (size_t r = 0; r < k; r++) {
    if (r + 2 < k) {
      const char *next = (const char *)(matrix + (size_t)indices[r + 2] * ld);
      for (size_t b = 0; b < d * sizeof(uint16_t); b += 64) __builtin_prefetch(next + b);
    }
    const uint16_t *row = matrix + (size_t)indices[r] * ld;
    float *out = dst + r * d;
    const __m256 a = _mm256_set1_ps(scales[r]);
    size_t j = 0;
    for (; j + 8 <= d; j += 8) {
      __m256 x = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(row + j)));
      _mm256_storeu_ps(out + j, _mm256_mul_ps(a, x));
    }
    for (; j < d; j++) out[j] = scales[r] * half_to_float(row[j]);
  }
}

__attribute__((target("avx2,fma,f16c")))
static void sparse_half_rows_axpy_f16c(float *restrict out, const uint16_t *restrict matrix, size_t ld,
                                       const int *restrict indices, const float *restrict values, size_t k,
                                       size_t d) {
  for (size_t i = 0; i < k; i++) {
    if (i + 2 < k) {
      const char *next = (const char *)(matrix + (size_t)indices[i + 2] * ld);
      for (size_t b = 0; b < d * sizeof(uint16_t); b += 64) __builtin_prefetch(next + b);
    }
    const uint16_t *row = matrix + (size_t)indices[i] * ld;
    const __m256 a = _mm256_set1_ps(values[i]);
    size_t j = 0;
    for (; j + 8 <= d; j += 8) {
      __m256 x = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(row + j)));
      _mm256_storeu_ps(out + j, _mm256_fmadd_ps(a, x, _mm256_loadu_ps(out + j)));
    }
    for (; j < d; j++) out[j] += values[i] * half_to_float(row[j]);
  }
}

static int half_uses_f16c(void) {
  static int known = -1;
  if (known < 0) {
    __builtin_cpu_init();
    known = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
  }
  return known;
}
#endif

void half_rows_scaled(float *dst, const uint16_t *matrix, size_t ld, const int *indices, const float *scales,
                      size_t k, size_t d) {
#ifdef HALF_HAS_F16C_PATH
  if (half_uses_f16c()) {
    half_rows_scaled_f16c(dst, matrix, ld, indices, scales, k, d);
    return;
  }
#endif
  half_rows_scaled_portable(dst, matrix, ld, indices, scales, k, d);
}

void sparse_half_rows_axpy(float *out, const uint16_t *matrix, size_t ld, const int *indices,
                           const float *values, size_t k, size_t d) {
#ifdef HALF_HAS_F16C_PATH
  if (half_uses_f16c()) {
    sparse_half_rows_axpy_f16c(out, matrix, ld, indices, values, k, d);
    return;
  }
#endif
  sparse_half_rows_axpy_portable(out, matrix, ld, indices, values, k, d);
}

void half_rows_scaled_reference(float *dst, const uint16_t *matrix, size_t ld, const int *indices,
                                const float *scales, size_t k, size_t d) {
  half_rows_scaled_portable(dst, matrix, ld, indices, scales, k, d);
}
