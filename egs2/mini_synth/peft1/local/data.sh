#!/usr/bin/env bash
# Stage 1 of mini_synth: synthesise adult (source), child and accented (target) English
# with espeak-ng + sox into data/<domain>_<split>. Deterministic for a given --seed.
set -euo pipefail
datadir=data
nj=2
python=python3
seed=0
sizes=""          # e.g. "adult_train=200,child_test=20" (defaults in espnet_peft/data/mini_synth.py)
wavdir=downloads/wav
. utils/parse_options.sh

"${python}" -m espnet_peft.data.mini_synth --words local/words.txt --data_dir "${datadir}" \
    --wav_dir "${wavdir}" --seed "${seed}" --nj "${nj}" --sizes "${sizes}"
