# Job launchers used by peft.sh: "local" runs on this machine, "slurm" submits with sbatch.
# Both take ESPnet run.pl-style arguments: [--gpu N] [--mem M] [JOB=1:N] <log> <command>.
cmd_backend=${cmd_backend:-local}
case "${cmd_backend}" in
    local) train_cmd="utils/run.sh"; decode_cmd="utils/run.sh" ;;
    slurm) train_cmd="utils/slurm.sh --config conf/slurm.conf"; decode_cmd="utils/slurm.sh --config conf/slurm.conf" ;;
    *) echo "cmd.sh: unknown cmd_backend ${cmd_backend}" >&2; return 1 ;;
esac
