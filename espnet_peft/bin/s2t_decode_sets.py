"""Decode many (model, data set) pairs in one process with ESPnet's s2t_inference
(OWSM / OWLS models): ``espnet_peft.bin.asr_decode_sets`` for the S2T task, with the
same job file. Options after ``--jobs`` are s2t_inference options, e.g.

    python -m espnet_peft.bin.s2t_decode_sets --jobs exp/jobs/decode.1.tsv \
        --lang_sym eng --task_sym asr --beam_size 5
"""

from espnet_peft.bin import asr_decode_sets


def main(cmd=None):
    asr_decode_sets.main(cmd, task="s2t")


if __name__ == "__main__":
    main()
