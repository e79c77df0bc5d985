#!/usr/bin/env bash
# EdAcc (Edinburgh International Accents of English Corpus: accented conversational English):
# adapt a pretrained ASR model to it (default every speaker; --local_data_opts "--accents REGEX"
# picks accents) with every PEFT method, decode its test set and LibriSpeech test-clean
# (forgetting), tabulate. EdAcc ships dev and test only: adaptation uses the dev set split by
# conversation, the test set is the test split.
# Settings: the SSVD paper's (conf/adapt.yaml, conf/adapter/: AdamW 1e-4, 15 epochs,
# LoRA/DoRA r 32 alpha 64, SSVD k = 40 %); conf/tuning/ssvd_paper + ./reproduce.sh for its grid.
#
#   EDACC=/db/edacc_v1.0 LIBRISPEECH=/db ./run.sh --base_model M.pth --base_train_config config.yaml
# The corpus layout, ids, accents and splits: espnet_peft/data/corpora/edacc.py.
# Pretrained models and their architectures: conf/models.yaml.
set -euo pipefail
cd "$(dirname "$0")"

./peft.sh \
    --task s2t \
    --source_domain librispeech \
    --target_domains edacc \
    --methods "zero_shot full lora dora pissa ssvd ssvd_o" \
    --adapt_config conf/adapt.yaml \
    --adapter_conf_dir conf/adapter \
    --inference_config conf/decode.yaml \
    "$@"
