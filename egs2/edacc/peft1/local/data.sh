#!/usr/bin/env bash
# Stage 1 of the EdAcc recipe: EdAcc (target domain "edacc": its dev set split by conversation
# into train/dev, its test set as test) and LibriSpeech (source domain "librispeech":
# forgetting) into data/<domain>_{train,dev,test}, by
# espnet_peft/data/corpora/{edacc,librispeech}.py (layout, text, accents and splits documented
# there). Each turn is cut out of its conversation recording into a 16 kHz WAV under --wav_dir.
#
#   local/data.sh --edacc_dir /db/edacc_v1.0 --librispeech_dir /db/LibriSpeech [--accents "nigeria|kenya"]
set -euo pipefail
datadir=data
nj=2
python=python3
edacc_dir=${EDACC:-}               # holding data/, dev/, test/, linguistic_background.csv
librispeech_dir=${LIBRISPEECH:-}   # holding LibriSpeech/<subset>/
librispeech_sets=train=dev-clean,dev=dev-clean,test=test-clean
source_corpus=librispeech          # librispeech, or none (then give run.sh another --source_domain)
accents=                           # regex on the self-described accent; default: every speaker
dev_every=5                        # every n-th dev-set conversation to dev, the rest to train
keep_read=false                    # keep the read-passage turns (IGNORE_TIME_SEGMENT_IN_SCORING)
wav_dir=wav
. utils/parse_options.sh

launch="${python} $(cd "$(dirname "$(readlink -f "$0")")/../../../.." && pwd)/espnet_peft/data/corpora/launch.py"
[ -n "${edacc_dir}" ] || { echo "local/data.sh: set EDACC=/path/to/edacc_v1.0 or pass --local_data_opts '--edacc_dir DIR'" >&2; exit 1; }
opts=()
[ "${keep_read}" = true ] && opts+=(--keep_read)
${launch} edacc --corpus_dir "${edacc_dir}" --data_dir "${datadir}" --domain edacc \
    --wav_dir "${wav_dir}" --nj "${nj}" --accents "${accents}" --dev_every "${dev_every}" "${opts[@]}"
if [ "${source_corpus}" = librispeech ]; then
    [ -n "${librispeech_dir}" ] || { echo "local/data.sh: set LIBRISPEECH=/path or pass --librispeech_dir DIR (or --source_corpus none)" >&2; exit 1; }
    ${launch} librispeech --corpus_dir "${librispeech_dir}" --data_dir "${datadir}" --domain librispeech \
        --wav_dir "${wav_dir}" --nj "${nj}" --sets "${librispeech_sets}"
fi
