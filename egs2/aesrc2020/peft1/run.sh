#!/usr/bin/env bash
# AESRC2020 (accented read English, eight accents): adapt a pretrained ASR model to one
# or more accents (default Indian English) with every PEFT method, decode their test set and the
# American English test speakers (forgetting), tabulate.
# Settings: the SSVD paper's (conf/adapt.yaml, conf/adapter/: AdamW 1e-4, 15 epochs,
# LoRA/DoRA r 32 alpha 64, SSVD k = 40 %); conf/tuning/ssvd_paper + ./reproduce.sh for its grid.
#
#   AESRC2020=/db/AESRC2020 ./run.sh --base_model M.pth --base_train_config config.yaml
# The corpus layout, ids and splits: espnet_peft/data/corpora/aesrc2020.py.
# Pretrained models and their architectures: conf/models.yaml.
set -euo pipefail
cd "$(dirname "$0")"

./peft.sh \
    --task s2t \
    --source_domain aesrc_us \
    --target_domains aesrc_accented \
    --methods "zero_shot full lora dora pissa ssvd ssvd_o" \
    --adapt_config conf/adapt.yaml \
    --adapter_conf_dir conf/adapter \
    --inference_config conf/decode.yaml \
    "$@"
