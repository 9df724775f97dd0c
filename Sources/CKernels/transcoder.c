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

// Columns of a decoder row held in registers while every entry of the row passes over them: 32
// floats are 4 AVX2 registers of the row's gradient and 4 of the row itself.
#define CHUNK 32
// Entries whose dot products are carried (8 partial sums each) between chunks; 64 of them are 2 KB.
#define ENTRY_BLOCK 64

// One coordinate's Adam step from its gradient g (already scaled): the one definition that
// adam_rows and the decoder kernels' scalar columns share.
static inline void adam_coordinate(float *p, float *m, float *v, float g, const adam_step *k) {
  *m = k->b1 * *m + (1 - k->b1) * g;
  *v = k->b2 * *v + (1 - k->b2) * g * g;
  *p -= k->lr * *m / (sqrtf(*v * k->inv_c2) + k->eps);
}

double decoder_row_backward_reference(float *restrict w, const float *restrict g, const int *restrict tokens,
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

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#define DECODER_HAS_AVX2_PATH 1

// Adam on 8 columns in registers: the vector form of adam_coordinate. Returns the new p.
__attribute__((target("avx2,fma")))
static inline __m256 adam_columns(__m256 p, __m256 grad, float *restrict m, float *restrict v,
                                  const adam_step *k) {
  const __m256 gs = _mm256_mul_ps(_mm256_set1_ps(k->scale), grad);
  const __m256 mm = _mm256_add_ps(_mm256_mul_ps(_mm256_set1_ps(k->b1), _mm256_loadu_ps(m)),
                                  _mm256_mul_ps(_mm256_set1_ps(1 - k->b1), gs));
  const __m256 vv = _mm256_add_ps(_mm256_mul_ps(_mm256_set1_ps(k->b2), _mm256_loadu_ps(v)),
                                  _mm256_mul_ps(_mm256_set1_ps(1 - k->b2), _mm256_mul_ps(gs, gs)));
  _mm256_storeu_ps(m, mm);
  _mm256_storeu_ps(v, vv);
  const __m256 root = _mm256_sqrt_ps(_mm256_mul_ps(vv, _mm256_set1_ps(k->inv_c2)));
  const __m256 step = _mm256_div_ps(_mm256_mul_ps(_mm256_set1_ps(k->lr), mm),
                                    _mm256_add_ps(root, _mm256_set1_ps(k->eps)));
  return _mm256_sub_ps(p, step);
}

// AVX2 with FMA: CHUNK = 32 columns are 4 registers of the row and 4 of its gradient, which stay
// put while every entry of the block passes; each entry's dot product is carried between chunks
// as 8 partial sums. The row itself changes (Adam) only in the last block, after every block's
// dot products have read it.
__attribute__((target("avx2,fma")))
static double decoder_row_backward_avx2(float *restrict w, const float *restrict g, const int *restrict tokens,
                                        const float *restrict values, size_t count, size_t d, float scale,
                                        int accumulate, float *restrict grad_row, float *restrict grad_a,
                                        const adam_step *adam, float *restrict m, float *restrict v,
                                        float *restrict new_squares) {
  const size_t whole = d - d % CHUNK;
  __m256 squares = _mm256_setzero_ps(), fresh = _mm256_setzero_ps();
  float tail_fresh = 0;
  double tail_squares = 0;
  for (size_t first = 0; first < count || first == 0; first += ENTRY_BLOCK) {
    const size_t n = count - first < ENTRY_BLOCK ? count - first : ENTRY_BLOCK;
    const int last = first + ENTRY_BLOCK >= count;
    float dots[ENTRY_BLOCK][8] __attribute__((aligned(32)));
    memset(dots, 0, sizeof(dots));
    const __m256 s = _mm256_set1_ps(scale);
    for (size_t j0 = 0; j0 < whole; j0 += CHUNK) {
      __m256 wc[4], a[4];
      for (int u = 0; u < 4; u++) {
        wc[u] = _mm256_loadu_ps(w + j0 + 8 * u);
        if (first == 0) {
          a[u] = _mm256_mul_ps(s, wc[u]);
          if (accumulate) a[u] = _mm256_add_ps(a[u], _mm256_loadu_ps(grad_row + j0 + 8 * u));
        } else {
          a[u] = _mm256_loadu_ps(grad_row + j0 + 8 * u);
        }
      }
      for (size_t e = 0; e < n; e++) {
        const float *restrict gr = g + (size_t)tokens[first + e] * d + j0;
        // This entry's next chunk of g, read after every other entry's chunk: its token rows are
        // scattered, which the hardware prefetchers do not follow.
        if (j0 + CHUNK < whole) {
          _mm_prefetch((const char *)(gr + CHUNK), _MM_HINT_T0);
          _mm_prefetch((const char *)(gr + CHUNK + 16), _MM_HINT_T0);
        }
        const __m256 g0 = _mm256_loadu_ps(gr), g1 = _mm256_loadu_ps(gr + 8);
        const __m256 g2 = _mm256_loadu_ps(gr + 16), g3 = _mm256_loadu_ps(gr + 24);
        const __m256 p01 = _mm256_fmadd_ps(wc[1], g1, _mm256_mul_ps(wc[0], g0));
        const __m256 p23 = _mm256_fmadd_ps(wc[3], g3, _mm256_mul_ps(wc[2], g2));
        _mm256_store_ps(dots[e], _mm256_add_ps(_mm256_load_ps(dots[e]), _mm256_add_ps(p01, p23)));
        const __m256 av = _mm256_set1_ps(values[first + e]);
        a[0] = _mm256_fmadd_ps(av, g0, a[0]), a[1] = _mm256_fmadd_ps(av, g1, a[1]);
        a[2] = _mm256_fmadd_ps(av, g2, a[2]), a[3] = _mm256_fmadd_ps(av, g3, a[3]);
      }
      for (int u = 0; u < 4; u++) {
        if (!last) {
          _mm256_storeu_ps(grad_row + j0 + 8 * u, a[u]);
          continue;
        }
        squares = _mm256_fmadd_ps(a[u], a[u], squares);
        if (adam) {
          const __m256 stepped = adam_columns(wc[u], a[u], m + j0 + 8 * u, v + j0 + 8 * u, adam);
          fresh = _mm256_fmadd_ps(stepped, stepped, fresh);
          _mm256_storeu_ps(w + j0 + 8 * u, stepped);
        } else
          _mm256_storeu_ps(grad_row + j0 + 8 * u, a[u]);
      }
    }
    for (size_t j = whole; j < d; j++) {  // the columns past the last whole chunk
      float acc = first == 0 ? scale * w[j] + (accumulate ? grad_row[j] : 0) : grad_row[j];
      for (size_t e = 0; e < n; e++) {
        const float gv = g[(size_t)tokens[first + e] * d + j];
        dots[e][0] += w[j] * gv;
        acc += values[first + e] * gv;
      }
      grad_row[j] = acc;
    }
    for (size_t e = 0; e < n; e++) {
      float total = 0;
      for (int u = 0; u < 8; u++) total += dots[e][u];
      grad_a[first + e] += total;
    }
    if (last) {
      for (size_t j = whole; j < d; j++) {
        tail_squares += (double)grad_row[j] * grad_row[j];
        if (adam) {
          adam_coordinate(w + j, m + j, v + j, adam->scale * grad_row[j], adam);
          tail_fresh += w[j] * w[j];
        }
      }
      break;
    }
  }
  float lanes[8], fresh_lanes[8];
  _mm256_storeu_ps(lanes, squares);
  _mm256_storeu_ps(fresh_lanes, fresh);
  double total = tail_squares;
  for (int u = 0; u < 8; u++) {
    total += lanes[u];
    tail_fresh += fresh_lanes[u];
  }
  if (adam && new_squares) *new_squares = tail_fresh;
  return total;
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

static double decoder_row_backward_any(float *w, const float *g, const int *tokens, const float *values,
                                       size_t count, size_t d, float scale, int accumulate, float *grad_row,
                                       float *grad_a, const adam_step *adam, float *m, float *v,
                                       float *new_squares) {
#ifdef DECODER_HAS_AVX2_PATH
  if (decoder_uses_avx2())
    return decoder_row_backward_avx2(w, g, tokens, values, count, d, scale, accumulate, grad_row, grad_a, adam,
                                     m, v, new_squares);
#endif
  return decoder_row_backward_reference(w, g, tokens, values, count, d, scale, accumulate, grad_row, grad_a,
                                        adam, m, v, new_squares);
}

double decoder_row_backward(const float *w, const float *g, const int *tokens, const float *values, size_t count,
                            size_t d, float scale, int accumulate, float *grad_row, float *grad_a) {
  // Without an Adam step the row is only read.
  return decoder_row_backward_any((float *)w, g, tokens, values, count, d, scale, accumulate, grad_row, grad_a,
                                  NULL, NULL, NULL, NULL);
}

double decoder_row_backward_adam(float *w, const float *g, const int *tokens, const float *values, size_t count,
                                 size_t d, float scale, int accumulate, float *grad_row, float *grad_a,
                                 const adam_step *adam, float *m, float *v, float *new_squares) {
  return decoder_row_backward_any(w, g, tokens, values, count, d, scale, accumulate, grad_row, grad_a, adam, m,
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
void decoder_rows_gather(float *restrict out, size_t ld_out, const float *restrict w, size_t ld_w,
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
