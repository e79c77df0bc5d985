#!/usr/bin/env bash
# Slurm backend of cmd.sh; see slurm.py for the options and the config format.
exec python3 "$(dirname "${BASH_SOURCE[0]}")/slurm.py" "$@"
