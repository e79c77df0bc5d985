#!/usr/bin/env bash
# Reproduce a paper's tables and plots with one command: run the grid of a tuning
# directory (conf/tuning/<grid>/: grid.sh, adapter/*.yaml, optional adapt.yaml) through
# the recipe's run.sh for every base model, then collect all runs into one report.
# Run it from a recipe directory (egs2/<corpus>/peft1, where a reproduce.sh wrapper calls it).
#
#   ./reproduce.sh                                          # the recipe trains its own base
#   ./reproduce.sh --models "owsm_v3.1_0.1b=/m/base.pth:/m/config.yaml owsm_v3.1_1b=/m/1b.pth:/m/1b.yaml"
#   cmd_backend=slurm ./reproduce.sh --ngpu 1 --train_jobs 8   # every model's grid as one Slurm array
#   ./reproduce.sh --dry_run true                           # print the commands only
#
# Per model (label): run.sh --expdir <out_dir>/<label> with the grid's methods and sweeps
# (grid.sh: methods, sweep, model_sweep[<label>]); finished runs are skipped, so an
# interrupted reproduction resumes. When training jobs fail, the rest is still decoded
# and scored (run.sh --stage 7) and the failures show in the tables. S2-LoRA and AdaLoRA
# runs get <run>/ranks.json (espnet_peft.bin.dump_ranks). Then
# espnet_peft.bin.collect_results writes <out_dir>/RESULTS.md, results.{csv,tex} and
# plots/. Options other than the ones below go to run.sh unchanged.
set -euo pipefail

log() { echo "[reproduce.sh $(date '+%H:%M:%S')] $*"; }
die() { echo "[reproduce.sh] ERROR: $*" >&2; exit 1; }

template_dir=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
project_root=$(cd "${template_dir}/../../.." && pwd)
python=${PYTHON:-${project_root}/tools/venv/bin/python}
# nltk (pulled in by ESPnet's text frontends) must not reach for the network.
export NLTK_DATA=${NLTK_DATA:-${project_root}/tools/nltk_data}

grid=conf/tuning/ssvd_paper   # tuning directory
models=                       # "label=checkpoint:config ..."; empty: the recipe's own base ("base")
out_dir=                      # default: exp/<grid name>
dry_run=false
run_args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --grid|--models|--out_dir|--dry_run)
            [ $# -ge 2 ] || die "$1 needs a value"
            printf -v "${1#--}" '%s' "$2"; shift 2 ;;
        -h|--help) sed -n '2,18p' "$(readlink -f "${BASH_SOURCE[0]}")"; exit 0 ;;
        *) run_args+=("$1"); shift ;;
    esac
done
[ -x ./run.sh ] || die "no ./run.sh in $(pwd): run from a recipe directory"
[ -f "${grid}/grid.sh" ] || die "${grid}/grid.sh not found (expected methods=, sweep=, model_sweep)"
[ -d "${grid}/adapter" ] || die "${grid}/adapter/ not found (one <method>.yaml per method)"
methods=; sweep=; declare -A model_sweep=()
# shellcheck disable=SC1091
. "${grid}/grid.sh"
[ -n "${methods}" ] || die "${grid}/grid.sh sets no methods"
out_dir=${out_dir:-exp/$(basename "${grid}")}
[ -n "${models}" ] || models="base="

run() {  # run <command...>: print it; execute it unless --dry_run true
    log "$*"
    [ "${dry_run}" = true ] || "$@"
}

collect=()
failed=()
for model in ${models}; do
    label=${model%%=*}
    spec=${model#*=}
    [ -n "${label}" ] && [ "${label}" != "${model}" ] || die "--models item '${model}': expected label=checkpoint:config"
    args=(--expdir "${out_dir}/${label}" --adapter_conf_dir "${grid}/adapter" --methods "${methods}"
          --sweep "${sweep} ${model_sweep[${label}]:-}")
    [ -f "${grid}/adapt.yaml" ] && args+=(--adapt_config "${grid}/adapt.yaml")
    if [ -n "${spec}" ]; then
        ckpt=${spec%%:*}; conf=${spec#*:}
        [ "${conf}" != "${spec}" ] || die "--models item '${model}': expected label=checkpoint:config"
        args+=(--base_model "${ckpt}" --base_train_config "${conf}")
    fi
    log "model ${label}: ${methods} (sweep: ${sweep} ${model_sweep[${label}]:-}) -> ${out_dir}/${label}"
    if ! run ./run.sh "${args[@]}" "${run_args[@]}"; then
        log "model ${label}: some jobs failed; decoding and scoring the runs that finished"
        run ./run.sh "${args[@]}" "${run_args[@]}" --stage 7 || failed+=("${label}")
    fi
    # Learned ranks of S2-LoRA / AdaLoRA runs for the rank heatmap (<run>/ranks.json).
    for d in "${out_dir}/${label}"/adapt_*_s2lora_* "${out_dir}/${label}"/adapt_*_adalora_*; do
        [ -f "${d}/valid.acc.ave.pth" ] && [ ! -f "${d}/ranks.json" ] || continue
        run "${python}" -m espnet_peft.bin.dump_ranks --task asr --config "${d}/config.yaml" \
            --model_file "${d}/valid.acc.ave.pth" --out "${d}/ranks.json" || log "  ${d}: dump_ranks failed"
    done
    collect+=(--exp_dir "${out_dir}/${label}" --label "${label}")
done

run "${python}" -m espnet_peft.bin.collect_results "${collect[@]}" --out_dir "${out_dir}"
[ ${#failed[@]} -eq 0 ] || die "decoding/scoring failed for: ${failed[*]} (see the logs named above)"
log "done: ${out_dir}/RESULTS.md, ${out_dir}/results.tex, ${out_dir}/plots/"
