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

// Eight partial sums so the reduction vectorises without -ffast-math.
__attribute__((target_clones("arch=x86-64-v3", "default")))
float row_dot(const float *restrict x, const float *restrict y, size_t d) {
  float s8[8] = {0};
  size_t j = 0;
  for (; j + 8 <= d; j += 8)
    for (int u = 0; u < 8; u++) s8[u] += x[j + u] * y[j + u];
  float s = 0;
  for (; j < d; j++) s += x[j] * y[j];
  for (int u = 0; u < 8; u++) s += s8[u];
  return s;
}

__attribute__((target_clones("arch=x86-64-v3", "default")))
float row_dot_axpy(const float *restrict w, const float *restrict g, float *restrict acc, float a, size_t d) {
  float s8[8] = {0};
  size_t j = 0;
  for (; j + 8 <= d; j += 8)
    for (int u = 0; u < 8; u++) {
      s8[u] += w[j + u] * g[j + u];
      acc[j + u] += a * g[j + u];
    }
  float s = 0;
  for (; j < d; j++) {
    s += w[j] * g[j];
    acc[j] += a * g[j];
  }
  for (int u = 0; u < 8; u++) s += s8[u];
  return s;
}

__attribute__((target_clones("arch=x86-64-v3", "default")))
double sum_squares(const float *x, size_t n) {
  double total = 0;
  size_t i = 0;
  while (i < n) {  // float partial sums over blocks, double across them
    size_t end = n - i > 4096 ? i + 4096 : n;
    float s8[8] = {0};
    for (; i + 8 <= end; i += 8)
      for (int u = 0; u < 8; u++) s8[u] += x[i + u] * x[i + u];
    for (; i < end; i++) s8[0] += x[i] * x[i];
    for (int u = 0; u < 8; u++) total += s8[u];
  }
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
