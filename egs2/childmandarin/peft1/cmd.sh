# Job launchers used by peft.sh, ESPnet run.pl/slurm.pl-style:
#   ${train_cmd} [--gpu N] [--mem M] [--num_threads N] [--time T] [--max_jobs_run N] [JOB=1:N] <log> <command...>
# cmd_backend=local (default) runs jobs on this machine; cmd_backend=slurm submits them
# with sbatch (options mapped by conf/slurm.conf) and waits for them.
cmd_backend=${cmd_backend:-local}
case "${cmd_backend}" in
    local) train_cmd="utils/run.sh"; decode_cmd="utils/run.sh" ;;
    slurm) train_cmd="utils/slurm.sh --config conf/slurm.conf"
           decode_cmd="utils/slurm.sh --config conf/slurm.conf" ;;
    *) echo "cmd.sh: unknown cmd_backend '${cmd_backend}' (local or slurm)" >&2; return 1 ;;
esac
