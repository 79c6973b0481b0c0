// The Linux file calls the broker's storage needs that Swift's Glibc module does not export.

#define _GNU_SOURCE
#include "mock_broker_storage.h"

#include <errno.h>

#if defined(__linux__)
#include <fcntl.h>
#include <sys/vfs.h>

#define MOCK_BROKER_TMPFS_MAGIC 0x01021994

int mock_broker_reserve_beyond_end(int descriptor, int64_t offset, int64_t length) {
    return fallocate(descriptor, FALLOC_FL_KEEP_SIZE, (off_t)offset, (off_t)length) == 0 ? 0 : errno;
}

int mock_broker_file_is_in_memory(int descriptor) {
    struct statfs info;
    if (fstatfs(descriptor, &info) != 0) return 0;
    return info.f_type == MOCK_BROKER_TMPFS_MAGIC;
}
#else
int mock_broker_reserve_beyond_end(int descriptor, int64_t offset, int64_t length) {
    (void)descriptor; (void)offset; (void)length;
    return EOPNOTSUPP;
}

int mock_broker_file_is_in_memory(int descriptor) {
    (void)descriptor;
    return 0;
}
#endif
