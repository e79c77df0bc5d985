#!/usr/bin/env bash
# CGN (Spoken Dutch Corpus): adapt a pretrained ASR model to Flemish Dutch (vl) with
# every PEFT method, decode Flemish and Netherlandic (nl: forgetting) test sets,
# tabulate -- the SSVD-O paper's regional-variety setting.
# Settings: the SSVD paper's (conf/adapt.yaml, conf/adapter/: AdamW 1e-4, 15 epochs,
# LoRA/DoRA r 32 alpha 64, SSVD k = 40 %); conf/tuning/ssvd_paper + ./reproduce.sh for its grid.
#
#   CGN=/db/CGN_2.0.3 ./run.sh --base_model M.pth --base_train_config config.yaml
#   ./run.sh --local_data_opts "--components o" ...        # read speech only
# The corpus layout, markup and splits: espnet_peft/data/corpora/cgn.py.
# Pretrained models and their architectures: conf/models.yaml.
set -euo pipefail
cd "$(dirname "$0")"

./peft.sh \
    --task s2t --s2t_lang nld \
    --source_domain netherlandic \
    --target_domains flemish \
    --methods "zero_shot full lora dora pissa ssvd ssvd_o" \
    --adapt_config conf/adapt.yaml \
    --adapter_conf_dir conf/adapter \
    --inference_config conf/decode.yaml \
    "$@"
