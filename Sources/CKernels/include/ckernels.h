// Element-wise kernels in C, so that they can be compiled for AVX2/FMA with a portable fallback
// (function multi-versioning picks the variant at load time). Everything else is Swift.
#ifndef CKERNELS_H
#define CKERNELS_H
#include <stddef.h>
#include <stdint.h>

/// x <- GELU_tanh(x + bias), row by row. x (rows, dim), bias (dim) or NULL.
void gelu_tanh_bias_forward(float *x, const float *bias, size_t rows, size_t dim);

/// x <- softmax(x), numerically stable. x (count).
void softmax_forward(float *x, size_t count);

/// out <- silu(gate) * up, SwiGLU's element-wise part. out, gate, up (count); out may be gate.
void swiglu_forward(float *out, const float *gate, const float *up, size_t count);

// Sparse transcoder kernels (transcoder.c): the rows a cross-layer transcoder's active features touch.

/// Writes the indices i with h[i] > bound[i] to out, in increasing order; returns their count.
/// h, bound (n), out (n).
size_t select_above(const float *h, const float *bound, size_t n, int *out);

/// Writes the indices i with h[i] > bound to out, in increasing order; returns their count.
/// h (n), out (n).
size_t select_above_scalar(const float *h, float bound, size_t n, int *out);

/// The k-th largest of values (1 <= k <= n), by quickselect in scratch (n), which is overwritten.
float kth_largest(const float *values, size_t n, size_t k, float *scratch);

/// out += a * x. out, x (d).
void row_axpy(float *out, const float *x, float a, size_t d);

/// out (d) += Σ_i values[i] · matrix[indices[i] · ld ..< + d]: a sparse vector times the rows of a
/// matrix with row stride ld (a CLT's active features times their decoder rows). Each row is
/// prefetched two rows ahead, since rows a few KB long at scattered addresses defeat the hardware
/// prefetcher.
void sparse_rows_axpy(float *out, const float *matrix, size_t ld, const int *indices,
                      const float *values, size_t k, size_t d);

/// One Adam step's constants (see AdamOptimizer): the gradient's scale (global-norm clipping),
/// beta1, beta2, the learning rate over the first moment's bias correction, the inverse of the
/// second moment's bias correction, and epsilon.
typedef struct {
  float scale, b1, b2, lr, inv_c2, eps;
} adam_step;

/// The backward pass through one decoder row w (d) for the `count` entries (tokens) its feature
/// fired or nearly fired on, with g (N, d) the gradient of the loss at the target layer's output:
///   grad_a[e] += w . g[tokens[e]]                                  (accumulated over target layers)
///   grad_row   = [grad_row if accumulate] + scale * w + sum_e values[e] * g[tokens[e]]
/// (values[e] = 0 for a near miss), and returns |grad_row|^2. The row's columns are taken 4 vectors
/// at a time (64 columns with AVX-512, 32 with AVX2) and held in registers while every entry
/// passes over them, so the gradient row is written once rather than once an entry.
/// tokens, values, grad_a (count). At the widest vectors the CPU has (decoder_widest_vector).
double decoder_row_backward(const float *w, const float *g, const int *tokens, const float *values,
                            size_t count, size_t d, float scale, int accumulate, float *grad_row, float *grad_a);

/// decoder_row_backward with the row's Adam step in the same pass: the gradient is not stored
/// but, a chunk of columns at a time while still in registers, scaled by adam->scale and applied to w and
/// its moments m and v (d each), as adam_rows would. This saves writing the gradient and reading
/// it back, a third of a training step's memory traffic. grad_row (d) is the gradient to add
/// when `accumulate`, and otherwise scratch for rows of more than 64 entries; it is left holding
/// no particular value. Returns |gradient|^2 before scaling, and sets *new_squares (unless NULL)
/// to |w|^2 after the step: the next forward pass needs the row's norm, and reading the 1.1 GB of
/// decoder rows again for it cost 9% of a step at the demo's shape.
double decoder_row_backward_adam(float *w, const float *g, const int *tokens, const float *values, size_t count,
                                 size_t d, float scale, int accumulate, float *grad_row, float *grad_a,
                                 const adam_step *adam, float *m, float *v, float *new_squares);

/// The widest vectors, in floats, that this CPU runs the decoder kernels on: 16 (AVX-512), 8 (AVX2
/// with FMA) or 1 (plain C). On the Xeon of docs/BENCHMARKS.md (session 17), AVX-512 made a
/// demo-shape training step 1.08x faster than AVX2: half the instructions per entry, and the
/// forward pass's 128-column register block.
int decoder_widest_vector(void);

/// decoder_row_backward_adam (adam NULL: decoder_row_backward) on vectors of `floats` floats: 16, 8
/// or 1 (plain C, one entry at a time), or 0 for the widest; at most the widest. For tests of
/// every path on one CPU.
double decoder_row_backward_at(int floats, float *w, const float *g, const int *tokens, const float *values,
                               size_t count, size_t d, float scale, int accumulate, float *grad_row, float *grad_a,
                               const adam_step *adam, float *m, float *v, float *new_squares);

/// out[tokens[e]] += values[e] * w for each of the `count` entries: one decoder row added to the
/// reconstructions (N, d) of the tokens its feature fired on, the row held in registers 32 columns
/// at a time. Returns |w|^2, which the sparsity penalty needs and costs nothing with w in
/// registers. w (d); tokens, values (count); distinct tokens.
float decoder_row_scatter(float *out, const float *w, const int *tokens, const float *values, size_t count,
                          size_t d);

/// The decoder's forward for one (source, target) layer pair over a block of `width` columns,
/// token by token:
///   out[t, :width] += sum_{e in offsets[t] ..< offsets[t + 1]} values[e] * w[features[e], :width]
/// for t < tokens. Each token's sum is held in registers (128 columns at a time with AVX-512, 64
/// with AVX2), so its output is
/// read and written once and the decoder rows are only read. Called on column blocks whose
/// decoder rows (F × width) stay in L2, this reads every row block from L2 instead of writing a
/// token's output once per active feature as decoder_row_scatter does (1.2-2.1x fewer ns per
/// entry in a microbenchmark at the demo's and the quality run's shapes).
/// out (tokens, ld_out), w (F, ld_w), offsets (tokens + 1), features and values (offsets[tokens]).
void decoder_rows_gather(float *out, size_t ld_out, const float *w, size_t ld_w, const intptr_t *offsets,
                         const int *features, const float *values, size_t tokens, size_t width);

/// decoder_rows_gather on vectors of `floats` floats (as decoder_row_backward_at), for tests.
void decoder_rows_gather_at(int floats, float *out, size_t ld_out, const float *w, size_t ld_w,
                            const intptr_t *offsets, const int *features, const float *values, size_t tokens,
                            size_t width);

/// squares[r] += |w[r, :width]|^2 for r < rows: a block of columns of the decoder rows' squared
/// norms. w (rows, ld), squares (rows).
void row_block_squares(const float *w, size_t rows, size_t width, size_t ld, float *squares);

/// Returns the sum of x[i]^2 in double. x (n).
double sum_squares(const float *x, size_t n);

/// Adam on `rows` rows of d parameters: where active is NULL or active[r] != 0, g = k->scale * grad[r];
/// otherwise g = 0 and grad[r] is not read (it may hold stale values).
///   m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2;  p <- p - lr m / (sqrt(v inv_c2) + eps)
/// p, grad, m, v (rows, d), active (rows).
void adam_rows(float *p, const float *grad, const unsigned char *active, float *m, float *v, size_t rows,
               size_t d, const adam_step *k);


// Half-precision kernels (half.c): matrices stored as IEEE binary16 bits (uint16_t), rows of
// stride ld; F16C when the CPU has it, a portable conversion otherwise.

/// dst (k, d), row r = scales[r] · matrix[indices[r] · ld ..< + d]: scaled rows gathered into
/// floats (the decoder rows of a position's active features, times their activations).
void half_rows_scaled(float *dst, const uint16_t *matrix, size_t ld, const int *indices, const float *scales,
                      size_t k, size_t d);

/// The same with the portable conversion only, for tests of the F16C path.
void half_rows_scaled_reference(float *dst, const uint16_t *matrix, size_t ld, const int *indices,
                                const float *scales, size_t k, size_t d);

/// out (d) += Σ_i values[i] · matrix[indices[i] · ld ..< + d]: sparse_rows_axpy over half rows.
void sparse_half_rows_axpy(float *out, const uint16_t *matrix, size_t ld, const int *indices,
                           const float *values, size_t k, size_t d);


/// `bytes` of memory for a buffer, freed with free(). After use_huge_pages(1), from 2 MB up it
/// starts on a 2 MB boundary and asks Linux for transparent huge pages (madvise), which Debian and
/// Ubuntu give only to memory that asks: the decoder's rows and the gradient's token rows are read
/// in a scattered order, and on 4 KB pages nearly every such row is a TLB miss. NULL if the
/// memory is not there.
void *allocate_buffer(size_t bytes);

/// Whether allocate_buffer asks for huge pages (off by default). They speed up clt-fit's steps
/// about 1.2x, but the kernel may have to compact memory to find them: on a fragmented machine
/// the first touch then costs seconds a gigabyte, which only a long run wins back.
void use_huge_pages(int on);

/// Has glibc map every allocation of `threshold` bytes or more on its own and unmap it on free
/// (a fixed M_MMAP_THRESHOLD). Its default threshold grows to 32 MB as big buffers come and go,
/// and what it then keeps in its heaps for reuse stays resident. No effect on other C libraries.
void return_large_buffers_to_system(size_t threshold);

#endif

/// The OpenBLAS core type this CPU's instruction set allows ("SkylakeX" with AVX-512F/BW/DQ/VL,
/// "Haswell" with AVX2 and FMA), or NULL without either; for `BLASKernels.chooseForThisCPU`.
const char *cltk_blas_core_for_cpu(void);
