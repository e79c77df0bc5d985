#!/usr/bin/env bash
# The SSVD / SSVD-O papers' grid on ChildMandarin for every base model given with --models
# (label=checkpoint:config; labels owsm_v3.1_0.1b, owsm_v3.1_1b, owls_2b select the
# per-size SSVD k sweep of conf/tuning/ssvd_paper/grid.sh). Options: ../../TEMPLATE/peft1/reproduce.sh.
set -euo pipefail
cd "$(dirname "$0")"
exec ../../TEMPLATE/peft1/reproduce.sh --grid conf/tuning/ssvd_paper "$@"
