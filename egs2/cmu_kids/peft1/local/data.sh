#!/usr/bin/env bash
# Stage 1 of the CMU Kids recipe: CMU Kids (target domain "cmu_kids", children reading
# aloud) and LibriSpeech (source domain "librispeech": forgetting) into
# data/<domain>_{train,dev,test}, by espnet_peft/data/corpora/{cmu_kids,librispeech}.py
# (layout, text and split rules are documented there). SPHERE audio is converted to
# 16 kHz WAV under --wav_dir.
#
#   local/data.sh --cmu_kids_dir /db/LDC97S63 --librispeech_dir /db/LibriSpeech [--split_dir DIR]
set -euo pipefail
datadir=data
nj=2
python=python3
cmu_kids_dir=${CMU_KIDS:-}         # holding kids/ and tables/ (or cmu_kids/)
librispeech_dir=${LIBRISPEECH:-}   # holding LibriSpeech/<subset>/
librispeech_sets=train=dev-clean,dev=dev-clean,test=test-clean
source_corpus=librispeech          # librispeech, or none (then give run.sh another --source_domain)
text_source=prompt                 # prompt (tables/sentence.tbl, as ESPnet) or trans (the .trn files)
split_dir=                         # train.list, dev.list, test.list; default: speaker-disjoint split
wav_dir=wav
. utils/parse_options.sh

launch="${python} $(cd "$(dirname "$(readlink -f "$0")")/../../../.." && pwd)/espnet_peft/data/corpora/launch.py"
[ -n "${cmu_kids_dir}" ] || { echo "local/data.sh: set CMU_KIDS=/path/to/cmu_kids or pass --local_data_opts '--cmu_kids_dir DIR'" >&2; exit 1; }
opts=()
[ -n "${split_dir}" ] && opts+=(--split_dir "${split_dir}")
${launch} cmu_kids --corpus_dir "${cmu_kids_dir}" --data_dir "${datadir}" --domain cmu_kids \
    --wav_dir "${wav_dir}" --nj "${nj}" --text_source "${text_source}" "${opts[@]}"
if [ "${source_corpus}" = librispeech ]; then
    [ -n "${librispeech_dir}" ] || { echo "local/data.sh: set LIBRISPEECH=/path or pass --librispeech_dir DIR (or --source_corpus none)" >&2; exit 1; }
    ${launch} librispeech --corpus_dir "${librispeech_dir}" --data_dir "${datadir}" --domain librispeech \
        --wav_dir "${wav_dir}" --nj "${nj}" --sets "${librispeech_sets}"
fi
