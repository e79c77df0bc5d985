#!/usr/bin/env bash
# Stage 1 of the L2-ARCTIC recipe: L2-ARCTIC (target domain "l2_arctic", non-native
# English of six first languages) and LibriSpeech (source domain "librispeech":
# forgetting) into data/<domain>_{train,dev,test}, by
# espnet_peft/data/corpora/{l2_arctic,librispeech}.py (layout, speakers, splits
# documented there). The 44.1 kHz recordings are resampled to 16 kHz under --wav_dir.
#
#   local/data.sh --l2_arctic_dir /db/l2arctic --librispeech_dir /db/LibriSpeech [--l1 "Arabic Hindi"]
set -euo pipefail
datadir=data
nj=2
python=python3
l2_arctic_dir=${L2_ARCTIC:-}       # holding the <SPEAKER>/ folders
librispeech_dir=${LIBRISPEECH:-}   # holding LibriSpeech/<subset>/
librispeech_sets=train=dev-clean,dev=dev-clean,test=test-clean
source_corpus=librispeech          # librispeech, or none (then give run.sh another --source_domain)
test_speakers="NJS TLV TNI TXHC YKWK ZHAA"
dev_speakers="MBMPS THV SVBI NCC YDCK YBAA"
l1=                                # keep only these first languages (default: all six)
wav_dir=wav
. utils/parse_options.sh

launch="${python} $(cd "$(dirname "$(readlink -f "$0")")/../../../.." && pwd)/espnet_peft/data/corpora/launch.py"
[ -n "${l2_arctic_dir}" ] || { echo "local/data.sh: set L2_ARCTIC=/path/to/l2arctic or pass --local_data_opts '--l2_arctic_dir DIR'" >&2; exit 1; }
${launch} l2_arctic --corpus_dir "${l2_arctic_dir}" --data_dir "${datadir}" --domain l2_arctic \
    --wav_dir "${wav_dir}" --nj "${nj}" --test_speakers "${test_speakers}" \
    --dev_speakers "${dev_speakers}" --l1 "${l1}"
if [ "${source_corpus}" = librispeech ]; then
    [ -n "${librispeech_dir}" ] || { echo "local/data.sh: set LIBRISPEECH=/path or pass --librispeech_dir DIR (or --source_corpus none)" >&2; exit 1; }
    ${launch} librispeech --corpus_dir "${librispeech_dir}" --data_dir "${datadir}" --domain librispeech \
        --wav_dir "${wav_dir}" --nj "${nj}" --sets "${librispeech_sets}"
fi
