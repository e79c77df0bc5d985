#!/usr/bin/env bash
# mini_synth: the embedded, offline demo. Synthesises adult (source), child and accented
# (target) English speech, trains a small Conformer ASR base on adult speech, adapts it
# to each target domain with every PEFT method plus full fine-tuning, and writes
# exp/RESULTS.md. About 11.5 minutes on 2 CPU cores (measured; see README).
#
#   ./run.sh                         # everything
#   ./run.sh --stage 6 --methods "lora ssvd"   # re-run part of it
set -euo pipefail
cd "$(dirname "$0")"

./peft.sh \
    --source_domain adult \
    --target_domains "child accented" \
    --methods all \
    --base_config conf/train_base.yaml \
    --adapt_config conf/adapt.yaml \
    --adapter_conf_dir conf/adapter \
    --inference_config conf/decode.yaml \
    --nbpe 150 \
    "$@"
