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
__attribute__((constructor)) static void kafka_tool_one_malloc_arena(void) {
    mallopt(M_ARENA_MAX, 1);
}
#endif

void kafka_tool_process_settings_linked(void) {}
