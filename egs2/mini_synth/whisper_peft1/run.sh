#!/usr/bin/env bash
# Whisper base (real, pretrained; converted offline from the PyPI packages) adapted to
# the synthetic child and accented speech of mini_synth, zero-shot vs adapted WER and
# adult-domain forgetting. Stage 0 converts the model (local/prepare_base.sh), stages
# 1-9 are egs2/TEMPLATE/peft1/peft.sh with it as --base_model; scoring compares
# references and hypotheses after basic normalisation (--score_normalize basic: Whisper
# writes "The cat sat." where the references read "the cat sat").
#
#   ./run.sh                                   # default set: zero_shot lora ssvd (CPU-bounded)
#   ./run.sh --stage 6 --methods "zero_shot lora dora pissa ssvd ssvd_o s2lora"
set -euo pipefail
cd "$(dirname "$0")"

stage=0
stop_stage=9
rest=()
while [ $# -gt 0 ]; do
    case "$1" in
        --stage) stage=$2; shift 2 ;;
        --stop_stage) stop_stage=$2; shift 2 ;;
        *) rest+=("$1"); shift ;;
    esac
done
python=${PYTHON:-../../../tools/venv/bin/python}
base=exp/whisper_base

# Small sets (CPU): Whisper base is 24x the demo's base model.
sizes="adult_train=16,adult_dev=8,adult_test=40,child_train=120,child_dev=16,child_test=40"
sizes+=",accented_train=120,accented_dev=16,accented_test=40"

if [ "${stage}" -le 0 ] && [ "${stop_stage}" -ge 0 ]; then
    local/prepare_base.sh --python "${python}" --out "${base}"
fi
if [ "${stop_stage}" -ge 1 ]; then
    ./peft.sh --python "${python}" \
        --stage $(( stage > 1 ? stage : 1 )) --stop_stage "${stop_stage}" \
        --source_domain adult --target_domains "child accented" \
        --methods "zero_shot lora ssvd" \
        --base_model "${base}/model.pth" --base_train_config "${base}/config.yaml" \
        --adapt_config conf/adapt.yaml --adapter_conf_dir conf/adapter \
        --inference_config conf/decode.yaml \
        --score_normalize basic \
        --local_data_opts "--sizes ${sizes}" \
        ${rest[@]+"${rest[@]}"}
fi
