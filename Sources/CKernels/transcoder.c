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
float row_dot_axpy(const float *restrict w, const float *restrict g, float *restrict acc, float a, size_t d) {
  float s[LANES] = {0};
  size_t j = 0;
  for (; j + LANES <= d; j += LANES)
    for (int u = 0; u < LANES; u++) {
      s[u] += w[j + u] * g[j + u];
      acc[j + u] += a * g[j + u];
    }
  for (; j < d; j++) {
    s[0] += w[j] * g[j];
    acc[j] += a * g[j];
  }
  float total = 0;
  for (int u = 0; u < LANES; u++) total += s[u];
  return total;
}

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

// Columns of a decoder row held in registers while every entry of the row passes over them: 32
// floats are 4 AVX2 registers of the row's gradient and 4 of the row itself.
#define CHUNK 32
// Entries whose dot products are carried (8 partial sums each) between chunks; 64 of them are 2 KB.
#define ENTRY_BLOCK 64

double decoder_row_backward_reference(const float *restrict w, const float *restrict g,
                                      const int *restrict tokens, const float *restrict values, size_t count,
                                      size_t d, float scale, float *restrict grad_row, float *restrict grad_a) {
  for (size_t j = 0; j < d; j++) grad_row[j] = scale * w[j];
  for (size_t e = 0; e < count; e++) {
    const float *restrict gr = g + (size_t)tokens[e] * d;
    float s = 0;
    for (size_t j = 0; j < d; j++) {
      s += w[j] * gr[j];
      grad_row[j] += values[e] * gr[j];
    }
    grad_a[e] += s;
  }
  return sum_squares(grad_row, d);
}

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#define DECODER_HAS_AVX2_PATH 1

// AVX2 with FMA: CHUNK = 32 columns are 4 registers of the row and 4 of its gradient, which stay
// put while every entry of the block passes; each entry's dot product is carried between chunks
// as 8 partial sums.
__attribute__((target("avx2,fma")))
static double decoder_row_backward_avx2(const float *restrict w, const float *restrict g,
                                        const int *restrict tokens, const float *restrict values,
                                        size_t count, size_t d, float scale, float *restrict grad_row,
                                        float *restrict grad_a) {
  const size_t whole = d - d % CHUNK;
  for (size_t first = 0; first < count || first == 0; first += ENTRY_BLOCK) {
    const size_t m = count - first < ENTRY_BLOCK ? count - first : ENTRY_BLOCK;
    float dots[ENTRY_BLOCK][8] __attribute__((aligned(32)));
    memset(dots, 0, sizeof(dots));
    const __m256 s = _mm256_set1_ps(scale);
    for (size_t j0 = 0; j0 < whole; j0 += CHUNK) {
      const __m256 w0 = _mm256_loadu_ps(w + j0), w1 = _mm256_loadu_ps(w + j0 + 8);
      const __m256 w2 = _mm256_loadu_ps(w + j0 + 16), w3 = _mm256_loadu_ps(w + j0 + 24);
      __m256 a0, a1, a2, a3;
      if (first == 0) {
        a0 = _mm256_mul_ps(s, w0), a1 = _mm256_mul_ps(s, w1);
        a2 = _mm256_mul_ps(s, w2), a3 = _mm256_mul_ps(s, w3);
      } else {
        a0 = _mm256_loadu_ps(grad_row + j0), a1 = _mm256_loadu_ps(grad_row + j0 + 8);
        a2 = _mm256_loadu_ps(grad_row + j0 + 16), a3 = _mm256_loadu_ps(grad_row + j0 + 24);
      }
      for (size_t e = 0; e < m; e++) {
        const float *restrict gr = g + (size_t)tokens[first + e] * d + j0;
        const __m256 g0 = _mm256_loadu_ps(gr), g1 = _mm256_loadu_ps(gr + 8);
        const __m256 g2 = _mm256_loadu_ps(gr + 16), g3 = _mm256_loadu_ps(gr + 24);
        const __m256 p01 = _mm256_fmadd_ps(w1, g1, _mm256_mul_ps(w0, g0));
        const __m256 p23 = _mm256_fmadd_ps(w3, g3, _mm256_mul_ps(w2, g2));
        _mm256_store_ps(dots[e], _mm256_add_ps(_mm256_load_ps(dots[e]), _mm256_add_ps(p01, p23)));
        const __m256 a = _mm256_set1_ps(values[first + e]);
        a0 = _mm256_fmadd_ps(a, g0, a0), a1 = _mm256_fmadd_ps(a, g1, a1);
        a2 = _mm256_fmadd_ps(a, g2, a2), a3 = _mm256_fmadd_ps(a, g3, a3);
      }
      _mm256_storeu_ps(grad_row + j0, a0), _mm256_storeu_ps(grad_row + j0 + 8, a1);
      _mm256_storeu_ps(grad_row + j0 + 16, a2), _mm256_storeu_ps(grad_row + j0 + 24, a3);
    }
    for (size_t j = whole; j < d; j++) {  // the columns past the last whole chunk
      float acc = first == 0 ? scale * w[j] : grad_row[j];
      for (size_t e = 0; e < m; e++) {
        const float gv = g[(size_t)tokens[first + e] * d + j];
        dots[e][0] += w[j] * gv;
        acc += values[first + e] * gv;
      }
      grad_row[j] = acc;
    }
    for (size_t e = 0; e < m; e++) {
      float total = 0;
      for (int u = 0; u < 8; u++) total += dots[e][u];
      grad_a[first + e] += total;
    }
    if (count == 0) break;
  }
  return sum_squares(grad_row, d);
}

static int decoder_uses_avx2(void) {
  static int known = -1;
  if (known < 0) {
    __builtin_cpu_init();
    known = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }
  return known;
}
#endif

double decoder_row_backward(const float *w, const float *g, const int *tokens, const float *values, size_t count,
                            size_t d, float scale, float *grad_row, float *grad_a) {
#ifdef DECODER_HAS_AVX2_PATH
  if (decoder_uses_avx2())
    return decoder_row_backward_avx2(w, g, tokens, values, count, d, scale, grad_row, grad_a);
#endif
  return decoder_row_backward_reference(w, g, tokens, values, count, d, scale, grad_row, grad_a);
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
void adam_rows(float *restrict p, const float *restrict grad, const unsigned char *active, float *restrict m,
               float *restrict v, size_t rows, size_t d, float scale, float b1, float b2, float lr, float c2,
               float eps) {
  float inv_c2 = 1.0f / c2;
  for (size_t r = 0; r < rows; r++) {
    float *pr = p + r * d, *mr = m + r * d, *vr = v + r * d;
    if (active == NULL || active[r]) {
      const float *gr = grad + r * d;
      for (size_t j = 0; j < d; j++) {
        float g = scale * gr[j];
        mr[j] = b1 * mr[j] + (1 - b1) * g;
        vr[j] = b2 * vr[j] + (1 - b2) * g * g;
        pr[j] -= lr * mr[j] / (sqrtf(vr[j] * inv_c2) + eps);
      }
    } else {
      for (size_t j = 0; j < d; j++) {
        mr[j] = b1 * mr[j];
        vr[j] = b2 * vr[j];
        pr[j] -= lr * mr[j] / (sqrtf(vr[j] * inv_c2) + eps);
      }
    }
  }
}
