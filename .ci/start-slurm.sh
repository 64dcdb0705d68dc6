#!/usr/bin/env bash
# Start a single-node Slurm cluster on localhost, with accounting (slurmdbd + MariaDB), so that
# the Snakemake Slurm executor plugin can query job states with `sacct`.
#
# Usage (as root, Debian): bash .ci/start-slurm.sh [--install]
#   --install   apt-get install slurm-wlm, munge, slurmdbd and mariadb-server first
#
# Idempotent: exits 0 at once if a controller already answers `scontrol ping`, `sacct` works and
# the node advertises its GPU gres; otherwise stops what is left and starts afresh.
# Prints what it does; exits non-zero (naming the daemon) if a daemon does not come up.
# Lessons from this machine kept in the configuration below:
#   * without slurmdbd the plugin's sacct status loop never ends, hence full accounting;
#   * DefMemPerCPU must be set, or every job asks for the whole node's memory and jobs serialize;
#   * the node advertises one GPU (Gres=gpu:1) that does not exist, so that tests/workflow/test_slurm.py
#     can check that the workflow's GPU profile asks for GPUs; jobs that get it run on the CPU.
#     slurmd (22.05) drops a gpu gres without File= ("Removing file-less GPU"), so gres.conf
#     names an empty regular file: slurmd logs "is not a valid character or block device" and
#     keeps the gres, binds no device and sets no CUDA_VISIBLE_DEVICES. Never a real device.
#     AccountingStorageTRES=gres/gpu makes the request visible in sacct (ReqTRES, AllocTRES).
set -euo pipefail

log() { printf '[start-slurm] %s\n' "$*"; }

PACKAGES=(slurm-wlm munge slurmdbd mariadb-server)
if [[ "${1:-}" == "--install" ]]; then
    if dpkg-query -W -f='${Status}\n' "${PACKAGES[@]}" 2>/dev/null | grep -vq "install ok installed" \
        || [[ $(dpkg-query -W -f='${Status}\n' "${PACKAGES[@]}" 2>/dev/null | wc -l) -ne ${#PACKAGES[@]} ]]; then
        log "installing ${PACKAGES[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq "${PACKAGES[@]}" >/dev/null
    else
        log "${PACKAGES[*]} already installed"
    fi
fi

for tool in slurmctld slurmd slurmdbd munged mariadbd sacctmgr; do
    if ! command -v "$tool" >/dev/null 2>&1 && [[ ! -x "/usr/sbin/$tool" ]]; then
        log "missing $tool; run with --install (as root, on Debian)"
        exit 1
    fi
done
export PATH="/usr/sbin:/usr/bin:$PATH"

HOST="$(hostname -s)"
if scontrol ping 2>/dev/null | grep -q "is UP" && timeout 20 sacct -n -X >/dev/null 2>&1 \
    && pgrep -x slurmd >/dev/null \
    && sinfo -h -n "$HOST" -o "%t %G" 2>/dev/null | grep -Eq '^(idle|mix|alloc) .*gpu:1'; then
    log "a Slurm cluster with accounting and a GPU gres is already up; nothing to do"
    sinfo -o "%P %a %l %D %t %N %G"
    exit 0
fi
# leftovers of a cluster that is down, lost its accounting database or has no GPU gres (set up
# by an older version of this script): stop them, start afresh
DAEMONS=(slurmd slurmctld slurmdbd mariadbd)
for daemon in "${DAEMONS[@]}"; do
    pkill -x "$daemon" 2>/dev/null || true
done
still_running() {  # one name per pgrep -x: longer patterns than 15 characters never match
    local daemon
    for daemon in "${DAEMONS[@]}"; do
        pgrep -x "$daemon" >/dev/null && return 0
    done
    return 1
}
for _ in $(seq 1 20); do
    still_running || break
    sleep 0.5
done

CPUS="$(nproc)"
CLUSTER="sgpoison-ci"
STATE=/var/lib/sgpoison-slurm
LOGS=/var/log/sgpoison-slurm
DB_PASSWORD="sgpoison-ci"
# memory Slurm may hand out: half of the machine, it is shared with other work
MEM_TOTAL_MB=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 ))
REAL_MEMORY=$(( MEM_TOTAL_MB / 2 ))
DEF_MEM_PER_CPU=$(( REAL_MEMORY / CPUS / 2 ))
mkdir -p "$STATE"/{ctld,slurmd} "$LOGS" /run/slurm /etc/slurm

wait_for() {  # wait_for DESCRIPTION SECONDS COMMAND...
    local what=$1 seconds=$2
    shift 2
    local i
    for ((i = 0; i < seconds * 5; i++)); do
        if "$@" >/dev/null 2>&1; then
            log "$what is up ($(( i / 5 )).$(( i % 5 * 2 )) s)"
            return 0
        fi
        sleep 0.2
    done
    log "ERROR: $what did not come up within ${seconds} s"
    return 1
}

# --- munge -------------------------------------------------------------------------------
if ! pgrep -x munged >/dev/null; then
    if [[ ! -s /etc/munge/munge.key ]]; then
        mungekey --create --keyfile /etc/munge/munge.key
    fi
    chown munge:munge /etc/munge/munge.key
    chmod 400 /etc/munge/munge.key
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge
    runuser -u munge -- /usr/sbin/munged
fi
wait_for munged 10 bash -c 'munge -n | unmunge'

# --- MariaDB (accounting storage) ----------------------------------------------------------
if ! pgrep -x mariadbd >/dev/null && ! pgrep -x mysqld >/dev/null; then
    mkdir -p /run/mysqld
    chown mysql:mysql /run/mysqld
    if [[ ! -d /var/lib/mysql/mysql ]]; then
        mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null
    fi
    (mysqld_safe --user=mysql >"$LOGS/mariadb.out" 2>&1 &)
fi
wait_for mariadb 30 mariadb -u root -e "SELECT 1"
mariadb -u root <<SQL
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '${DB_PASSWORD}';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
FLUSH PRIVILEGES;
SQL

# --- configuration -------------------------------------------------------------------------
cat >/etc/slurm/slurmdbd.conf <<EOF
AuthType=auth/munge
DbdHost=localhost
DbdPort=6819
SlurmUser=root
LogFile=$LOGS/slurmdbd.log
PidFile=/run/slurm/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=${DB_PASSWORD}
StorageLoc=slurm_acct_db
EOF
chmod 600 /etc/slurm/slurmdbd.conf

cat >/etc/slurm/slurm.conf <<EOF
ClusterName=${CLUSTER}
SlurmctldHost=${HOST}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/slurmd
SlurmctldPidFile=/run/slurm/slurmctld.pid
SlurmdPidFile=/run/slurm/slurmd.pid
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=${DEF_MEM_PER_CPU}
# answer fast: a tiny study has many short jobs
SchedulerParameters=sched_interval=1,bf_interval=1
MessageTimeout=30
MinJobAge=300
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=6819
JobCompType=jobcomp/none
# keep --comment (the plugin writes rule and wildcards there) in the accounting database
AccountingStoreFlags=job_comment
# one GPU that does not exist (gres.conf: an empty file as its device); requests are accounted
GresTypes=gpu
AccountingStorageTRES=gres/gpu
NodeName=${HOST} CPUs=${CPUS} RealMemory=${REAL_MEMORY} Gres=gpu:1 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
cat >/etc/slurm/cgroup.conf <<EOF
CgroupPlugin=autodetect
EOF
# the dummy GPU: an empty regular file, not a device (see the header)
DUMMY_GPU="$STATE/dummy-devices/gpu0"
mkdir -p "$(dirname "$DUMMY_GPU")"
touch "$DUMMY_GPU"
cat >/etc/slurm/gres.conf <<EOF
NodeName=${HOST} Name=gpu Count=1 File=${DUMMY_GPU}
EOF

# --- daemons -------------------------------------------------------------------------------
if ! pgrep -x slurmdbd >/dev/null; then
    slurmdbd
fi
wait_for slurmdbd 30 sacctmgr -n list cluster
if ! sacctmgr -n -P list cluster format=cluster | grep -qx "$CLUSTER"; then
    sacctmgr -i add cluster "$CLUSTER" >/dev/null
fi
if ! sacctmgr -n -P list account format=account | grep -qx ci; then
    sacctmgr -i add account ci cluster="$CLUSTER" description="sgpoison CI" organization=ci >/dev/null
fi
if ! sacctmgr -n -P list user format=user | grep -qx root; then
    sacctmgr -i add user root account=ci defaultaccount=ci >/dev/null
fi

pgrep -x slurmctld >/dev/null || slurmctld
wait_for slurmctld 30 bash -c 'scontrol ping | grep -q "is UP"'
pgrep -x slurmd >/dev/null || slurmd
wait_for "node ${HOST}" 30 bash -c "sinfo -h -n ${HOST} -o %t | grep -Eq '^(idle|mix|alloc)'"

log "cluster ${CLUSTER}: ${CPUS} CPUs, RealMemory=${REAL_MEMORY} MB, DefMemPerCPU=${DEF_MEM_PER_CPU} MB, Gres=gpu:1 (no device)"
sinfo -o "%P %a %l %D %t %N %G"
