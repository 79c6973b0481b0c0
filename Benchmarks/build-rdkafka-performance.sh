#!/usr/bin/env bash
# Builds librdkafka's rdkafka_performance (the source Debian's librdkafka-dev ships in its examples) to $1.
# The example includes two librdkafka-internal headers Debian does not install, for a clock and min/max; the
# small stand-ins written here are enough.
set -euo pipefail
output=${1:?usage: build-rdkafka-performance.sh OUTPUT}
if ! dpkg -s librdkafka-dev >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ]; then apt-get install -y -qq librdkafka-dev >/dev/null; else sudo apt-get install -y -qq librdkafka-dev >/dev/null; fi
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/include"
cat >"$work/include/rd.h" <<'HEADER'
#pragma once
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
typedef int64_t rd_ts_t;
#define RD_MAX(a, b) ((a) > (b) ? (a) : (b))
#define RD_MIN(a, b) ((a) < (b) ? (a) : (b))
#define rd_snprintf snprintf
static inline rd_ts_t rd_clock(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (rd_ts_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
HEADER
printf '#pragma once\n#include "rd.h"\n' >"$work/include/rdtime.h"
source=/usr/share/doc/librdkafka-dev/examples/rdkafka_performance.c
if [ ! -f "$source" ]; then gunzip -c "$source.gz" >"$work/rdkafka_performance.c"; source="$work/rdkafka_performance.c"; fi
sed 's#"../src/rd.h"#"rd.h"#' "$source" >"$work/perf.c"
gcc -O2 -w -I"$work/include" -I/usr/include/librdkafka -o "$output" "$work/perf.c" -lrdkafka
