#!/usr/bin/env bash
# Shared stage script of the espnet_peft recipes: adapt an ESPnet ASR model (--task asr)
# or a pretrained S2T model such as OWSM / OWLS (--task s2t) to target domains with
# parameter-efficient fine-tuning, decode target and source test sets, and tabulate
# learning (target WER) against forgetting (source WER).
#
# A recipe's run.sh sets its options and calls this script (see egs2/mini_synth/peft1).
# Stages (each re-runnable; finished work is skipped):
#   1 data preparation: local/data.sh (writes data/<domain>_<train|dev|test>)
#   2 format: copy data dirs to dump/, check every audio file, write utt2num_samples
#     (--task s2t: also text.s2t, text.prev, text.ctc; espnet_peft/recipe/s2t.py)
#   3 token list: train a BPE model on the source train text, or reuse the base model's
#   4 statistics: ESPnet collect_stats (feature mean/var, shape files) per domain
#   5 base model: train it on the source domain, unless --base_model is given
#   6 adaptation: every method in --methods on every target domain
#   7 decoding: every model on its target test set and the source test set (--eval_sets: or dev sets)
#   8 scoring: WER/CER per decoding directory (--score_metric: which one the tables report)
#   9 results: exp/RESULTS.md, exp/results.{csv,tex} and exp/plots/ (espnet_peft.bin.collect_results)
# The stages' helpers are commands of "python -m espnet_peft.recipe" (--help lists them).
set -euo pipefail

log() { echo "[peft.sh $(date '+%H:%M:%S')] $*"; }
die() { echo "[peft.sh] ERROR: $*" >&2; exit 1; }

template_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
project_root=$(cd "${template_dir}/../../.." && pwd)

# ---- options (override with --name value) ------------------------------------------
stage=1
stop_stage=9
nj=2                      # parallel jobs for synthesis, statistics and decoding
train_jobs=2              # adaptation runs trained at the same time
train_threads=1           # torch threads per training job
runs_per_job=auto         # adaptation runs trained one after another in one process (one ESPnet
                          # start-up, 13-17 s on CPU, per job): auto = all runs spread over
                          # train_jobs processes with cmd_backend=local, one run per Slurm task
ngpu=0
python=${PYTHON:-${project_root}/tools/venv/bin/python}
skip_data_prep=false      # skip stages 1-4
skip_train=false          # skip stages 5-6
skip_eval=false           # skip stages 7-9
on_data_error=stop        # bad utterances in stages 2-3: stop (list them) or skip (drop + log)
max_clipped_fraction=0.05 # stage 2: share of full-scale samples that marks an utterance clipped
datadir=data
dumpdir=dump
expdir=exp
task=asr                  # ESPnet task: asr, or s2t for OWSM/OWLS-style models (needs --base_model;
                          # the base config must match: espnet_peft.recipe.s2t check)
s2t_lang=eng              # --task s2t: the data's language symbol (eng, nld, ...; "<eng>" works too)
source_domain=adult       # data/<source>_{train,dev,test}
target_domains="child accented"
methods=all               # names and sets of the method catalog: all (the zero-shot reference and
                          # every method), seed (zero-shot and the seed methods), baselines; mixed,
                          # e.g. "seed bitfit" (python -m espnet_peft.recipe methods --help)
sweep=                    # grids, e.g. "lora:r=4,8,16 ssvd_o:budget_ratio=0.25,0.5,0.75"
base_config=conf/train_base.yaml     # stage 5
base_model=               # pretrained checkpoint (.pth): skips stage 5
base_train_config=        # its config.yaml (token list, frontend, architecture)
adapt_config=conf/adapt.yaml         # training options shared by all adaptation runs
adapter_conf_dir=conf/adapter        # <method>.yaml: adapter_conf and per-method overrides
inference_config=conf/decode.yaml
nbpe=150
bpemode=unigram
base_args=                # extra asr_train options for stage 5 (these three: split at spaces, no quoting)
adapt_args=               # extra asr_train (s2t_train) options for stage 6
inference_args=           # extra asr_inference (s2t_inference) options for stage 7
eval_sets=test            # stage 7: the splits decoded, of each model's target domain and of the source
                          # domain: test, dev (choosing hyperparameters: conf/tuning/), or "dev test"
score_metric=wer          # error rate of the result tables: wer, or cer (Mandarin: no word spaces)
score_normalize=auto      # text normalisation of reference and hypothesis before scoring: basic
                          # (case-folded, punctuation and symbols removed) or none; auto = basic
                          # for --task s2t (OWSM writes cased, punctuated text), none for asr
local_data_opts=          # extra options for local/data.sh

help_message="Usage: $0 [--stage N] [--stop_stage N] [--methods \"all | seed | baselines | NAME ...\"] [options]
Options and defaults are listed at the top of ${BASH_SOURCE[0]}."

. "${template_dir}/utils/parse_options.sh"
[ $# -eq 0 ] || die "unexpected arguments: $*"
[ -f cmd.sh ] || die "cmd.sh not found in $(pwd): run from a recipe directory"
. ./cmd.sh
[ -x "${python}" ] || die "python ${python} not found: run tools/install.sh first"
recipe() { "${python}" -m espnet_peft.recipe "$@"; }  # the stages' helpers (espnet_peft/recipe/)
# The method names, once: "all", "seed" and "baselines" expand through the method catalog.
methods=$(recipe methods "${methods}") || die "--methods: see above"
export PATH="${template_dir}/utils:${PATH}" PYTHONUNBUFFERED=1
# nltk (pulled in by ESPnet's text frontends) must not reach for the network.
export NLTK_DATA=${NLTK_DATA:-${project_root}/tools/nltk_data}
# PiSSA/SSVD/SSVD-O triplets of the base weights, computed once per experiment and reused
# by every other run, resumed job and decoding job on the same base (espnet_peft/ops/svd.py).
export ESPNET_PEFT_SVD_CACHE=${ESPNET_PEFT_SVD_CACHE:-$(realpath -m "${expdir}/svd_cache")}

if "${skip_data_prep}"; then [ "${stage}" -ge 5 ] || stage=5; fi
run_stage() { [ "${stage}" -le "$1" ] && [ "${stop_stage}" -ge "$1" ]; }
is_true() { [ "$1" = true ]; }
sets_of() { echo "$1_train $1_dev $1_test"; }
all_domains="${source_domain} ${target_domains}"

token_dir=${datadir}/token_list/bpe_${bpemode}${nbpe}
# Statistics depend on the tokenizer (text shapes): one directory per tokenizer.
if [ -n "${base_model}" ]; then token_tag=pretrained; else token_tag=bpe_${bpemode}${nbpe}; fi
stats_root=${expdir}/stats_${token_tag}
case "${task}" in asr|s2t) ;; *) die "--task ${task}: expected asr or s2t" ;; esac
for split in ${eval_sets}; do
    case "${split}" in dev|test) ;; *) die "--eval_sets '${eval_sets}': expected test, dev or \"dev test\"" ;; esac
done
if [ "${score_normalize}" = auto ]; then
    if [ "${task}" = s2t ]; then score_normalize=basic; else score_normalize=none; fi
fi
case "${score_normalize}" in basic|none) ;; *) die "--score_normalize ${score_normalize}: expected auto, basic or none" ;; esac
# Stages 1-2 (data) run without a model; from stage 3 on an S2T run needs its tokenizer.
if [ "${task}" = s2t ] && [ -z "${base_model}" ] && [ "${stop_stage}" -ge 3 ]; then
    die "--task s2t adapts a pretrained S2T model (OWSM/OWLS): give --base_model and --base_train_config"
fi
if [ -n "${base_model}" ]; then
    [ -f "${base_model}" ] || die "--base_model ${base_model} not found"
    [ -f "${base_train_config}" ] || die "--base_model needs --base_train_config (its config.yaml)"
    recipe s2t check --config "${base_train_config}" --task "${task}" \
        --lang "${s2t_lang}" || die "the base model does not fit --task ${task} (see above)"
fi
# Entry points of the task: espnet_peft.bin.{asr,s2t}_train and {asr,s2t}_decode_sets.
train_entry=espnet_peft.bin.${task}_train
train_runs="${python} -m espnet_peft.recipe train_runs --entry ${train_entry}"  # stage 6
decode_entry=espnet_peft.bin.${task}_decode_sets
text_file=text            # the training target: the plain transcript, or for S2T its prefixed form
decode_task_args=()
if [ "${task}" = s2t ]; then
    text_file=text.s2t
    lang_name=${s2t_lang#<}
    decode_task_args=(--lang_sym "${lang_name%>}" --task_sym asr)
fi
write_s2t_texts() {  # --task s2t: text.s2t/text.prev/text.ctc of every set (rewrites only changes)
    [ "${task}" = s2t ] || return 0
    recipe s2t texts --lang "${s2t_lang}" \
        $(for d in ${all_domains}; do for s in $(sets_of "${d}"); do
            printf -- '--data_dir %s ' "${dumpdir}/raw/${s}"; done; done)
}

# ---- 1. data -----------------------------------------------------------------------
if run_stage 1; then
    if [ -f "${datadir}/.done" ]; then
        log "stage 1: ${datadir} is complete; skipping (delete ${datadir}/.done to redo)"
    else
        log "stage 1: data preparation (local/data.sh)"
        local/data.sh --datadir "${datadir}" --nj "${nj}" --python "${python}" ${local_data_opts}
        for d in ${all_domains}; do
            for s in $(sets_of "${d}"); do
                [ -s "${datadir}/${s}/wav.scp" ] || die "local/data.sh did not write ${datadir}/${s}/wav.scp"
            done
        done
        touch "${datadir}/.done"
    fi
fi

# ---- 2. format ---------------------------------------------------------------------
if run_stage 2; then
    log "stage 2: format data into ${dumpdir}/raw"
    todo=()
    for d in ${all_domains}; do
        for s in $(sets_of "${d}"); do
            [ -f "${dumpdir}/raw/${s}/.done" ] && continue
            mkdir -p "${dumpdir}/raw/${s}"
            cp "${datadir}/${s}"/{wav.scp,text,utt2spk,spk2utt} "${dumpdir}/raw/${s}/"
            todo+=(--data_dir "${dumpdir}/raw/${s}")
        done
    done
    if [ ${#todo[@]} -gt 0 ]; then
        recipe format_data "${todo[@]}" \
            --on_error "${on_data_error}" --max_clipped_fraction "${max_clipped_fraction}"
        for ((i = 1; i < ${#todo[@]}; i += 2)); do touch "${todo[$i]}/.done"; done
    fi
    write_s2t_texts
fi

# ---- 3. tokens ---------------------------------------------------------------------
if [ -n "${base_model}" ]; then
    token_list=$(recipe config_get "${base_train_config}" token_list)  # empty: an inline list
    bpemodel=$(recipe config_get "${base_train_config}" bpemodel --default "")
    # e.g. hugging_face for the converted Whisper (egs2/mini_synth/whisper_peft1)
    token_type=$(recipe config_get "${base_train_config}" token_type --default bpe)
else
    token_list=${token_dir}/tokens.txt
    bpemodel=${token_dir}/bpe.model
fi
if run_stage 3; then
    if [ -n "${base_model}" ]; then
        log "stage 3: reusing the base model's tokenizer (${bpemodel:-none}, ${token_list:-inline list})"
    elif [ -s "${token_list}" ]; then
        log "stage 3: ${token_list} exists; skipping"
    else
        log "stage 3: BPE (${bpemode}, ${nbpe}) on ${source_domain}_train (+ the characters of every train/dev set)"
        recipe tokens --text "${dumpdir}/raw/${source_domain}_train/text" \
            --out_dir "${token_dir}" --vocab_size "${nbpe}" --model_type "${bpemode}" \
            $(for d in ${all_domains}; do for s in train dev; do
                printf -- '--cover_text %s ' "${dumpdir}/raw/${d}_${s}/text"; done; done)
    fi
fi
if run_stage 3 && [ -n "${bpemodel}" ] && [ "${token_type:-bpe}" = bpe ]; then
    todo=()
    for d in ${all_domains}; do
        for s in $(sets_of "${d}"); do
            [ -f "${dumpdir}/raw/${s}/.tokens_checked" ] && continue
            # Test sets are only reported: dropping test utterances would change the WER.
            if [ "${s}" = "${d}_test" ]; then todo+=(--report_only_dir "${dumpdir}/raw/${s}")
            else todo+=(--data_dir "${dumpdir}/raw/${s}"); fi
        done
    done
    if [ ${#todo[@]} -gt 0 ]; then
        log "stage 3: checking that ${bpemodel} covers every transcript character"
        recipe tokens --check --bpemodel "${bpemodel}" "${todo[@]}" \
            --on_error "${on_data_error}"
        for ((i = 1; i < ${#todo[@]}; i += 2)); do touch "${todo[$i]}/.tokens_checked"; done
        write_s2t_texts  # the check may have dropped utterances
    fi
fi
token_args=(--token_type "${token_type:-bpe}" --bpemodel "${bpemodel}")
[ -n "${token_list}" ] && token_args+=(--token_list "${token_list}")

data_args() {  # data_args <domain> [stats]: asr_train (s2t_train) data/shape options, on one line
    local d=$1 st=${stats_root}/$1 r=${dumpdir}/raw a
    a="--train_data_path_and_name_and_type ${r}/${d}_train/wav.scp,speech,sound"
    a+=" --train_data_path_and_name_and_type ${r}/${d}_train/${text_file},text,text"
    a+=" --valid_data_path_and_name_and_type ${r}/${d}_dev/wav.scp,speech,sound"
    a+=" --valid_data_path_and_name_and_type ${r}/${d}_dev/${text_file},text,text"
    if [ "${task}" = s2t ]; then
        local split set
        for split in train valid; do
            set=${d}_train; [ "${split}" = valid ] && set=${d}_dev
            a+=" --${split}_data_path_and_name_and_type ${r}/${set}/text.prev,text_prev,text"
            a+=" --${split}_data_path_and_name_and_type ${r}/${set}/text.ctc,text_ctc,text"
        done
    fi
    if [ "${2:-}" = stats ]; then  # collect_stats reads utterance keys only
        a+=" --train_shape_file ${r}/${d}_train/wav.scp --valid_shape_file ${r}/${d}_dev/wav.scp"
        a+=" --batch_type unsorted --batch_size 8"
    else
        a+=" --train_shape_file ${st}/train/speech_shape --train_shape_file ${st}/train/text_shape.bpe"
        a+=" --valid_shape_file ${st}/valid/speech_shape --valid_shape_file ${st}/valid/text_shape.bpe"
    fi
    echo "${a}"
}

# ---- 4. statistics -----------------------------------------------------------------
stats_config=${base_train_config:-${base_config}}
if run_stage 4; then
    log "stage 4: collect_stats for ${all_domains}"
    jobs=()
    for d in ${all_domains}; do
        st=${stats_root}/${d}
        [ -f "${st}/.done" ] && continue
        mkdir -p "${st}"
        recipe config "${stats_config}" --out "${st}/config.yaml" \
            --set normalize=null --set normalize_conf={}
        cat > "${st}/run.sh" <<EOF
set -e
${python} -m ${train_entry} --collect_stats true --config ${st}/config.yaml \
    --output_dir ${st} --ngpu 0 --num_workers 0 ${token_args[*]} $(data_args "${d}" stats)
for s in train valid; do
    awk -v v=\$(wc -l < ${token_list:-/dev/null}) '{print \$0 "," v}' ${st}/\$s/text_shape > ${st}/\$s/text_shape.bpe
done
touch ${st}/.done
EOF
        jobs+=("${st}/run.sh")
    done
    if [ ${#jobs[@]} -gt 0 ]; then
        printf '%s\n' "${jobs[@]}" > "${expdir}/stats_jobs.list"
        ${train_cmd} --max_jobs_run "${nj}" JOB=1:${#jobs[@]} "${expdir}/log/stats.JOB.log" \
            bash -c "bash \$(sed -n JOBp ${expdir}/stats_jobs.list)"
    fi
fi

# ---- 5. base model -----------------------------------------------------------------
if [ -n "${base_model}" ]; then
    base_dir=${expdir}/base_pretrained
    base_ckpt=${base_model}
    base_conf=${base_train_config}
else
    base_dir=${expdir}/base_${source_domain}_${token_tag}
    base_ckpt=${base_dir}/valid.acc.ave.pth
    base_conf=${base_dir}/config.yaml
fi
source_stats=${stats_root}/${source_domain}/train/feats_stats.npz
if run_stage 5 && ! is_true "${skip_train}"; then
    if [ -n "${base_model}" ]; then
        log "stage 5: using the pretrained base ${base_model}"
    elif [ -f "${base_ckpt}" ]; then
        log "stage 5: ${base_ckpt} exists; skipping"
    else
        log "stage 5: training the base model on ${source_domain} -> ${base_dir} (log: ${base_dir}/train.log)"
        mkdir -p "${base_dir}"
        ${train_cmd} --gpu "${ngpu}" --num_threads "$(nproc)" "${base_dir}/train.log" \
            "${python}" -m "${train_entry}" --config "${base_config}" --output_dir "${base_dir}" \
            --ngpu "${ngpu}" --normalize_conf "stats_file=${source_stats}" "${token_args[@]}" \
            $(data_args "${source_domain}") ${base_args}
    fi
fi
mkdir -p "${base_dir}"
# The zero-shot row of the results: the base model on every test set.
recipe run_json --source_domain "${source_domain}" --zero_shot "${base_dir}" --domains "${target_domains}"

# ---- 6. adaptation -----------------------------------------------------------------
adapt_runs=()   # "domain method exp_dir config" lines
# Stage 9 lists the planned runs, so that a run which never started shows up as missing.
plan_file_args=()
if run_stage 9 && ! is_true "${skip_eval}"; then plan_file_args=(--plan_file "${expdir}/jobs/plan.txt"); fi
if [ -f "${base_conf}" ]; then
    mapfile -t adapt_runs < <(recipe plan --expdir "${expdir}" \
        --base_conf "${base_conf}" --adapt_config "${adapt_config}" \
        --adapter_conf_dir "${adapter_conf_dir}" --domains "${target_domains}" --methods "${methods}" \
        --sweep "${sweep}" ${plan_file_args[@]+"${plan_file_args[@]}"})
fi

if run_stage 6 && ! is_true "${skip_train}"; then
    [ -f "${base_ckpt}" ] || die "base model ${base_ckpt} missing: run stage 5"
    [ ${#adapt_runs[@]} -gt 0 ] || [ "${methods}" = zero_shot ] || die "no adaptation runs planned"
    log "stage 6: ${#adapt_runs[@]} adaptation runs ($(echo " ${methods} " | sed 's/ zero_shot / /; s/^ //; s/ $//') on ${target_domains}), ${train_jobs} at a time"
    mkdir -p "${expdir}/jobs"
    todo=()
    run_json_args=()
    for run in "${adapt_runs[@]}"; do
        read -r d m dir conf <<< "${run}"
        if [ -f "${dir}/peft_summary.json" ]; then
            log "  ${dir} finished; skipping"
            continue
        fi
        mkdir -p "${dir}"
        cp "${conf}" "${dir}/train.yaml"
        run_json_args+=(--adapt "${d}" "${m}" "${dir}")
        # The run's arguments, one per line; run.sh trains it alone (output in train.log).
        printf '%s\n' --config "${dir}/train.yaml" --output_dir "${dir}" --init_param "${base_ckpt}" \
            --ngpu "${ngpu}" --resume true "${token_args[@]}" $(data_args "${d}") ${adapt_args} \
            > "${dir}/train.args"
        echo "${train_runs} ${dir}" > "${dir}/run.sh"
        todo+=("${dir}")
    done
    n=${#todo[@]}
    if [ "${n}" -gt 0 ]; then
        recipe run_json --source_domain "${source_domain}" "${run_json_args[@]}"
        per_job=${runs_per_job}
        if [ "${per_job}" = auto ]; then  # local: all runs over train_jobs processes; Slurm: one per task
            if [ "${cmd_backend:-local}" = local ]; then per_job=$(( (n + train_jobs - 1) / train_jobs )); else per_job=1; fi
        fi
        n_jobs=$(( (n + per_job - 1) / per_job ))
        for ((j = 1; j <= n_jobs; j++)); do
            printf '%s\n' "${todo[@]:$(( (j - 1) * per_job )):${per_job}}" > "${expdir}/jobs/adapt.${j}.list"
        done
        log "  training ${n} runs in ${n_jobs} job(s); per-run logs: <exp>/train.log, lists: ${expdir}/jobs/adapt.*.list"
        ${train_cmd} --gpu "${ngpu}" --num_threads "${train_threads}" --max_jobs_run "${train_jobs}" \
            JOB=1:"${n_jobs}" "${expdir}/log/adapt.JOB.log" \
            bash -c "${train_runs} \$(cat ${expdir}/jobs/adapt.JOB.list)"
    fi
fi

# ---- 7. decoding -------------------------------------------------------------------
decode_list=${expdir}/jobs/decode_all.tsv
if ! is_true "${skip_eval}" && { run_stage 7 || run_stage 8; }; then
    mkdir -p "${expdir}/jobs"
    : > "${decode_list}"
    add_decode() {  # add_decode <config> <model> <exp dir> <test set> [base model]
        printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "${dumpdir}/raw/$4/wav.scp" "$3/decode_$4" "${5:-}" >> "${decode_list}"
    }
    if echo " ${methods} " | grep -q " zero_shot "; then
        for t in ${target_domains} ${source_domain}; do
            for split in ${eval_sets}; do add_decode "${base_conf}" "${base_ckpt}" "${base_dir}" "${t}_${split}"; done
        done
    fi
    for run in "${adapt_runs[@]}"; do
        read -r d m dir _ <<< "${run}"
        model=$(ls "${dir}"/valid.acc.ave.pth 2>/dev/null || true)
        [ -n "${model}" ] || { log "  ${dir}: no valid.acc.ave.pth (training unfinished?); not decoded"; continue; }
        for split in ${eval_sets}; do
            for t in "${d}_${split}" "${source_domain}_${split}"; do
                add_decode "${dir}/config.yaml" "${model}" "${dir}" "${t}" "${base_ckpt}"
            done
        done
    done
fi
if run_stage 7 && ! is_true "${skip_eval}"; then
    n=$(wc -l < "${decode_list}")
    log "stage 7: decoding ${n} (model, test set) pairs in ${nj} jobs"
    split_n=$(( n < nj ? n : nj ))
    [ "${split_n}" -gt 0 ] || die "nothing to decode: train models first (stage 5-6)"
    for ((j = 1; j <= split_n; j++)); do
        awk -v j="${j}" -v n="${split_n}" '(NR - 1) % n == j - 1' "${decode_list}" > "${expdir}/jobs/decode.${j}.tsv"
    done
    ${decode_cmd} --gpu "${ngpu}" --num_threads 1 JOB=1:"${split_n}" "${expdir}/log/decode.JOB.log" \
        "${python}" -m "${decode_entry}" --jobs "${expdir}/jobs/decode.JOB.tsv" \
        --config "${inference_config}" --ngpu "${ngpu}" ${decode_task_args[@]+"${decode_task_args[@]}"} ${inference_args}
fi

# ---- 8. scoring --------------------------------------------------------------------
if run_stage 8 && ! is_true "${skip_eval}"; then
    log "stage 8: scoring"
    score_args=()
    while IFS=$'\t' read -r _ _ wav out _; do
        score_args+=(--decode_dir "${out}" --ref "$(dirname "${wav}")/text")
    done < "${decode_list}"
    [ ${#score_args[@]} -gt 0 ] && recipe score --metric "${score_metric}" \
        --normalize "${score_normalize}" "${score_args[@]}"
fi

# ---- 9. results --------------------------------------------------------------------
if run_stage 9 && ! is_true "${skip_eval}"; then
    log "stage 9: collecting results (tables and plots)"
    "${python}" -m espnet_peft.bin.collect_results --exp_dir "${expdir}"
fi
log "done (stages ${stage}-${stop_stage})"
