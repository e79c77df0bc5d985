#!/usr/bin/env bash
# Stage 1 of the CGN recipe: Flemish Dutch (target domain "flemish", CGN's vl part) and
# Netherlandic Dutch (source domain "netherlandic", CGN's nl part: forgetting) into
# data/<domain>_{train,dev,test}, by espnet_peft/data/corpora/cgn.py (layout, markup and
# splits documented there). Every utterance is cut out of its recording into a 16 kHz
# WAV under --wav_dir.
#
#   local/data.sh --cgn_dir /db/CGN_2.0.3 [--components "o"]
set -euo pipefail
datadir=data
nj=2
python=python3
cgn_dir=${CGN:-}                   # the release root (holding data/audio and data/annot)
components="a b f g h i j k l m n o"   # c, d: 8 kHz telephone speech (upsampled if added)
target_region=vl                   # target domain "flemish"
source_region=nl                   # source domain "netherlandic"; none: no source domain
dev_every=20
test_every=20
wav_dir=wav
. utils/parse_options.sh

launch="${python} $(cd "$(dirname "$(readlink -f "$0")")/../../../.." && pwd)/espnet_peft/data/corpora/launch.py"
[ -n "${cgn_dir}" ] || { echo "local/data.sh: set CGN=/path/to/CGN or pass --local_data_opts '--cgn_dir DIR'" >&2; exit 1; }
name() { case "$1" in vl) echo flemish ;; nl) echo netherlandic ;; esac; }
for region in ${target_region} ${source_region}; do
    [ "${region}" = none ] && continue
    ${launch} cgn --corpus_dir "${cgn_dir}" --data_dir "${datadir}" --domain "$(name "${region}")" \
        --region "${region}" --components "${components}" --wav_dir "${wav_dir}" --nj "${nj}" \
        --dev_every "${dev_every}" --test_every "${test_every}"
done
