#ifndef MOCK_BROKER_STORAGE_H
#define MOCK_BROKER_STORAGE_H

#include <stdint.h>

/// Reserves disk for `length` bytes at `offset` without changing the file's size (Linux `fallocate` with
/// `FALLOC_FL_KEEP_SIZE`). Returns 0, or the errno; `EOPNOTSUPP` where the filesystem or the system cannot.
int mock_broker_reserve_beyond_end(int descriptor, int64_t offset, int64_t length);

/// 1 when the file lives on tmpfs (memory), 0 otherwise or when that cannot be told.
int mock_broker_file_is_in_memory(int descriptor);

#endif
