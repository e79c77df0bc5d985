"""Data preparation of real corpora for the egs2/<corpus>/peft1 recipes.

One module per corpus (``myst``, ``cmu_kids``, ``ogi_kids``, ``l2_arctic``,
``aesrc2020``, ``common_voice``, ``cgn``, ``edacc``, ``childmandarin``, and
``librispeech`` / ``aishell`` for the English / Mandarin source-domain test sets), each
turning the corpus *as distributed* into Kaldi-style directories
``<data_dir>/<domain>_{train,dev,test}`` (``wav.scp``, ``text``, ``utt2spk``, ``spk2utt``).
``common`` holds what they share: layout checks with clear errors, transcript
normalisation (written once), audio conversion to 16 kHz mono WAV and the writing of the
split directories.

A recipe's ``local/data.sh`` runs them through ``launch.py`` (see there), which loads
these modules without importing torch or ESPnet.
"""
