#!/usr/bin/env bash
# Run a command (or an array of jobs) on this machine, ESPnet run.pl-style:
#
#   utils/run.sh [--gpu N] [--mem 8G] [--num_threads N] [--time 1:00:00] [--max_jobs_run N] \
#       [JOB=1:4] exp/log/decode.JOB.log  command args... JOB
#
# Every occurrence of JOB in the log path and the command is replaced by the job index.
# Output goes to the log file (with the command, start/end time and exit status); the
# exit status is non-zero when any job fails, and the failed logs are named on stderr.
# --gpu/--mem/--time are accepted for compatibility with the Slurm backend; --gpu N > 0
# sets CUDA_VISIBLE_DEVICES per job round-robin only if it is not set already.
set -uo pipefail

gpu=0; mem=; num_threads=1; time_limit=; max_jobs_run=${PEFT_MAX_JOBS:-$(nproc)}
while [ $# -gt 0 ]; do
    case "$1" in
        --gpu) gpu=$2; shift 2 ;;
        --mem) mem=$2; shift 2 ;;
        --num_threads) num_threads=$2; shift 2 ;;
        --time) time_limit=$2; shift 2 ;;
        --max_jobs_run) max_jobs_run=$2; shift 2 ;;
        --*) echo "$0: unknown option $1" >&2; exit 2 ;;
        *) break ;;
    esac
done
: "${mem}" "${time_limit}"

first=1; last=1; var=
if [[ "${1:-}" =~ ^([A-Za-z_]+)=([0-9]+):([0-9]+)$ ]]; then
    var=${BASH_REMATCH[1]}; first=${BASH_REMATCH[2]}; last=${BASH_REMATCH[3]}; shift
elif [[ "${1:-}" =~ ^([A-Za-z_]+)=([0-9]+)$ ]]; then
    var=${BASH_REMATCH[1]}; first=${BASH_REMATCH[2]}; last=$first; shift
fi
[ $# -ge 2 ] || { echo "usage: $0 [options] [JOB=1:N] <log> <command...>" >&2; exit 2; }
log_template=$1; shift

subst() { if [ -n "$var" ]; then echo "${1//$var/$2}"; else echo "$1"; fi; }

run_one() {
    local id=$1 log cmd=() a rc
    log=$(subst "$log_template" "$id")
    for a in "${@:2}"; do cmd+=("$(subst "$a" "$id")"); done
    mkdir -p "$(dirname "$log")"
    {
        echo "# ${cmd[*]}"
        echo "# started at $(date '+%F %T') on $(hostname)"
    } > "$log"
    (
        export OMP_NUM_THREADS=$num_threads MKL_NUM_THREADS=$num_threads
        if [ "$gpu" -gt 0 ] && [ -z "${CUDA_VISIBLE_DEVICES:-}" ] && command -v nvidia-smi >/dev/null; then
            n=$(nvidia-smi -L | wc -l)
            [ "$n" -gt 0 ] && export CUDA_VISIBLE_DEVICES=$(( (id - 1) % n ))
        fi
        "${cmd[@]}"
    ) >> "$log" 2>&1
    rc=$?
    echo "# ended at $(date '+%F %T') with status $rc" >> "$log"
    return $rc
}

pids=(); ids=(); failed=()
for ((i = first; i <= last; i++)); do
    while [ "$(jobs -rp | wc -l)" -ge "$max_jobs_run" ]; do wait -n || true; done
    run_one "$i" "$@" &
    pids+=($!); ids+=("$i")
done
for k in "${!pids[@]}"; do
    wait "${pids[$k]}" || failed+=("$(subst "$log_template" "${ids[$k]}")")
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "$0: ${#failed[@]} of $((last - first + 1)) job(s) failed; see ${failed[*]}" >&2
    exit 1
fi
