#!/usr/bin/env bash
# Stage 1 of the OGI Kids recipe: OGI Kids (target domain "ogi_kids": --parts scripted, children
# reading prompts, default; spontaneous, a monologue per child; or both) and LibriSpeech
# (source domain "librispeech": forgetting) into data/<domain>_{train,dev,test}, by
# espnet_peft/data/corpora/{ogi_kids,librispeech}.py (layout, text and split rules are
# documented there).
#
#   local/data.sh --ogi_kids_dir /db/LDC2007S18 --librispeech_dir /db/LibriSpeech [--parts both] [--split_dir DIR]
set -euo pipefail
datadir=data
nj=2
python=python3
ogi_kids_dir=${OGI_KIDS:-}         # holding docs/ and speech/ (or cslu_kids/)
librispeech_dir=${LIBRISPEECH:-}   # holding LibriSpeech/<subset>/
librispeech_sets=train=dev-clean,dev=dev-clean,test=test-clean
source_corpus=librispeech          # librispeech, or none (then give run.sh another --source_domain)
split_dir=                         # train.list, dev.list, test.list; default: speaker-disjoint split
parts=scripted                     # scripted, spontaneous (whole monologues, minutes long) or both
wav_dir=wav
. utils/parse_options.sh

launch="${python} $(cd "$(dirname "$(readlink -f "$0")")/../../../.." && pwd)/espnet_peft/data/corpora/launch.py"
[ -n "${ogi_kids_dir}" ] || { echo "local/data.sh: set OGI_KIDS=/path/to/cslu_kids or pass --local_data_opts '--ogi_kids_dir DIR'" >&2; exit 1; }
opts=()
[ -n "${split_dir}" ] && opts+=(--split_dir "${split_dir}")
${launch} ogi_kids --corpus_dir "${ogi_kids_dir}" --data_dir "${datadir}" --domain ogi_kids \
    --wav_dir "${wav_dir}" --nj "${nj}" --parts "${parts}" "${opts[@]}"
if [ "${source_corpus}" = librispeech ]; then
    [ -n "${librispeech_dir}" ] || { echo "local/data.sh: set LIBRISPEECH=/path or pass --librispeech_dir DIR (or --source_corpus none)" >&2; exit 1; }
    ${launch} librispeech --corpus_dir "${librispeech_dir}" --data_dir "${datadir}" --domain librispeech \
        --wav_dir "${wav_dir}" --nj "${nj}" --sets "${librispeech_sets}"
fi
