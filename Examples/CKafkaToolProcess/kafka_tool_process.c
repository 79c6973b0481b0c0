// Process settings for the command-line tools, applied at load time: they must be in place before the first
// thread other than the main thread allocates, which happens before any Swift code of the tool runs.

#include "kafka_tool_process.h"

#include <stdlib.h> // defines __GLIBC__ on glibc

#if defined(__GLIBC__)
#include <malloc.h>

// One malloc arena. glibc gives threads that allocate at the same time arenas of their own, and memory freed in
// one is not reused by another: with the appending task moving between Swift's pool threads and the sender on its
// event loop, kafka-producer holding a full buffer.memory kept 7-11 MB more resident than with one arena, and the
// record path does not allocate per record, so sharing one costs nothing measurable.
//
// Freed memory kept for reuse. The consumer takes each fetch answer (a megabyte or a few) into a buffer of its own,
// and by default glibc serves such sizes with mmap, or from the top of the heap that it then gives back to the
// kernel as soon as 2 MB or so lie free there: so answer after answer landed in new pages that the kernel had to
// fault in and zero (51,000-54,000 page faults for 500 MB read from one partition; 1,500 with the memory kept).
// What the clients hold at once stays bounded by buffer.memory and the fetch read-ahead bounds; this only stops
// glibc from returning memory that the next answer needs again.
__attribute__((constructor)) static void kafka_tool_malloc_settings(void) {
    mallopt(M_ARENA_MAX, 1);
    mallopt(M_MMAP_THRESHOLD, 32 << 20); // glibc's largest: allocations below it come from the heap
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
}
#endif

void kafka_tool_process_settings_linked(void) {}
