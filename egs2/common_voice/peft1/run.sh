#!/usr/bin/env bash
# Common Voice English accents: adapt a pretrained ASR model to one accent group
# (default South Asian English) with every PEFT method, decode its test set and the US
# English test utterances (forgetting), tabulate.
# Settings: the SSVD paper's (conf/adapt.yaml, conf/adapter/: AdamW 1e-4, 15 epochs,
# LoRA/DoRA r 32 alpha 64, SSVD k = 40 %); conf/tuning/ssvd_paper + ./reproduce.sh for its grid.
#
#   COMMON_VOICE=/db/cv-corpus-17.0-2024-03-15/en ./run.sh --base_model M.pth --base_train_config config.yaml
# The corpus layout and accent matching: espnet_peft/data/corpora/common_voice.py.
# Pretrained models and their architectures: conf/models.yaml.
set -euo pipefail
cd "$(dirname "$0")"

./peft.sh \
    --task s2t \
    --source_domain cv_us \
    --target_domains cv_south_asia \
    --methods "zero_shot full lora dora pissa ssvd ssvd_o" \
    --adapt_config conf/adapt.yaml \
    --adapter_conf_dir conf/adapter \
    --inference_config conf/decode.yaml \
    "$@"
