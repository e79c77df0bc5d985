#!/usr/bin/env bash
# mini_synth: the SSVD / SSVD-O papers' grid at the demo's scale (conf/tuning/ssvd_paper:
# LoRA/DoRA r 32 alpha 64, PiSSA alpha = r, SSVD at three k, SSVD-O at three budget
# ratios, full fine-tuning, S2-LoRA and AdaLoRA), then tables and plots in exp/ssvd_paper/.
# 24 adaptation runs; about 16 minutes on 2 CPU cores (estimate). See
# ../../TEMPLATE/peft1/reproduce.sh for the options (--dry_run true, cmd_backend=slurm).
#
#   ./reproduce.sh
#   cmd_backend=slurm ./reproduce.sh --train_jobs 8
set -euo pipefail
cd "$(dirname "$0")"
exec ../../TEMPLATE/peft1/reproduce.sh --grid conf/tuning/ssvd_paper "$@"
