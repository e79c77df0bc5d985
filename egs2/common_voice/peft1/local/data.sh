#!/usr/bin/env bash
# Stage 1 of the Common Voice accents recipe: English Common Voice utterances of one
# accent (target domain, default "cv_south_asia") and of another (source domain, default
# "cv_us": forgetting) into data/<domain>_{train,dev,test}, from the official
# train/dev/test files, by espnet_peft/data/corpora/common_voice.py (layout, accent
# matching documented there). MP3s become 16 kHz WAV under --wav_dir.
# Changing a domain name here needs the same name in run.sh (--target_domains/--source_domain).
#
#   local/data.sh --cv_dir /db/cv-corpus-17.0-2024-03-15/en [--target_accent 'Scottish']
set -euo pipefail
datadir=data
nj=2
python=python3
cv_dir=${COMMON_VOICE:-}           # the English folder (clips/, train.tsv, dev.tsv, test.tsv)
target_domain=cv_south_asia
target_accent='India and South Asia|^indian$'
source_domain=cv_us                # none: no source domain
source_accent='United States English|^us$'
wav_dir=wav
. utils/parse_options.sh

launch="${python} $(cd "$(dirname "$(readlink -f "$0")")/../../../.." && pwd)/espnet_peft/data/corpora/launch.py"
[ -n "${cv_dir}" ] || { echo "local/data.sh: set COMMON_VOICE=/path/to/cv-corpus-*/en or pass --local_data_opts '--cv_dir DIR'" >&2; exit 1; }
${launch} common_voice --corpus_dir "${cv_dir}" --data_dir "${datadir}" --domain "${target_domain}" \
    --accent "${target_accent}" --wav_dir "${wav_dir}" --nj "${nj}"
if [ "${source_domain}" != none ]; then
    ${launch} common_voice --corpus_dir "${cv_dir}" --data_dir "${datadir}" --domain "${source_domain}" \
        --accent "${source_accent}" --wav_dir "${wav_dir}" --nj "${nj}"
fi
