#!/usr/bin/env bash
# slurm.sh LUMEN - lumen under a real job scheduler: a single-node Slurm (slurm-wlm: munged,
# slurmctld, slurmd), started here with a throw-away key, slurm.conf and state folder on
# loopback ports, runs `sbatch --array=0-3` of `lumen qc` over examples/data; then
# `lumen report merge` must join the four shard reports into one complete, duplicate-free
# report. Every daemon this script starts is stopped on exit, whatever happens.
#
# Needs root (slurmd starts job steps as the submitting user and must be root to do so) and the
# Debian packages slurm-wlm and munge (setup.sh installs them).
set -u
lumen=$(readlink -f "$1")
. "$(dirname "$0")/testlib.sh"
cd "$(dirname "$0")/.." || exit 1
src=$PWD

if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP the Slurm test needs root (slurmd); setup.sh test runs as root in CI"
  exit 77
fi
for p in munged slurmctld slurmd sbatch; do
  if ! command -v "$p" >/dev/null && [ ! -x "/usr/sbin/$p" ]; then
    echo "FAIL $p is not installed (Debian packages slurm-wlm and munge; setup.sh installs them)"
    exit 1
  fi
done
export PATH=$PATH:/usr/sbin

# The daemons' folder: munged wants the key and socket in a folder only we can write.
sl=$tmp/slurm
mkdir -p "$sl/state" "$sl/spool" "$sl/out"
chmod 755 "$tmp"
chmod 700 "$sl"
stop_all() {
  [ -n "${SLURM_CONF:-}" ] && scancel --quiet --user=root 2>/dev/null
  for d in slurmd slurmctld munged; do
    [ -f "$sl/$d.pid" ] && kill "$(cat "$sl/$d.pid")" 2>/dev/null
  done
  sleep 1
  for d in slurmd slurmctld munged; do
    [ -f "$sl/$d.pid" ] && kill -9 "$(cat "$sl/$d.pid")" 2>/dev/null
  done
  rm -rf "$tmp"
}
trap stop_all EXIT

# Two free loopback ports for slurmctld and slurmd.
read -r pctl pd < <(python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])
for x in s: x.close()')

head -c 1024 /dev/urandom >"$sl/munge.key"
chmod 600 "$sl/munge.key"
munged --force --socket="$sl/munge.sock" --key-file="$sl/munge.key" \
  --log-file="$sl/munged.log" --pid-file="$sl/munged.pid" --seed-file="$sl/munged.seed"
expect "munged started" "$?" 0

cat >"$sl/slurm.conf" <<EOF
ClusterName=lumentest
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$pctl
SlurmdPort=$pd
AuthType=auth/munge
AuthInfo=socket=$sl/munge.sock
CredType=cred/munge
StateSaveLocation=$sl/state
SlurmdSpoolDir=$sl/spool
SlurmctldPidFile=$sl/slurmctld.pid
SlurmdPidFile=$sl/slurmd.pid
SlurmctldLogFile=$sl/slurmctld.log
SlurmdLogFile=$sl/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=lumen Nodes=localhost Default=YES MaxTime=30 State=UP
EOF
export SLURM_CONF=$sl/slurm.conf
slurmctld -i
expect "slurmctld started" "$?" 0
slurmd -N localhost
expect "slurmd started" "$?" 0

# Wait (bounded) for the node to register as idle.
state=
for _ in $(seq 1 60); do
  state=$(sinfo -h -N -o '%T' 2>/dev/null | head -n 1)
  [ "$state" = idle ] && break
  sleep 0.5
done
expect "the node is idle in sinfo" "$state" idle

# The job script a site would write (README, "Many machines"): each array task runs one shard.
out=$tmp/report
cat >"$sl/qc.sbatch" <<EOF
#!/bin/bash
#SBATCH --job-name=lumen-qc
#SBATCH --array=0-3
#SBATCH --cpus-per-task=1
#SBATCH --output=$sl/out/qc-%A_%a.log
cd "$src"
exec "$lumen" qc examples/data --out "$out" --size 256
EOF
t0=$(date +%s)
check "sbatch --array=0-3 --wait (4 shards of lumen qc; one corrupt frame -> exit 1)" 1 \
  timeout 900 sbatch --wait "$sl/qc.sbatch"
echo "     Slurm array took $(($(date +%s) - t0)) s"
contains "sbatch submitted a job" "Submitted batch job [0-9]+"
expect "four task logs" "$(ls "$sl/out" | grep -c '^qc-.*\.log$')" 4
for i in 0 1 2 3; do
  expect "shard $i of 4 wrote its report" "$(test -s "$out/report-shard${i}of4.jsonl" && echo yes)" yes
done
expect "each task saw its own shard" "$(cat "$sl"/out/qc-*.log | grep -cE 'shard [0-3]/4 of 17 inputs')" 4

# The merge: one report with every input once.
check "lumen report merge" 1 "$lumen" report merge "$out"
contains "merge names the shards" "4 shards"
expect "merged report.jsonl: 17 records" "$(wc -l <"$out/report.jsonl")" 17
expect "no input twice" "$(grep -o '"input":"[^"]*"' "$out/report.jsonl" | sort | uniq -d | wc -l)" 0
expect "every input of examples/data is there" \
  "$(grep -o '"input":"[^"]*"' "$out/report.jsonl" | LC_ALL=C sort | md5sum)" \
  "$(find examples/data -maxdepth 1 \( -name '*.png' -o -name '*.npy' \) | LC_ALL=C sort |
    sed 's/.*/"input":"&"/' | md5sum)"
expect "records in input order (as one unsharded run)" \
  "$(grep -o '"input":"[^"]*"' "$out/report.jsonl" | md5sum)" \
  "$(find examples/data -maxdepth 1 \( -name '*.png' -o -name '*.npy' \) | LC_ALL=C sort |
    sed 's/.*/"input":"&"/' | md5sum)"
expect "merged records are the shards' records, unchanged" \
  "$(LC_ALL=C sort "$out/report.jsonl" | md5sum)" \
  "$(cat "$out"/report-shard?of4.jsonl | LC_ALL=C sort | md5sum)"
expect "merged report.csv: header + 17 rows" "$(grep -vc '^#' "$out/report.csv")" 18
expect "merged report.html" "$(test -s "$out/report.html" && echo yes)" yes
expect "merged series.jsonl (one series: examples/data)" "$(grep -c '"verdict":' "$out/series.jsonl")" 1
expect "merged series.csv" "$(test -s "$out/series.csv" && echo yes)" yes

# A missing shard is refused, and nothing is overwritten.
rm "$out/report-shard2of4.jsonl"
before=$(md5sum <"$out/report.jsonl")
check "merge with a shard missing" 1 "$lumen" report merge "$out"
contains "names the missing shard" "shard 2 of 4"
expect "the merged report is left as it was" "$(md5sum <"$out/report.jsonl")" "$before"

finish
