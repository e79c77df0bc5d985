#!/usr/bin/env bash
# System packages the recipes and tests use, from Debian/Ubuntu apt:
#   espeak-ng, sox   offline speech synthesis and audio effects (demo data, tests)
#   slurm-wlm, munge with WITH_SLURM=1: a local Slurm for tests/integration/test_slurm.py
# Runs apt-get only for what is missing; needs root (or sudo).
set -euo pipefail

packages=()
command -v espeak-ng >/dev/null || packages+=(espeak-ng)
command -v sox >/dev/null || packages+=(sox)
if [ "${WITH_SLURM:-0}" = 1 ]; then
    command -v slurmctld >/dev/null || packages+=(slurm-wlm)
    command -v munged >/dev/null || packages+=(munge)
fi
if [ ${#packages[@]} -eq 0 ]; then
    echo "[install_system] system packages present"
    exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
    sudo=()
elif command -v sudo >/dev/null; then
    sudo=(sudo)
else
    echo "[install_system] missing ${packages[*]}; run as root: apt-get install ${packages[*]}" >&2
    exit 1
fi
echo "[install_system] apt-get install ${packages[*]}"
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${packages[@]}" >/dev/null
