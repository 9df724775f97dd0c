// OpenBLAS's CBLAS interface (Debian: libopenblas-dev) plus its thread-control entry points.
#include <cblas.h>
