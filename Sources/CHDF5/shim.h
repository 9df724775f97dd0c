// C shim for the HDF5 1.10 API.
//
// Many HDF5 identifiers are macros that Swift cannot import: H5T_NATIVE_FLOAT and friends are
// comma expressions that first initialise the library (H5OPEN), the H5F_ACC_* flags include a
// version check (H5CHECK), and H5P_DEFAULT/H5S_ALL import with the wrong type (Int32, not hid_t).
// Each one the Swift wrapper needs is wrapped here in a `static inline` function so that the
// library is initialised exactly as a C caller would initialise it.
#ifndef CLTK_CHDF5_SHIM_H
#define CLTK_CHDF5_SHIM_H

#include <hdf5.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

// MARK: - Predefined datatypes
static inline hid_t cltk_h5t_native_float(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t cltk_h5t_native_double(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t cltk_h5t_native_int32(void) { return H5T_NATIVE_INT32; }
static inline hid_t cltk_h5t_native_int64(void) { return H5T_NATIVE_INT64; }
static inline hid_t cltk_h5t_ieee_f32le(void) { return H5T_IEEE_F32LE; }
static inline hid_t cltk_h5t_std_i32le(void) { return H5T_STD_I32LE; }
static inline hid_t cltk_h5t_std_i64le(void) { return H5T_STD_I64LE; }
static inline hid_t cltk_h5t_ieee_f64le(void) { return H5T_IEEE_F64LE; }
static inline hid_t cltk_h5t_c_s1(void) { return H5T_C_S1; }

// MARK: - Property list classes and defaults
static inline hid_t cltk_h5p_default(void) { return (hid_t)H5P_DEFAULT; }
static inline hid_t cltk_h5p_dataset_create(void) { return H5P_DATASET_CREATE; }
static inline hid_t cltk_h5p_link_create(void) { return H5P_LINK_CREATE; }

/// A file access property list with HDF5's file locking off (see `HDF5Library.fileAccess`).
static inline hid_t cltk_h5p_file_access_without_locking(void) {
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  if (fapl < 0) return fapl;
  if (H5Pset_file_locking(fapl, 0, 1) < 0) {
    H5Pclose(fapl);
    return -1;
  }
  return fapl;
}

// MARK: - Dataspaces
static inline hid_t cltk_h5s_all(void) { return (hid_t)H5S_ALL; }
static inline hsize_t cltk_h5s_unlimited(void) { return H5S_UNLIMITED; }

// MARK: - File access flags
static inline unsigned cltk_h5f_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline unsigned cltk_h5f_acc_rdwr(void) { return H5F_ACC_RDWR; }
static inline unsigned cltk_h5f_acc_trunc(void) { return H5F_ACC_TRUNC; }

static inline size_t cltk_h5t_variable(void) { return H5T_VARIABLE; }

// MARK: - Errors
/// Turns off HDF5's automatic error printing to stderr; the Swift wrapper reports errors itself.
static inline herr_t cltk_h5_silence_errors(void) { return H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }


typedef struct {
  char *buffer;
  size_t capacity;
} cltk_h5_error_sink;

static inline herr_t cltk_h5_error_walker(unsigned n, const H5E_error2_t *err, void *data) {
  cltk_h5_error_sink *sink = (cltk_h5_error_sink *)data;
  // Entry 0 of an upward walk is the innermost error: the most specific description
  // (for example "unable to open file: name = '...', errno = 2, ...").
  if (n == 0 && err != NULL && err->desc != NULL && sink->capacity > 0) {
    snprintf(sink->buffer, sink->capacity, "%s", err->desc);
  }
  return 0;
}

/// Copies the innermost message of HDF5's current error stack into `buffer` (empty if none),
/// so that Swift errors can say *why* a call failed, not only that it did.
static inline void cltk_h5_last_error(char *buffer, size_t capacity) {
  if (capacity == 0) return;
  buffer[0] = 0;
  cltk_h5_error_sink sink = {buffer, capacity};
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, cltk_h5_error_walker, &sink);
}

// MARK: - Variable-length string descriptors
//
// libhdf5 1.10 trusts the global heap when it reads a variable-length string: a damaged heap
// object size or object index makes H5HG_read copy past its buffers (a segfault, not an error).
// This conversion lets the Swift wrapper read an attribute's raw on-disk descriptor (length,
// heap collection address, object index) instead, and check it against the heap itself: from a
// variable-length string to an opaque type tagged CLTK_VLEN_DESCRIPTOR_TAG it leaves the bytes as
// they are, since H5Aread hands a conversion the attribute's data as stored in the file.
#define CLTK_VLEN_DESCRIPTOR_TAG "cltk-vlen-string-descriptor"

static inline herr_t cltk_h5_vlen_descriptor_conversion(
    hid_t src, hid_t dst, H5T_cdata_t *cdata, size_t nelmts, size_t buf_stride, size_t bkg_stride,
    void *buf, void *bkg, hid_t dxpl) {
  (void)nelmts; (void)buf_stride; (void)bkg_stride; (void)buf; (void)bkg; (void)dxpl;
  if (cdata->command != H5T_CONV_INIT) return 0;  // H5T_CONV_CONV: the bytes stay as stored
  if (H5Tis_variable_str(src) <= 0) return -1;
  char *tag = H5Tget_tag(dst);
  int matches = tag != NULL && strcmp(tag, CLTK_VLEN_DESCRIPTOR_TAG) == 0;
  if (tag != NULL) H5free_memory(tag);
  if (!matches || H5Tget_size(dst) < H5Tget_size(src)) return -1;
  cdata->need_bkg = H5T_BKG_NO;
  return 0;
}

/// The opaque type that H5Aread fills with a variable-length string's raw descriptor (16 bytes,
/// enough for 8-byte file addresses), with the conversion above registered; negative on failure.
static inline hid_t cltk_h5_vlen_descriptor_type(void) {
  hid_t opaque = H5Tcreate(H5T_OPAQUE, 16);
  if (opaque < 0) return opaque;
  hid_t string = H5Tcopy(H5T_C_S1);
  if (string < 0 || H5Tset_size(string, H5T_VARIABLE) < 0 || H5Tset_tag(opaque, CLTK_VLEN_DESCRIPTOR_TAG) < 0
      || H5Tregister(H5T_PERS_SOFT, "cltk vlen descriptor", string, opaque,
                     cltk_h5_vlen_descriptor_conversion) < 0) {
    if (string >= 0) H5Tclose(string);
    H5Tclose(opaque);
    return -1;
  }
  H5Tclose(string);
  return opaque;
}

// MARK: - Object addresses

/// The file address of the header of `object` (HADDR_UNDEF on failure), where the Swift wrapper
/// checks the header's messages before libhdf5 decodes them. HDF5 1.12 replaced addresses in
/// H5O_info with tokens; both APIs are wrapped so the package builds against 1.10 and later.
static inline haddr_t cltk_h5o_address(hid_t object) {
#if H5_VERSION_GE(1, 12, 0)
  H5O_info2_t info;
  haddr_t address = HADDR_UNDEF;
  if (H5Oget_info3(object, &info, H5O_INFO_BASIC) < 0) return HADDR_UNDEF;
  if (H5VLnative_token_to_addr(object, info.token, &address) < 0) return HADDR_UNDEF;
  return address;
#else
  H5O_info_t info;
  if (H5Oget_info2(object, &info, H5O_INFO_BASIC) < 0) return HADDR_UNDEF;
  return info.addr;
#endif
}

// MARK: - float16 <-> float32 conversion
//
// HDF5 1.10 has no predefined half-precision type and its soft conversion is slow, so datasets of
// float16 are read and written as raw IEEE binary16 bits and converted here. On x86-64 CPUs with
// F16C (every x86-64 CPU since 2012) this converts 8 values per instruction, about 20x faster
// than a scalar software conversion; `cltk_has_f16c` lets the caller fall back otherwise.
// Rounding is IEEE round-to-nearest-even, the same as Swift's `Float16(_: Float)`.
#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>

static inline int cltk_has_f16c(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx") && __builtin_cpu_supports("f16c");
}

__attribute__((target("avx,f16c")))
static inline void cltk_f32_to_f16_f16c(const float *src, uint16_t *dst, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_loadu_ps(src + i);
    _mm_storeu_si128((__m128i *)(dst + i), _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
  }
  for (; i < n; i++) {
    __m128i h = _mm_cvtps_ph(_mm_set_ss(src[i]), _MM_FROUND_TO_NEAREST_INT);
    dst[i] = (uint16_t)_mm_extract_epi16(h, 0);
  }
}

__attribute__((target("avx,f16c")))
static inline void cltk_f16_to_f32_f16c(const uint16_t *src, float *dst, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m128i h = _mm_loadu_si128((const __m128i *)(src + i));
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
  }
  for (; i < n; i++) {
    __m128 f = _mm_cvtph_ps(_mm_cvtsi32_si128(src[i]));
    dst[i] = _mm_cvtss_f32(f);
  }
}
#else
static inline int cltk_has_f16c(void) { return 0; }
static inline void cltk_f32_to_f16_f16c(const float *src, uint16_t *dst, size_t n) {
  (void)src; (void)dst; (void)n;
}
static inline void cltk_f16_to_f32_f16c(const uint16_t *src, float *dst, size_t n) {
  (void)src; (void)dst; (void)n;
}
#endif

#endif
