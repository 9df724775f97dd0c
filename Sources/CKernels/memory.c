// Allocation of the big float buffers, and allocator settings for tools whose big buffers come
// and go (attribution's backward passes).
#include "ckernels.h"
#include <stdlib.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#if defined(__linux__)
#include <sys/mman.h>
#endif

// The size of a transparent huge page on x86-64 and most arm64 kernels.
#define HUGE_PAGE_BYTES ((size_t)2 << 20)

// Set once by a tool before it allocates (clt-fit); read by every allocation after.
static int huge_pages_wanted = 0;

void use_huge_pages(int on) { huge_pages_wanted = on; }

void *allocate_buffer(size_t bytes) {
  if (!huge_pages_wanted || bytes < HUGE_PAGE_BYTES) return malloc(bytes ? bytes : 1);
  void *p = NULL;
  if (posix_memalign(&p, HUGE_PAGE_BYTES, bytes) != 0) return NULL;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  // Whole huge pages only: a tail past the last 2 MB boundary stays on small pages, so the
  // buffer's resident size is its own, not rounded up to the next 2 MB. The advice is a hint; a
  // kernel without transparent huge pages ignores it.
  madvise(p, bytes / HUGE_PAGE_BYTES * HUGE_PAGE_BYTES, MADV_HUGEPAGE);
#endif
  return p;
}

void return_large_buffers_to_system(size_t threshold) {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, (int)threshold);
#else
  (void)threshold;
#endif
}
