// Allocator settings for tools whose big buffers come and go (attribution's backward passes).
#include "ckernels.h"
#if defined(__GLIBC__)
#include <malloc.h>
#endif

void return_large_buffers_to_system(size_t threshold) {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, (int)threshold);
#else
  (void)threshold;
#endif
}
