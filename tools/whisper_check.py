#!/usr/bin/env python
"""Check a converted Whisper: greedy decoding through ESPnet (the ``whisper_ckpt``
encoder/decoder, ``Speech2Text``) on a Kaldi data directory, WER against its ``text``,
and, where the ``ctranslate2`` package is installed, CTranslate2's own greedy
transcripts and encoder outputs on the same log-mel features.

    tools/venv/bin/python tools/whisper_check.py --model_dir exp/whisper_base \
        --data egs2/mini_synth/peft1/data/adult_test --num_utts 40 --out exp/whisper_check.json

``--model_dir`` is the output of ``convert_ct2_whisper`` (made here from the installed
model packages if it does not exist). WER is computed after lower-casing and removing
punctuation (Whisper writes "The cat." where the references say "the cat"). Audio is
padded to Whisper's 30 s window (``do_pad_trim``), as Whisper was trained.
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path


def ct2_model_dir(parts, config_json, tmp: Path) -> Path:
    """A CTranslate2 model directory with the joined model.bin."""
    (tmp / "model.bin").write_bytes(b"".join(Path(p).read_bytes() for p in parts))
    (tmp / "config.json").write_text(Path(config_json).read_text())
    vocab = Path(config_json).with_name("vocabulary.txt")
    (tmp / "vocabulary.txt").write_text(vocab.read_text(encoding="utf-8"), encoding="utf-8")
    return tmp


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model_dir", type=Path, required=True)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--num_utts", type=int, default=0, help="N evenly spaced utterances (0: all)")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--no_ct2", action="store_true")
    args = ap.parse_args()

    import numpy as np
    import soundfile as sf
    import torch
    import yaml

    import espnet_peft  # noqa: F401
    from espnet_peft.convert.whisper_files import convert, installed_model_files
    from espnet_peft.recipe.score import error_rate
    from espnet_peft.convert.whisper_config import write_train_config
    from espnet_peft.recipe.score import normalize

    parts, tokenizer_json = installed_model_files()
    if not (args.model_dir / "model.pt").is_file():
        convert(parts, args.model_dir, tokenizer_json)
    cfg_path = args.model_dir / "zero_shot" / "config.yaml"
    write_train_config(cfg_path, args.model_dir, {"encoder_conf": {"do_pad_trim": True}})
    from espnet2.bin.asr_inference import Speech2Text

    s2t = Speech2Text(asr_train_config=str(cfg_path), asr_model_file=None, beam_size=1, ctc_weight=0.0,
                      lm_weight=0.0, nbest=1, device="cpu", maxlenratio=0.02)
    encoder = s2t.asr_model.encoder
    prompt = yaml.safe_load(cfg_path.read_text())["decoder_conf"]["prefix_ids"] + [s2t.asr_model.sos]

    ct2 = None
    if not args.no_ct2:
        try:
            import ctranslate2
        except ImportError:
            print("ctranslate2 is not installed: CTranslate2 comparison skipped", file=sys.stderr)
        else:
            tmp = Path(tempfile.mkdtemp())
            ct2 = ctranslate2.models.Whisper(str(ct2_model_dir(parts, tokenizer_json.with_name("config.json"), tmp)),
                                             device="cpu", compute_type="float32")
            vocab = tokenizer_json.with_name("vocabulary.txt").read_text(encoding="utf-8").splitlines()

    wavs = dict(line.split(maxsplit=1) for line in (args.data / "wav.scp").read_text().splitlines())
    refs = dict((line.split(" ", 1) + [""])[:2] for line in (args.data / "text").read_text().splitlines())
    utts = sorted(refs)
    if args.num_utts:  # evenly spaced, so that every voice is represented
        utts = [utts[i * len(utts) // args.num_utts] for i in range(min(args.num_utts, len(utts)))]
    hyps, ct2_hyps, rows, enc_diff, t0 = {}, {}, [], 0.0, time.time()
    for utt in utts:
        audio, rate = sf.read(wavs[utt].strip(), dtype="float32")
        hyps[utt] = s2t(audio)[0][0]
        row = {"utt": utt, "ref": refs[utt], "espnet": hyps[utt]}
        if ct2 is not None:
            with torch.no_grad():
                x = encoder.pad_or_trim(torch.from_numpy(audio)[None], encoder.pad_samples)
                feats, _ = encoder.log_mel_spectrogram(x)
                ours, _ = encoder.whisper_encode(feats)
            fv = ctranslate2.StorageView.from_array(np.ascontiguousarray(feats.numpy()))
            theirs = np.array(ct2.encode(fv, to_cpu=True))
            enc_diff = max(enc_diff, float(np.abs(theirs - ours.numpy()).max()))
            res = ct2.generate(fv, [prompt], beam_size=1, max_length=30, suppress_blank=False,
                               suppress_tokens=[])[0]
            ids = [i for i in res.sequences_ids[0] if i < 50257]
            ct2_hyps[utt] = s2t.tokenizer.tokens2text(s2t.converter.ids2tokens(ids))
            row["ct2"] = ct2_hyps[utt]
        rows.append(row)
        print(json.dumps(row), flush=True)
    norm_refs = {u: normalize(refs[u]) for u in utts}
    result = {"data": str(args.data), "utterances": len(utts), "seconds_per_utt": (time.time() - t0) / len(utts),
              "wer_espnet": error_rate(norm_refs, {u: normalize(h) for u, h in hyps.items()})}
    if ct2 is not None:
        result["wer_ct2"] = error_rate(norm_refs, {u: normalize(h) for u, h in ct2_hyps.items()})
        result["same_transcripts"] = sum(hyps[u] == ct2_hyps[u] for u in utts)
        result["encoder_max_abs_diff"] = enc_diff
    print(json.dumps(result, indent=1))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"summary": result, "utterances": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
