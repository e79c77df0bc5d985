#!/usr/bin/env bash
# OGI Kids (CSLU Kids' Speech, LDC2007S18; scripted part by default, --local_data_opts
# "--parts spontaneous|both" for the spontaneous one): adapt a pretrained ASR model to it with
# every PEFT method, decode its test set and LibriSpeech test-clean (forgetting), tabulate.
# Settings: the SSVD paper's (conf/adapt.yaml, conf/adapter/: AdamW 1e-4, 15 epochs,
# LoRA/DoRA r 32 alpha 64, SSVD k = 40 %); conf/tuning/ssvd_paper + ./reproduce.sh for its grid.
#
#   OGI_KIDS=/db/LDC2007S18 LIBRISPEECH=/db ./run.sh --base_model M.pth --base_train_config config.yaml
# The corpus layout, prompts and splits: espnet_peft/data/corpora/ogi_kids.py.
# Pretrained models and their architectures: conf/models.yaml.
set -euo pipefail
cd "$(dirname "$0")"

./peft.sh \
    --task s2t \
    --source_domain librispeech \
    --target_domains ogi_kids \
    --methods "zero_shot full lora dora pissa ssvd ssvd_o" \
    --adapt_config conf/adapt.yaml \
    --adapter_conf_dir conf/adapter \
    --inference_config conf/decode.yaml \
    "$@"
