#!/usr/bin/env bash
# MyST (children's conversational English): adapt a pretrained ASR model to MyST with
# every PEFT method, decode MyST test and LibriSpeech test-clean (forgetting), tabulate.
# Settings: the SSVD paper's (conf/adapt.yaml, conf/adapter/: AdamW 1e-4, 15 epochs,
# LoRA/DoRA r 32 alpha 64, SSVD k = 40 %); conf/tuning/ssvd_paper + ./reproduce.sh for its grid.
#
#   MYST=/db/LDC2021S05 LIBRISPEECH=/db ./run.sh --base_model M.pth --base_train_config config.yaml
#   ./run.sh --local_data_opts "--filter_list local/myst_whisper_wer50.txt" ...   # the paper's filtering
# The corpus layout, text normalisation and filtering: espnet_peft/data/corpora/myst.py.
# Pretrained models and their architectures: conf/models.yaml.
set -euo pipefail
cd "$(dirname "$0")"

./peft.sh \
    --task s2t \
    --source_domain librispeech \
    --target_domains myst \
    --methods "zero_shot full lora dora pissa ssvd ssvd_o" \
    --adapt_config conf/adapt.yaml \
    --adapter_conf_dir conf/adapter \
    --inference_config conf/decode.yaml \
    "$@"
