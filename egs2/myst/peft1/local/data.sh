#!/usr/bin/env bash
# Stage 1 of the MyST recipe: MyST (target domain "myst", children) and LibriSpeech
# (source domain "librispeech": its test set measures forgetting) into
# data/<domain>_{train,dev,test}. The work is done by espnet_peft/data/corpora/{myst,librispeech}.py
# (layout, normalisation and filtering rules are documented there).
#
#   local/data.sh --myst_dir /db/LDC2021S05 --librispeech_dir /db/LibriSpeech \
#       [--filter_list local/myst_drop.txt | --keep_list list] [--source_corpus none]
set -euo pipefail
datadir=data
nj=2
python=python3
myst_dir=${MYST:-}                 # the release (holding myst_child_conv_speech/) or its data/ dir
librispeech_dir=${LIBRISPEECH:-}   # holding LibriSpeech/<subset>/
librispeech_sets=train=dev-clean,dev=dev-clean,test=test-clean
source_corpus=librispeech          # librispeech, or none (then give run.sh another --source_domain)
filter_list=                       # utterance ids to drop (SSVD paper: Whisper-large-v2 WER > 50 %)
keep_list=                         # or: keep only these ids (ESPnet's myst_file_list form)
wav_dir=wav                        # converted audio (MyST and LibriSpeech FLAC are used in place)
. utils/parse_options.sh

launch="${python} $(cd "$(dirname "$(readlink -f "$0")")/../../../.." && pwd)/espnet_peft/data/corpora/launch.py"
[ -n "${myst_dir}" ] || { echo "local/data.sh: set MYST=/path/to/myst or pass --local_data_opts '--myst_dir DIR'" >&2; exit 1; }
opts=()
[ -n "${filter_list}" ] && opts+=(--filter_list "${filter_list}")
[ -n "${keep_list}" ] && opts+=(--keep_list "${keep_list}")
${launch} myst --corpus_dir "${myst_dir}" --data_dir "${datadir}" --domain myst \
    --wav_dir "${wav_dir}" --nj "${nj}" "${opts[@]}"
if [ "${source_corpus}" = librispeech ]; then
    [ -n "${librispeech_dir}" ] || { echo "local/data.sh: set LIBRISPEECH=/path or pass --librispeech_dir DIR (or --source_corpus none)" >&2; exit 1; }
    ${launch} librispeech --corpus_dir "${librispeech_dir}" --data_dir "${datadir}" --domain librispeech \
        --wav_dir "${wav_dir}" --nj "${nj}" --sets "${librispeech_sets}"
fi
