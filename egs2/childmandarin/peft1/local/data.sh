#!/usr/bin/env bash
# Stage 1 of the ChildMandarin recipe: ChildMandarin (target domain "childmandarin", the
# authors' speaker-disjoint train/dev/test) and AISHELL-1 (source domain "aishell": adult read
# Mandarin, forgetting) into data/<domain>_{train,dev,test}, by
# espnet_peft/data/corpora/{childmandarin,aishell}.py (layout, Chinese text normalisation and
# splits documented there).
#
#   local/data.sh --childmandarin_dir /db/ChildMandarin --aishell_dir /db/data_aishell [--lists_dir DIR]
set -euo pipefail
datadir=data
nj=2
python=python3
childmandarin_dir=${CHILDMANDARIN:-}   # holding data/<speaker>/*.wav (and baseline/data/)
lists_dir=                             # {train,dev,test}/text; default: <childmandarin_dir>/baseline/data
aishell_dir=${AISHELL:-}               # holding data_aishell/ (wav/ unpacked, transcript/)
aishell_sets=train=dev,dev=dev,test=test
source_corpus=aishell                  # aishell, or none (then give run.sh another --source_domain)
wav_dir=wav
. utils/parse_options.sh

launch="${python} $(cd "$(dirname "$(readlink -f "$0")")/../../../.." && pwd)/espnet_peft/data/corpora/launch.py"
[ -n "${childmandarin_dir}" ] || { echo "local/data.sh: set CHILDMANDARIN=/path/to/ChildMandarin or pass --local_data_opts '--childmandarin_dir DIR'" >&2; exit 1; }
opts=()
[ -n "${lists_dir}" ] && opts+=(--lists_dir "${lists_dir}")
${launch} childmandarin --corpus_dir "${childmandarin_dir}" --data_dir "${datadir}" --domain childmandarin \
    --wav_dir "${wav_dir}" --nj "${nj}" "${opts[@]}"
if [ "${source_corpus}" = aishell ]; then
    [ -n "${aishell_dir}" ] || { echo "local/data.sh: set AISHELL=/path or pass --aishell_dir DIR (or --source_corpus none)" >&2; exit 1; }
    ${launch} aishell --corpus_dir "${aishell_dir}" --data_dir "${datadir}" --domain aishell \
        --wav_dir "${wav_dir}" --nj "${nj}" --sets "${aishell_sets}"
fi
