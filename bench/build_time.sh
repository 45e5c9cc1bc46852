#!/usr/bin/env bash
# build_time.sh [LUMEN] [REPS] - cold vs warm kernel-program build time for ALL kernels, each
# measured in a fresh process: cold = empty program cache (every program compiled from source),
# warm = the cache the cold run left (every program loaded as a device binary). Prints each run
# and the medians. Device: $LUMEN_DEVICE or the default.
# PoCL keeps a kernel cache of its own (~/.cache/pocl): the cold run sets POCL_KERNEL_CACHE=0 so
# that cold really means compiling from OpenCL C source; the warm run loads lumen's cached device
# binaries, which needs no compiler at all.
set -eu
lumen=${1:-build/lumen}
reps=${2:-5}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ms_of() { sed -n 's/.* \([0-9.]*\) ms.*/\1/p' | head -1; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

cold=() warm=()
for i in $(seq "$reps"); do
  rm -rf "$tmp/cache"
  c=$(POCL_KERNEL_CACHE=0 LUMEN_CACHE_DIR="$tmp/cache" "$lumen" devices --cache | grep 'cache ' | head -1)
  w=$(LUMEN_CACHE_DIR="$tmp/cache" "$lumen" devices --cache | grep 'cache ' | head -1)
  cold+=("$(echo "$c" | ms_of)")
  warm+=("$(echo "$w" | ms_of)")
  echo "run $i: cold ${cold[-1]} ms | warm ${warm[-1]} ms"
  echo "       cold: ${c#*: }"
  echo "       warm: ${w#*: }"
done
cm=$(printf '%s\n' "${cold[@]}" | median)
wm=$(printf '%s\n' "${warm[@]}" | median)
echo "median over $reps fresh processes: cold $cm ms, warm $wm ms (cold/warm = $(awk -v a="$cm" -v b="$wm" 'BEGIN{printf "%.1f", a/b}')x)"
