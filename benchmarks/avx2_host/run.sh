#!/usr/bin/env bash
# Run a command as if this x86 CPU had AVX2 and no AVX-512 or VNNI (hide_avx512.c says how), e.g.
#   benchmarks/avx2_host/run.sh .venv/bin/python benchmarks/int8_quality.py
# Needs a C compiler and CPUID faulting ("cpuid_fault" in /proc/cpuinfo: this project's AMD EPYC hosts
# have it, under KVM, as do Intel CPUs since Ivy Bridge).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if ! grep -qw cpuid_fault /proc/cpuinfo; then
    echo "avx2_host: this CPU or kernel has no CPUID faulting (no cpuid_fault in /proc/cpuinfo)" >&2
    exit 2
fi
library="${TMPDIR:-/tmp}/ascolto-hide_avx512-$(sha256sum "$here/hide_avx512.c" | cut -c1-12).so"
if [ ! -f "$library" ]; then
    ${CC:-cc} -O2 -Wall -Wextra -shared -fPIC -o "$library.$$" "$here/hide_avx512.c" -ldl
    mv "$library.$$" "$library"
fi
# Python's faulthandler would take each trapped CPUID for a crash and end the process.
unset PYTHONFAULTHANDLER
LD_PRELOAD="$library${LD_PRELOAD:+:$LD_PRELOAD}" exec "$@"
