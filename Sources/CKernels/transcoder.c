#include "ckernels.h"
#include <math.h>
#include <string.h>

// Branch-free compaction: every index is written, the count advances only where the test holds,
// so the loop runs at one element a cycle whatever fraction of features fires.
__attribute__((target_clones("arch=x86-64-v3", "default")))
size_t select_above(const float *h, const float *bound, size_t n, int *out) {
  size_t c = 0;
  for (size_t i = 0; i < n; i++) {
    out[c] = (int)i;
    c += h[i] > bound[i];
  }
  return c;
}

__attribute__((target_clones("arch=x86-64-v3", "default")))
size_t select_above_scalar(const float *h, float bound, size_t n, int *out) {
  size_t c = 0;
  for (size_t i = 0; i < n; i++) {
    out[c] = (int)i;
    c += h[i] > bound;
  }
  return c;
}

// Hoare-partition quickselect with median-of-three pivots; expected O(n).
float kth_largest(const float *values, size_t n, size_t k, float *a) {
  memcpy(a, values, n * sizeof(float));
  size_t lo = 0, hi = n - 1, target = k - 1;  // the target-th element in decreasing order
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    float x = a[lo], y = a[mid], z = a[hi];
    float pivot = x > y ? (y > z ? y : (x > z ? z : x)) : (x > z ? x : (y > z ? z : y));
    size_t i = lo, j = hi;
    while (i <= j) {
      while (a[i] > pivot) i++;
      while (a[j] < pivot) j--;
      if (i <= j) {
        float t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        if (j == 0) break;
        j--;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else return a[target];
  }
  return a[target];
}

__attribute__((target_clones("arch=x86-64-v3", "default")))
void row_axpy(float *restrict out, const float *restrict x, float a, size_t d) {
  for (size_t j = 0; j < d; j++) out[j] += a * x[j];
}

__attribute__((target_clones("arch=x86-64-v3", "default")))
void sparse_rows_axpy(float *restrict out, const float *restrict matrix, size_t ld,
                      const int *restrict indices, const float *restrict values, size_t k,
                      size_t d) {
  for (size_t i = 0; i < k; i++) {
    if (i + 2 < k) {
      const char *next = (const char *)(matrix + (size_t)indices[i + 2] * ld);
      for (size_t b = 0; b < d * sizeof(float); b += 64) __builtin_prefetch(next + b);
    }
    const float *restrict row = matrix + (size_t)indices[i] * ld;
    const float a = values[i];
    for (size_t j = 0; j < d; j++) out[j] += a * row[j];
  }
}

// Reductions keep LANES partial sums: enough independent chains to hide the FMA's 4-cycle latency,
// and the loops vectorise without -ffast-math because every lane's order of summation is fixed.
#define LANES 64

__attribute__((target_clones("arch=x86-64-v3", "default")))
double sum_squares(const float *x, size_t n) {
  double total = 0;
  size_t i = 0;
  while (i < n) {  // float partial sums over blocks, double across them
    size_t end = n - i > 4096 ? i + 4096 : n;
    float s[LANES] = {0};
    for (; i + LANES <= end; i += LANES)
      for (int u = 0; u < LANES; u++) s[u] += x[i + u] * x[i + u];
    for (; i < end; i++) s[0] += x[i] * x[i];
    for (int u = 0; u < LANES; u++) total += s[u];
  }
  return total;
}

// Columns of a decoder row held at once by the plain-C kernels below.
#define CHUNK 32
// Entries whose dot products the backward pass carries between chunks of columns (one vector of
// partial sums each: 4 KB at AVX-512's width).
#define ENTRY_BLOCK 64

// One coordinate's Adam step from its gradient g (already scaled): the one definition that
// adam_rows and the decoder kernels' scalar columns share.
static inline void adam_coordinate(float *p, float *m, float *v, float g, const adam_step *k) {
  *m = k->b1 * *m + (1 - k->b1) * g;
  *v = k->b2 * *v + (1 - k->b2) * g * g;
  *p -= k->lr * *m / (sqrtf(*v * k->inv_c2) + k->eps);
}

static double decoder_row_backward_reference(float *restrict w, const float *restrict g, const int *restrict tokens,
                                      const float *restrict values, size_t count, size_t d, float scale,
                                      int accumulate, float *restrict grad_row, float *restrict grad_a,
                                      const adam_step *adam, float *restrict m, float *restrict v,
                                      float *restrict new_squares) {
  for (size_t j = 0; j < d; j++) grad_row[j] = (accumulate ? grad_row[j] : 0) + scale * w[j];
  for (size_t e = 0; e < count; e++) {
    const float *restrict gr = g + (size_t)tokens[e] * d;
    float s = 0;
    for (size_t j = 0; j < d; j++) {
      s += w[j] * gr[j];
      grad_row[j] += values[e] * gr[j];
    }
    grad_a[e] += s;
  }
  const double squares = sum_squares(grad_row, d);
  if (adam) {
    float fresh = 0;
    for (size_t j = 0; j < d; j++) {
      adam_coordinate(w + j, m + j, v + j, adam->scale * grad_row[j], adam);
      fresh += w[j] * w[j];
    }
    if (new_squares) *new_squares = fresh;
  }
  return squares;
}

// The decoder's two sparse passes at AVX-512's and AVX2's widths (decoder_vectors.h), picked when
// called by decoder_widest_vector; the plain-C backward above serves every other CPU. The gather
// sums a token's output block in GATHER_VECTORS registers: 128 columns at AVX-512's width, which
// the forward pass's column blocks (decoderColumnBlock) are a multiple of at the demo's shape.
#if defined(__x86_64__) && defined(__clang__)
#define GATHER_VECTORS 8

#define VF 16
#define VECTOR_TARGET __attribute__((target("avx512f")))
#define NAMED(name) name##_avx512
#include "decoder_vectors.h"
#undef VF
#undef VECTOR_TARGET
#undef NAMED

#define VF 8
#define VECTOR_TARGET __attribute__((target("avx2,fma")))
#define NAMED(name) name##_avx2
#include "decoder_vectors.h"
#undef VF
#undef VECTOR_TARGET
#undef NAMED
#endif

int decoder_widest_vector(void) {
  static int known = 0;
  if (known == 0) {
    int widest = 1;
#if defined(__x86_64__) && defined(__clang__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) widest = 8;
    if (__builtin_cpu_supports("avx512f")) widest = 16;
#endif
    known = widest;
  }
  return known;
}

double decoder_row_backward_at(int floats, float *w, const float *g, const int *tokens, const float *values,
                               size_t count, size_t d, float scale, int accumulate, float *grad_row, float *grad_a,
                               const adam_step *adam, float *m, float *v, float *new_squares) {
  if (floats == 0 || floats > decoder_widest_vector()) floats = decoder_widest_vector();
#if defined(__x86_64__) && defined(__clang__)
  if (floats == 16)
    return decoder_row_backward_avx512(w, g, tokens, values, count, d, scale, accumulate, grad_row, grad_a, adam,
                                       m, v, new_squares);
  if (floats == 8)
    return decoder_row_backward_avx2(w, g, tokens, values, count, d, scale, accumulate, grad_row, grad_a, adam, m,
                                     v, new_squares);
#endif
  return decoder_row_backward_reference(w, g, tokens, values, count, d, scale, accumulate, grad_row, grad_a,
                                        adam, m, v, new_squares);
}

double decoder_row_backward(const float *w, const float *g, const int *tokens, const float *values, size_t count,
                            size_t d, float scale, int accumulate, float *grad_row, float *grad_a) {
  // Without an Adam step the row is only read.
  return decoder_row_backward_at(0, (float *)w, g, tokens, values, count, d, scale, accumulate, grad_row, grad_a,
                                 NULL, NULL, NULL, NULL);
}

double decoder_row_backward_adam(float *w, const float *g, const int *tokens, const float *values, size_t count,
                                 size_t d, float scale, int accumulate, float *grad_row, float *grad_a,
                                 const adam_step *adam, float *m, float *v, float *new_squares) {
  return decoder_row_backward_at(0, w, g, tokens, values, count, d, scale, accumulate, grad_row, grad_a, adam, m,
                                 v, new_squares);
}

__attribute__((target_clones("arch=x86-64-v3", "default")))
float decoder_row_scatter(float *restrict out, const float *restrict w, const int *restrict tokens,
                          const float *restrict values, size_t count, size_t d) {
  float squares[CHUNK] = {0};
  size_t j0 = 0;
  for (; j0 + CHUNK <= d; j0 += CHUNK) {
    float wc[CHUNK];
    for (int u = 0; u < CHUNK; u++) {
      wc[u] = w[j0 + u];
      squares[u] += wc[u] * wc[u];
    }
    for (size_t e = 0; e < count; e++) {
      float *restrict o = out + (size_t)tokens[e] * d + j0;
      const float a = values[e];
      for (int u = 0; u < CHUNK; u++) o[u] += a * wc[u];
    }
  }
  for (; j0 < d; j0++) {
    squares[0] += w[j0] * w[j0];
    for (size_t e = 0; e < count; e++) out[(size_t)tokens[e] * d + j0] += values[e] * w[j0];
  }
  float total = 0;
  for (int u = 0; u < CHUNK; u++) total += squares[u];
  return total;
}

__attribute__((target_clones("arch=x86-64-v3", "default")))
static void decoder_rows_gather_c(float *restrict out, size_t ld_out, const float *restrict w, size_t ld_w,
                         const intptr_t *restrict offsets, const int *restrict features,
                         const float *restrict values, size_t tokens, size_t width) {
  for (size_t t = 0; t < tokens; t++) {
    float *restrict o = out + t * ld_out;
    const intptr_t first = offsets[t], end = offsets[t + 1];
    size_t j0 = 0;
    for (; j0 + CHUNK <= width; j0 += CHUNK) {
      float acc[CHUNK];
      for (int u = 0; u < CHUNK; u++) acc[u] = o[j0 + u];
      for (intptr_t e = first; e < end; e++) {
        const float *restrict r = w + (size_t)features[e] * ld_w + j0;
        const float a = values[e];
        for (int u = 0; u < CHUNK; u++) acc[u] += a * r[u];
      }
      for (int u = 0; u < CHUNK; u++) o[j0 + u] = acc[u];
    }
    for (; j0 < width; j0++) {
      float acc = o[j0];
      for (intptr_t e = first; e < end; e++) acc += values[e] * w[(size_t)features[e] * ld_w + j0];
      o[j0] = acc;
    }
  }
}

void decoder_rows_gather_at(int floats, float *out, size_t ld_out, const float *w, size_t ld_w,
                            const intptr_t *offsets, const int *features, const float *values, size_t tokens,
                            size_t width) {
  if (floats == 0 || floats > decoder_widest_vector()) floats = decoder_widest_vector();
#if defined(__x86_64__) && defined(__clang__)
  if (floats == 16) return decoder_rows_gather_avx512(out, ld_out, w, ld_w, offsets, features, values, tokens, width);
  if (floats == 8) return decoder_rows_gather_avx2(out, ld_out, w, ld_w, offsets, features, values, tokens, width);
#endif
  decoder_rows_gather_c(out, ld_out, w, ld_w, offsets, features, values, tokens, width);
}

void decoder_rows_gather(float *out, size_t ld_out, const float *w, size_t ld_w, const intptr_t *offsets,
                         const int *features, const float *values, size_t tokens, size_t width) {
  decoder_rows_gather_at(0, out, ld_out, w, ld_w, offsets, features, values, tokens, width);
}

__attribute__((target_clones("arch=x86-64-v3", "default")))
void row_block_squares(const float *restrict w, size_t rows, size_t width, size_t ld, float *restrict squares) {
  for (size_t r = 0; r < rows; r++) {
    const float *restrict x = w + r * ld;
    float s[8] = {0};
    size_t j = 0;
    for (; j + 8 <= width; j += 8)
      for (int u = 0; u < 8; u++) s[u] += x[j + u] * x[j + u];
    for (; j < width; j++) s[0] += x[j] * x[j];
    squares[r] += ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
  }
}

__attribute__((target_clones("arch=x86-64-v3", "default")))
void adam_rows(float *restrict p, const float *restrict grad, const unsigned char *active, float *restrict m,
               float *restrict v, size_t rows, size_t d, const adam_step *k) {
  for (size_t r = 0; r < rows; r++) {
    float *pr = p + r * d, *mr = m + r * d, *vr = v + r * d;
    if (active == NULL || active[r]) {
      const float *gr = grad + r * d;
      for (size_t j = 0; j < d; j++) adam_coordinate(pr + j, mr + j, vr + j, k->scale * gr[j], k);
    } else {
      for (size_t j = 0; j < d; j++) adam_coordinate(pr + j, mr + j, vr + j, 0, k);
    }
  }
}
