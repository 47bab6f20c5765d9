/* LD_PRELOAD shim: counts heap allocations of a process and prints the totals at exit.
 * Used by ./run to show that Volley allocates nothing per packet (valgrind 3.19 cannot
 * read Swift 6.3's DWARF, nor does it know openat2). */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static atomic_long mallocs, callocs, reallocs, aligned;

void *malloc(size_t size) { mallocs++; return __libc_malloc(size); }
void *calloc(size_t count, size_t size) { callocs++; return __libc_calloc(count, size); }
void *realloc(void *pointer, size_t size) { reallocs++; return __libc_realloc(pointer, size); }
void *aligned_alloc(size_t alignment, size_t size) { aligned++; return __libc_memalign(alignment, size); }
int posix_memalign(void **out, size_t alignment, size_t size) {
    aligned++;
    *out = __libc_memalign(alignment, size);
    return *out ? 0 : 12; /* ENOMEM */
}

__attribute__((destructor)) static void report(void) {
    fprintf(stderr, "allocations: %ld (malloc %ld, calloc %ld, realloc %ld, aligned %ld)\n",
            mallocs + callocs + reallocs + aligned, (long)mallocs, (long)callocs, (long)reallocs, (long)aligned);
}
