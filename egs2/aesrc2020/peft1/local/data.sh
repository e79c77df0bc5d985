#!/usr/bin/env bash
# Stage 1 of the AESRC2020 recipe: the accented speakers (target domain "aesrc_accented",
# default Indian English) and the American English speakers (source domain "aesrc_us":
# forgetting, the corpus' native part) into data/<domain>_{train,dev,test}, by
# espnet_peft/data/corpora/aesrc2020.py (layout, ids and splits documented there).
# Changing a domain name here needs the same name in run.sh (--target_domains/--source_domain).
#
#   local/data.sh --aesrc_dir /db/AESRC2020 [--target_accents "IND CHN"] [--split_dir DIR]
set -euo pipefail
datadir=data
nj=2
python=python3
aesrc_dir=${AESRC2020:-}           # holding the "<Accent> English Speech Data" folders
target_domain=aesrc_accented
target_accents=IND                 # codes: US UK CHN IND JPN KR PT RU
source_domain=aesrc_us             # none: no source domain
source_accents=US
split_dir=                         # train.list, dev.list, test.list; default: speaker-disjoint split
wav_dir=wav
. utils/parse_options.sh

launch="${python} $(cd "$(dirname "$(readlink -f "$0")")/../../../.." && pwd)/espnet_peft/data/corpora/launch.py"
[ -n "${aesrc_dir}" ] || { echo "local/data.sh: set AESRC2020=/path/to/AESRC2020 or pass --local_data_opts '--aesrc_dir DIR'" >&2; exit 1; }
opts=()
[ -n "${split_dir}" ] && opts+=(--split_dir "${split_dir}")
${launch} aesrc2020 --corpus_dir "${aesrc_dir}" --data_dir "${datadir}" --domain "${target_domain}" \
    --accents "${target_accents}" --wav_dir "${wav_dir}" --nj "${nj}" "${opts[@]}"
if [ "${source_domain}" != none ]; then
    ${launch} aesrc2020 --corpus_dir "${aesrc_dir}" --data_dir "${datadir}" --domain "${source_domain}" \
        --accents "${source_accents}" --wav_dir "${wav_dir}" --nj "${nj}" "${opts[@]}"
fi
