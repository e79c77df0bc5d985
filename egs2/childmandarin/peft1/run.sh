#!/usr/bin/env bash
# ChildMandarin (Mandarin speech of children aged 3-5, the Chinese child-speech setting of the
# S2-LoRA paper): adapt a pretrained multilingual ASR model to it with every PEFT method, decode
# its test set and AISHELL-1 test (adult read Mandarin: forgetting), tabulate. Mandarin is
# scored by character: the tables report CER (--score_metric cer).
# Settings: the SSVD paper's (conf/adapt.yaml, conf/adapter/: AdamW 1e-4, 15 epochs,
# LoRA/DoRA r 32 alpha 64, SSVD k = 40 %); conf/tuning/ssvd_paper + ./reproduce.sh for its grid.
#
#   CHILDMANDARIN=/db/ChildMandarin AISHELL=/db/data_aishell ./run.sh --base_model M.pth --base_train_config config.yaml
# The corpus layout, text normalisation and splits: espnet_peft/data/corpora/{childmandarin,aishell}.py.
# Pretrained models and their architectures: conf/models.yaml.
set -euo pipefail
cd "$(dirname "$0")"

./peft.sh \
    --task s2t --s2t_lang zho \
    --source_domain aishell \
    --target_domains childmandarin \
    --methods "zero_shot full lora dora pissa ssvd ssvd_o" \
    --score_metric cer \
    --adapt_config conf/adapt.yaml \
    --adapter_conf_dir conf/adapter \
    --inference_config conf/decode.yaml \
    "$@"
