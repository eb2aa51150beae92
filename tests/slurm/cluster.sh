#!/usr/bin/env bash
# tests/slurm/cluster.sh - a throwaway single-node Slurm (munged + slurmctld +
# slurmd) on localhost, everything under one directory, on free non-default
# ports.  Used by tests/slurm/test_*.sh; also handy by hand:
#
#   tests/slurm/cluster.sh start DIR [CPUS]   # prints "export SLURM_CONF=..."
#   tests/slurm/cluster.sh stop DIR
#
# Sourced, it defines slurm_start / slurm_stop / slurm_wait / slurm_states.
# Daemons are stopped by the PIDs recorded in DIR/pids, plus any process whose
# environment names this cluster's slurm.conf (job steps outlive slurmd).
# SLURM_CONF is exported before any Slurm command runs: a client without a
# config does a DNS SRV lookup, i.e. network traffic off this machine.
# See ../shared/docs/infra-notes.md for what this setup is based on.

SLURM_SBIN=${SLURM_SBIN:-/usr/sbin}

# slurm_why DIR: the last lines of every log, to explain a failed start.
slurm_why() {
  local f
  for f in "$1"/log/*.log; do
    [ -s "$f" ] || continue
    echo "--- $f"; tail -n 15 "$f"
  done
}

# A TCP port (and the next one) that no socket uses, from /proc/net/tcp*
# (no dependency on ss/netstat; the window until the daemons bind is tiny).
_slurm_free_port() {
  local p used
  used=$(cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
         awk 'NR > 1 { split($2, a, ":"); print a[2] }' | sort -u |
         while read -r h; do [ -n "$h" ] && echo $((16#$h)); done)
  while :; do
    p=$((20000 + RANDOM % 30000))
    grep -qx "$p" <<<"$used" || grep -qx "$((p + 1))" <<<"$used" || { echo "$p"; return; }
  done
}

# slurm_start DIR [CPUS]: writes the configs, starts the daemons, waits until
# the node is idle.  Exports SLURM_CONF.  Returns 1 and prints why on failure
# (and stops whatever it had started).  With SLURM_GUARD_PID set, a guard
# process stops the cluster once that process is gone.
slurm_start() {
  local d=$1 cpus=${2:-4} port i st
  local sbin=$SLURM_SBIN
  for i in "$sbin/slurmctld" "$sbin/slurmd" "$sbin/munged"; do
    [ -x "$i" ] || { echo "slurm: $i not found (run 'make deps')"; return 1; }
  done
  for i in sbatch squeue scontrol sinfo scancel munge unmunge; do
    command -v "$i" >/dev/null || { echo "slurm: '$i' not found (run 'make deps')"; return 1; }
  done
  mkdir -p "$d"/{etc,log,run,state,spool,munge,tmp,pmix,shm} || return 1
  d=$(cd "$d" && pwd)
  # Every throwaway cluster numbers its jobs from 1, and Open MPI names its
  # shared-memory segments after the Slurm job and step: two clusters running
  # "job 3, step 0" at once on this machine attached to each other's segments
  # (SIGSEGV in the vader BTL, lost messages).  Give each cluster its own.
  export OMPI_MCA_btl_vader_backing_directory="$d/shm"
  # munged insists that everyone may traverse its socket's directory.
  chmod 755 "$d" "$d/munge"
  : >"$d/pids"
  export SLURM_CONF="$d/etc/slurm.conf"

  # munge with a private key and socket.
  head -c 1024 /dev/urandom >"$d/munge/munge.key" && chmod 400 "$d/munge/munge.key"
  setsid "$sbin/munged" -F --socket="$d/munge/munge.socket.2" --key-file="$d/munge/munge.key" \
    --pid-file="$d/munge/munged.pid" --log-file="$d/log/munged.log" \
    --seed-file="$d/munge/munged.seed" --num-threads=2 --force </dev/null >>"$d/log/munged.log" 2>&1 &
  echo "munged $!" >>"$d/pids"
  for i in $(seq 50); do
    munge -n -S "$d/munge/munge.socket.2" 2>/dev/null | unmunge -S "$d/munge/munge.socket.2" >/dev/null 2>&1 && break
    sleep 0.1
  done
  if ! munge -n -S "$d/munge/munge.socket.2" 2>/dev/null | unmunge -S "$d/munge/munge.socket.2" >/dev/null 2>&1; then
    echo "slurm: munged did not come up"; slurm_why "$d"; slurm_stop "$d"; return 1
  fi

  port=$(_slurm_free_port)
  cat >"$d/etc/slurm.conf" <<EOF
# throwaway test cluster written by tests/slurm/cluster.sh
ClusterName=mmsafetest
SlurmctldHost=localhost
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$d/munge/munge.socket.2,cred_expire=10
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool/slurmd-%n
SlurmctldPidFile=$d/run/slurmctld.pid
SlurmdPidFile=$d/run/slurmd-%n.pid
SlurmctldLogFile=$d/log/slurmctld.log
SlurmdLogFile=$d/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
TmpFS=$d/tmp
PlugStackConfig=$d/etc/plugstack.conf
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$d/log/jobcomp.txt
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=pmix
EnforcePartLimits=ALL
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1,bf_interval=1
ReturnToService=2
SlurmdParameters=config_overrides
JobRequeue=1
KillWait=5
MinJobAge=600
InactiveLimit=0
SlurmdTimeout=60
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=2000 State=UNKNOWN
PartitionName=test Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
  : >"$d/etc/plugstack.conf"
  echo "PMIxCliTmpDirBase=$d/pmix" >"$d/etc/mpi.conf"

  setsid "$sbin/slurmctld" -D -i -f "$SLURM_CONF" </dev/null >>"$d/log/slurmctld.out" 2>&1 &
  echo "slurmctld $!" >>"$d/pids"
  setsid "$sbin/slurmd" -D -N localhost -f "$SLURM_CONF" </dev/null >>"$d/log/slurmd.out" 2>&1 &
  echo "slurmd $!" >>"$d/pids"
  st=
  for i in $(seq 150); do
    st=$(sinfo -h -N -o %t 2>/dev/null | head -1)
    [ "$st" = idle ] && break
    sleep 0.2
  done
  if [ "$st" = idle ]; then
    # A guard stops the cluster if its owner dies without calling slurm_stop
    # (killed by a CI timeout, say): daemons must never outlive the tests.
    if [ -n "${SLURM_GUARD_PID:-}" ]; then
      ( trap '' INT HUP
        while kill -0 "$SLURM_GUARD_PID" 2>/dev/null && [ -f "$d/pids" ]; do sleep 1 & wait $!; done
        [ -f "$d/pids" ] && SLURM_IS_GUARD=1 slurm_stop "$d" ) </dev/null >/dev/null 2>&1 &
      echo "guard $!" >>"$d/pids"
    fi
    return 0
  fi
  echo "slurm: node did not become idle in 30 s (state '${st:-none}')"
  slurm_why "$d"; cat "$d"/log/*.out 2>/dev/null | tail -n 10
  slurm_stop "$d"; return 1
}

# Processes that belong to this cluster although we did not start them
# directly: slurmstepd and job tasks, found by SLURM_CONF in their environment.
_slurm_strays() {
  local conf=$1 p env
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    [ "$p" = $$ ] && continue
    [ "$p" = "${BASHPID:-$$}" ] && continue
    env=$({ tr '\0' '\n' <"/proc/$p/environ"; } 2>/dev/null) || continue
    grep -qxF "SLURM_CONF=$conf" <<<"$env" || continue
    # slurmstepd (environment of slurmd) or a job's process (SLURM_JOB_ID)
    if [ "$(cat "/proc/$p/comm" 2>/dev/null)" = slurmstepd ] || grep -q '^SLURM_JOB_ID=' <<<"$env"; then
      echo "$p"
    fi
  done
}

_slurm_kill_wait() {  # PIDS...: TERM, wait up to 5 s, then KILL
  local p i alive
  [ $# -eq 0 ] && return 0
  kill -TERM "$@" 2>/dev/null
  for i in $(seq 50); do
    alive=0
    for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive -eq 0 ] && return 0
    sleep 0.1
  done
  kill -KILL "$@" 2>/dev/null
  return 0
}

# slurm_stop DIR: cancels the jobs, stops the daemons by PID, kills leftovers.
slurm_stop() {
  local d=$1 conf name pid i pids=() strays
  [ -f "$d/pids" ] || return 0
  d=$(cd "$d" && pwd)
  conf="$d/etc/slurm.conf"
  if [ -f "$conf" ] && [ -n "$(awk '$1=="slurmctld"{print $2}' "$d/pids")" ]; then
    export SLURM_CONF="$conf"
    if kill -0 "$(awk '$1=="slurmctld"{print $2}' "$d/pids")" 2>/dev/null; then
      scancel --quiet --full --user=root 2>/dev/null
      for i in $(seq 30); do
        [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
        sleep 0.2
      done
    fi
  fi
  pid=$(awk '$1=="guard"{print $2}' "$d/pids")
  [ -n "$pid" ] && [ -z "${SLURM_IS_GUARD:-}" ] && kill "$pid" 2>/dev/null
  # the daemons together (each takes ~2 s to shut down; jobs are gone)
  for name in slurmd slurmctld munged; do
    pid=$(awk -v n=$name '$1==n{print $2}' "$d/pids")
    [ -n "$pid" ] && pids+=("$pid")
  done
  _slurm_kill_wait "${pids[@]}"
  # job steps and tasks left behind (slurmstepd outlives slurmd).
  strays=$(_slurm_strays "$conf")
  # shellcheck disable=SC2086
  [ -n "$strays" ] && _slurm_kill_wait $strays
  rm -f "$d/pids"
  return 0
}

# _slurm_jobs JOBID FIELD DEFAULT: one "ID STATE FIELD" line per job (array
# tasks each, as ARRAYID_TASK), from `scontrol show job -o`.
_slurm_jobs() {
  scontrol show job -o "$1" 2>/dev/null | awk -v want="$2" -v dflt="$3" '{
    id = ""; aid = ""; task = ""; st = ""; x = dflt
    for (i = 1; i <= NF; i++) {
      split($i, kv, "=")
      if (kv[1] == "JobId") id = kv[2]
      else if (kv[1] == "ArrayJobId") aid = kv[2]
      else if (kv[1] == "ArrayTaskId") task = kv[2]
      else if (kv[1] == "JobState") st = kv[2]
      else if (kv[1] == want) x = kv[2]
    }
    if (aid != "" && task != "") id = aid "_" task
    if (id != "") print id, st, x
  }'
}

# slurm_states JOBID: one "ID STATE EXITCODE" line per job (array tasks each).
slurm_states() { _slurm_jobs "$1" ExitCode ""; }

# slurm_restarts JOBID: one "ID STATE RESTARTS" line per job (array tasks each).
slurm_restarts() { _slurm_jobs "$1" Restarts 0; }

# slurm_wait JOBID [TIMEOUT_S]: polls until every job (array task) of JOBID
# has ended; prints the final states.  Returns 1 on timeout.
slurm_wait() {
  local id=$1 t=${2:-120} t0=$SECONDS out
  while :; do
    out=$(slurm_states "$id")
    if [ -n "$out" ] && ! grep -qE ' (PENDING|RUNNING|CONFIGURING|COMPLETING|REQUEUED|REQUEUE_HOLD|REQUEUE_FED|RESIZING|SUSPENDED|SIGNALING|STAGE_OUT|STOPPED) ' <<<"$out"; then
      echo "$out"; return 0
    fi
    if [ $((SECONDS - t0)) -ge "$t" ]; then echo "$out"; return 1; fi
    sleep 0.5
  done
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  case ${1:-} in
    start) [ -n "${2:-}" ] || { echo "usage: $0 start DIR [CPUS]" >&2; exit 2; }
           SLURM_GUARD_PID='' slurm_start "$2" "${3:-4}" >&2 || exit 1
           echo "export SLURM_CONF=$SLURM_CONF" ;;
    stop)  [ -n "${2:-}" ] || { echo "usage: $0 stop DIR" >&2; exit 2; }
           slurm_stop "$2" ;;
    *)     echo "usage: $0 start DIR [CPUS] | stop DIR" >&2; exit 2 ;;
  esac
fi
