// The decoder's two sparse passes, written once over a vector of VF floats and included by
// transcoder.c once per vector width (AVX-512: 16, AVX2: 8), with:
//   VF             floats per vector
//   VECTOR_TARGET  the function attribute that lets the compiler use that width
//   NAMED(name)    the width's name for each function (name ## _avx512, ...)
// Clang's vector extensions give element-wise + - * / and explicit FMA, so both widths run the
// same arithmetic, column for column; only the dot products' lanes (and so their rounding) differ.
// Loads and stores go through unaligned vector types: rows start anywhere in a matrix.

typedef float NAMED(vector) __attribute__((vector_size(VF * sizeof(float)), aligned(sizeof(float))));
#define VECTOR NAMED(vector)
#define LOAD(p) (*(const VECTOR *)(p))
#define STORE(p, x) (*(VECTOR *)(p) = (x))
#define FMA(a, b, c) __builtin_elementwise_fma((a), (b), (c))
#define SPLAT(x) ((VECTOR){} + (float)(x))

// total + the vector's lanes, in lane order, in float and in double.
VECTOR_TARGET static inline float NAMED(lanes_sum)(float total, VECTOR x) {
  for (int u = 0; u < VF; u++) total += x[u];
  return total;
}

VECTOR_TARGET static inline double NAMED(lanes_sum_double)(double total, VECTOR x) {
  for (int u = 0; u < VF; u++) total += x[u];
  return total;
}

// Adam on VF columns in registers: the vector form of adam_coordinate. Returns the new p.
VECTOR_TARGET static inline VECTOR NAMED(adam_columns)(VECTOR p, VECTOR grad, float *restrict m,
                                                       float *restrict v, const adam_step *k) {
#pragma clang fp contract(off)  // as adam_coordinate: a product and a sum, not one fused step
  const VECTOR gs = SPLAT(k->scale) * grad;
  const VECTOR mm = SPLAT(k->b1) * LOAD(m) + SPLAT(1 - k->b1) * gs;
  const VECTOR vv = SPLAT(k->b2) * LOAD(v) + SPLAT(1 - k->b2) * (gs * gs);
  STORE(m, mm);
  STORE(v, vv);
  const VECTOR root = __builtin_elementwise_sqrt(vv * SPLAT(k->inv_c2));
  return p - SPLAT(k->lr) * mm / (root + SPLAT(k->eps));
}

// decoder_row_backward(_adam): a chunk of 4 vectors of columns is 4 registers of the row and 4 of
// its gradient, which stay put while every entry of the block passes; each entry's dot product is
// carried between chunks as VF partial sums. The row itself changes (Adam) only in the last
// block, after every block's dot products have read it.
VECTOR_TARGET static double NAMED(decoder_row_backward)(
    float *restrict w, const float *restrict g, const int *restrict tokens, const float *restrict values,
    size_t count, size_t d, float scale, int accumulate, float *restrict grad_row, float *restrict grad_a,
    const adam_step *adam, float *restrict m, float *restrict v, float *restrict new_squares) {
  enum { CHUNK_COLUMNS = 4 * VF };
  const size_t whole = d - d % CHUNK_COLUMNS;
  VECTOR squares = {}, fresh = {};
  float tail_fresh = 0;
  double tail_squares = 0;
  for (size_t first = 0; first < count || first == 0; first += ENTRY_BLOCK) {
    const size_t n = count - first < ENTRY_BLOCK ? count - first : ENTRY_BLOCK;
    const int last = first + ENTRY_BLOCK >= count;
    VECTOR dots[ENTRY_BLOCK];
    memset(dots, 0, sizeof(dots));
    for (size_t j0 = 0; j0 < whole; j0 += CHUNK_COLUMNS) {
      VECTOR wc[4], a[4];
      for (int u = 0; u < 4; u++) {
        wc[u] = LOAD(w + j0 + VF * u);
        if (first == 0) {
          a[u] = SPLAT(scale) * wc[u];
          if (accumulate) a[u] = a[u] + LOAD(grad_row + j0 + VF * u);
        } else {
          a[u] = LOAD(grad_row + j0 + VF * u);
        }
      }
      for (size_t e = 0; e < n; e++) {
        const float *restrict gr = g + (size_t)tokens[first + e] * d + j0;
        // This entry's next chunk of g, read after every other entry's chunk: its token rows are
        // scattered, which the hardware prefetchers do not follow.
        if (j0 + CHUNK_COLUMNS < whole)
          for (int line = 0; line < CHUNK_COLUMNS; line += 16) __builtin_prefetch(gr + CHUNK_COLUMNS + line);
        const VECTOR g0 = LOAD(gr), g1 = LOAD(gr + VF), g2 = LOAD(gr + 2 * VF), g3 = LOAD(gr + 3 * VF);
        const VECTOR p01 = FMA(wc[1], g1, wc[0] * g0), p23 = FMA(wc[3], g3, wc[2] * g2);
        dots[e] = dots[e] + (p01 + p23);
        const VECTOR av = SPLAT(values[first + e]);
        a[0] = FMA(av, g0, a[0]), a[1] = FMA(av, g1, a[1]);
        a[2] = FMA(av, g2, a[2]), a[3] = FMA(av, g3, a[3]);
      }
      for (int u = 0; u < 4; u++) {
        if (!last) {
          STORE(grad_row + j0 + VF * u, a[u]);
          continue;
        }
        squares = FMA(a[u], a[u], squares);
        if (adam) {
          const VECTOR stepped = NAMED(adam_columns)(wc[u], a[u], m + j0 + VF * u, v + j0 + VF * u, adam);
          fresh = FMA(stepped, stepped, fresh);
          STORE(w + j0 + VF * u, stepped);
        } else {
          STORE(grad_row + j0 + VF * u, a[u]);
        }
      }
    }
    float tail_dots[ENTRY_BLOCK] = {0};
    for (size_t j = whole; j < d; j++) {  // the columns past the last whole chunk
      float acc = first == 0 ? scale * w[j] + (accumulate ? grad_row[j] : 0) : grad_row[j];
      for (size_t e = 0; e < n; e++) {
        const float gv = g[(size_t)tokens[first + e] * d + j];
        tail_dots[e] += w[j] * gv;
        acc += values[first + e] * gv;
      }
      grad_row[j] = acc;
    }
    for (size_t e = 0; e < n; e++) grad_a[first + e] += NAMED(lanes_sum)(tail_dots[e], dots[e]);
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
  if (adam && new_squares) *new_squares = NAMED(lanes_sum)(tail_fresh, fresh);
  return NAMED(lanes_sum_double)(tail_squares, squares);
}

// One token's block of `vectors` vectors of columns, summed over its entries in registers; inlined
// with a constant `vectors`, so that the loops over registers unroll.
VECTOR_TARGET __attribute__((always_inline)) static inline void NAMED(gather_block)(
    float *restrict o, const float *restrict w, size_t ld_w, const int *restrict features,
    const float *restrict values, intptr_t first, intptr_t end, const int vectors) {
  VECTOR acc[GATHER_VECTORS];
  for (int u = 0; u < vectors; u++) acc[u] = LOAD(o + VF * u);
  for (intptr_t e = first; e < end; e++) {
    const float *restrict r = w + (size_t)features[e] * ld_w;
    const VECTOR a = SPLAT(values[e]);
    for (int u = 0; u < vectors; u++) acc[u] = FMA(a, LOAD(r + VF * u), acc[u]);
  }
  for (int u = 0; u < vectors; u++) STORE(o + VF * u, acc[u]);
}

// decoder_rows_gather: each token's block of columns is summed in up to GATHER_VECTORS registers
// at a time (128 columns at AVX-512's width), then in 4, 2 and 1 for what is left, so that a block
// of 64 columns (the quality run's shape) is still one pass over the token's entries. Its output
// is read and written once, and each entry's row costs one broadcast and one FMA per vector.
VECTOR_TARGET static void NAMED(decoder_rows_gather)(float *restrict out, size_t ld_out, const float *restrict w,
                                                     size_t ld_w, const intptr_t *restrict offsets,
                                                     const int *restrict features, const float *restrict values,
                                                     size_t tokens, size_t width) {
  for (size_t t = 0; t < tokens; t++) {
    float *restrict o = out + t * ld_out;
    const intptr_t first = offsets[t], end = offsets[t + 1];
    size_t j0 = 0;
    for (; j0 + GATHER_VECTORS * VF <= width; j0 += GATHER_VECTORS * VF)
      NAMED(gather_block)(o + j0, w + j0, ld_w, features, values, first, end, GATHER_VECTORS);
    if (j0 + 4 * VF <= width) {  // what is left is under GATHER_VECTORS = 8 vectors
      NAMED(gather_block)(o + j0, w + j0, ld_w, features, values, first, end, 4);
      j0 += 4 * VF;
    }
    if (j0 + 2 * VF <= width) {
      NAMED(gather_block)(o + j0, w + j0, ld_w, features, values, first, end, 2);
      j0 += 2 * VF;
    }
    if (j0 + VF <= width) {
      NAMED(gather_block)(o + j0, w + j0, ld_w, features, values, first, end, 1);
      j0 += VF;
    }
    for (; j0 < width; j0++) {
      float acc = o[j0];
      for (intptr_t e = first; e < end; e++) acc = fmaf(values[e], w[(size_t)features[e] * ld_w + j0], acc);
      o[j0] = acc;
    }
  }
}

#undef VECTOR
#undef LOAD
#undef STORE
#undef FMA
#undef SPLAT
