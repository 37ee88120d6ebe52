#!/usr/bin/env bash
# A one-node Slurm cluster for the [slurm] tests, run as root without systemd, everything in DIR.
#   tests/slurm/cluster.sh start DIR   starts munged, slurmctld and slurmd; waits for the node to
#                                      be idle; writes DIR/env (export SLURM_CONF=...)
#   tests/slurm/cluster.sh stop DIR    stops each daemon by the pid in DIR/*.pid, never by name
#   tests/slurm/cluster.sh status DIR  exits 0 when DIR/env exists and the node answers
# Installs nothing (scripts/install-deps.sh has slurm-wlm and munge). When a binary is missing or
# this is not root, `start` prints "SKIP: ..." and exits 0 without writing DIR/env, and the tests
# skip saying why (tests/e2e/slurm_cluster.cpp).
set -euo pipefail

cmd=${1:-}
dir=${2:-}
[[ -n "$cmd" && -n "$dir" ]] || { echo "usage: $0 start|stop|status DIR" >&2; exit 2; }

stop_pid() { # name pidfile: TERM, then KILL after ~10 s
    local name=$1 file=$2 pid
    [[ -f "$file" ]] || return 0
    pid=$(cat "$file")
    rm -f "$file"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    echo "cluster.sh: $name (pid $pid) did not stop on TERM: killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
}

stop() {
    [[ -d "$dir" ]] || return 0
    rm -f "$dir/env"
    stop_pid slurmd "$dir/slurmd.pid"
    stop_pid slurmctld "$dir/slurmctld.pid"
    stop_pid munged "$dir/munged.pid.own"
    return 0
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

start() {
    local b missing=()
    for b in munged mungekey slurmctld slurmd sinfo sbatch scontrol squeue scancel python3; do
        command -v "$b" >/dev/null 2>&1 || [[ -x "/usr/sbin/$b" ]] || missing+=("$b")
    done
    if [[ ${#missing[@]} -gt 0 ]]; then
        echo "SKIP: no Slurm cluster for the [slurm] tests: ${missing[*]} not installed (scripts/install-deps.sh installs slurm-wlm and munge)"
        return 0
    fi
    if [[ $(id -u) -ne 0 ]]; then
        echo "SKIP: no Slurm cluster for the [slurm] tests: starting slurmd needs root"
        return 0
    fi
    export PATH="$PATH:/usr/sbin"
    stop # a cluster left by an earlier start in the same DIR
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    rm -rf "$dir/munge-key" "$dir/munge-run" "$dir/state" "$dir/spool" "$dir/log"
    mkdir -m 700 "$dir/munge-key"
    mkdir -m 755 "$dir/munge-run"
    mkdir -p "$dir/state" "$dir/spool" "$dir/log"
    mungekey --create --keyfile="$dir/munge-key/munge.key" >/dev/null 2>&1 ||
        dd if=/dev/urandom of="$dir/munge-key/munge.key" bs=1024 count=1 status=none
    chmod 400 "$dir/munge-key/munge.key"
    local socket="$dir/munge-run/munge.socket"
    # munged writes its own pid file; munged.pid.own is the pid of the process we started.
    munged -F --force --socket="$socket" --key-file="$dir/munge-key/munge.key" \
        --pid-file="$dir/munge-run/munged.pid" --log-file="$dir/log/munged.log" \
        --seed-file="$dir/munge-run/munged.seed" >"$dir/log/munged.out" 2>&1 &
    echo $! >"$dir/munged.pid.own"
    for _ in $(seq 100); do [[ -S "$socket" ]] && break; sleep 0.05; done
    [[ -S "$socket" ]] || { echo "cluster.sh: munged did not start (see $dir/log/munged.log)" >&2; stop; return 1; }

    local host node ctld_port slurmd_port
    host=$(hostname)
    node=$(slurmd -C | head -1)
    node="$node NodeAddr=127.0.0.1 State=UNKNOWN"
    ctld_port=$(free_port)
    slurmd_port=$(free_port)
    while [[ "$slurmd_port" == "$ctld_port" ]]; do slurmd_port=$(free_port); done
    local nodename=${node#NodeName=}
    nodename=${nodename%% *}
    cat >"$dir/slurm.conf" <<CONF
ClusterName=cairntest
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/slurmd-%n
SlurmctldPidFile=$dir/slurmctld.own.pid
SlurmdPidFile=$dir/slurmd.own.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerParameters=batch_sched_delay=0
MailProg=/bin/true
ReturnToService=2
MinJobAge=300
$node
PartitionName=debug Nodes=$nodename Default=YES MaxTime=INFINITE State=UP
CONF
    export SLURM_CONF="$dir/slurm.conf"
    slurmctld -D -f "$SLURM_CONF" >"$dir/log/slurmctld.out" 2>&1 &
    echo $! >"$dir/slurmctld.pid"
    slurmd -D -f "$SLURM_CONF" >"$dir/log/slurmd.out" 2>&1 &
    echo $! >"$dir/slurmd.pid"

    local state=""
    for _ in $(seq 300); do # ~30 s
        state=$(sinfo -h -N -o '%t' 2>/dev/null | head -1 || true)
        [[ "$state" == "idle" ]] && break
        sleep 0.1
    done
    if [[ "$state" != "idle" ]]; then
        echo "cluster.sh: the node is not idle after 30 s (state '${state}'); logs in $dir/log" >&2
        tail -n 20 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 2>/dev/null || true
        stop
        return 1
    fi
    printf 'export SLURM_CONF=%q\n' "$SLURM_CONF" >"$dir/env.tmp"
    mv "$dir/env.tmp" "$dir/env"
    echo "Slurm cluster up: SLURM_CONF=$SLURM_CONF (node $nodename)"
}

case "$cmd" in
start) start ;;
stop) stop ;;
status)
    [[ -f "$dir/env" ]] || exit 1
    # shellcheck disable=SC1091
    source "$dir/env"
    [[ -n "$(PATH="$PATH:/usr/sbin" sinfo -h -N -o '%t' 2>/dev/null)" ]]
    ;;
*) echo "usage: $0 start|stop|status DIR" >&2; exit 2 ;;
esac
