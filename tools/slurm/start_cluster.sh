#!/usr/bin/env bash
# Stand up a real one-node Slurm cluster on this machine (Debian slurm-wlm + munge), as
# root, with all state under one directory. For testing the recipes' Slurm backend.
#
#   tools/slurm/start_cluster.sh /tmp/slurm_test      # prints: export SLURM_CONF=...
#   tools/slurm/stop_cluster.sh  /tmp/slurm_test
#
# Environment: SLURM_PORT (default 16817; slurmd uses +1), SLURM_CPUS (default nproc),
# SLURM_GPUS (default 0; >0 fakes GPUs for scheduling tests, backed by /dev/null-like
# character devices, and jobs get CUDA_VISIBLE_DEVICES).
# Without systemd or cgroups: linuxproc process tracking, no accounting; job states and
# exit codes are recorded by jobcomp/filetxt in <dir>/jobcomp.txt.
set -euo pipefail

dir=$(mkdir -p "${1:?usage: $0 <state dir>}" && cd "$1" && pwd)   # absolute: slurmctld chdirs to /
port=${SLURM_PORT:-16817}
cpus=${SLURM_CPUS:-$(nproc)}
gpus=${SLURM_GPUS:-0}
mem_mb=$(awk '/MemTotal/ {print int($2 / 1024 * 0.8)}' /proc/meminfo)

for prog in slurmctld slurmd munged sbatch; do
    command -v "$prog" >/dev/null || { echo "$0: $prog not found: apt-get install slurm-wlm munge" >&2; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { echo "$0: must run as root (slurmd runs jobs as their users)" >&2; exit 1; }

mkdir -p "$dir"/{munge_sock,munge_key,spool/ctld,spool/d,log}
chmod 755 "$dir/munge_sock"          # munged refuses a socket dir others cannot enter
chmod 700 "$dir/munge_key"
[ -f "$dir/munge_key/munge.key" ] || dd if=/dev/urandom of="$dir/munge_key/munge.key" bs=1024 count=1 status=none
chmod 400 "$dir/munge_key/munge.key"
munged --key-file "$dir/munge_key/munge.key" --socket "$dir/munge_sock/munge.socket" \
    --pid-file "$dir/munge_sock/munged.pid" --log-file "$dir/log/munged.log" --seed-file "$dir/munge_key/seed" -f

gres_lines=""
node_gres=""
if [ "$gpus" -gt 0 ]; then
    gres_lines="GresTypes=gpu"
    node_gres="Gres=gpu:${gpus}"
    : > "$dir/gres.conf"
    for ((i = 0; i < gpus; i++)); do
        [ -e "$dir/fakegpu$i" ] || mknod "$dir/fakegpu$i" c 1 3   # same device as /dev/null
        echo "Name=gpu File=$dir/fakegpu$i" >> "$dir/gres.conf"
    done
fi

cat > "$dir/slurm.conf" <<CONF
ClusterName=peft_test
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=${port}
SlurmdPort=$((port + 1))
AuthType=auth/munge
AuthInfo=socket=$dir/munge_sock/munge.socket
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$dir/spool/ctld
SlurmdSpoolDir=$dir/spool/d
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/jobcomp.txt
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
DefMemPerCPU=$((mem_mb / cpus))
EnforcePartLimits=ALL
MaxArraySize=10001
ReturnToService=2
${gres_lines}
NodeName=localhost NodeAddr=127.0.0.1 CPUs=${cpus} RealMemory=${mem_mb} ${node_gres} State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF

export SLURM_CONF="$dir/slurm.conf"
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF" -N localhost
for _ in $(seq 1 50); do
    if timeout 5 sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
        echo "export SLURM_CONF=$SLURM_CONF"
        exit 0
    fi
    sleep 0.2
done
echo "$0: the node did not become idle; see $dir/log/" >&2
timeout 5 sinfo -N -l >&2 || true
exit 1
