"""The embedded demo corpus: synthetic adult, child and accented English speech.

Everything is generated offline and deterministically from a seed:

- ``adult`` (source domain): British espeak-ng voices (en-gb, RP, Lancaster, West
  Midlands) with male/female variants, speaking rate 150-190 wpm, pitch 35-65;
- ``child`` (target): the adult voices shifted up by 5-7 semitones and sped up 5-25 %
  with sox (``pitch``/``tempo``), the rate irregular from utterance to utterance;
- ``accented`` (target): other English accents (Scottish, Caribbean, New York, US).

Sentences (4-6 words) fill simple templates ("the {adj} {noun} can {verb}", "the
{noun} is {prep} the {noun}", ...) from a lexicon of ``<category> <word>`` lines, so
that the decoder has some structure to learn while the content words stay random.
Each (domain, split) pair draws from its own random stream, so changing one split's
size leaves the others unchanged.

    python -m espnet_peft.data.mini_synth --words local/words.txt --data_dir data \
        --wav_dir downloads/wav --seed 0 --nj 2 --sizes adult_train=1500,child_test=150
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List, NamedTuple, Tuple

from espnet_peft.data.kaldi_dir import Utterance, write_data_dir
from espnet_peft.data.synth import require_tools, synthesize

ADULT_VOICES = ["en-gb", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd"]
ACCENT_VOICES = ["en-gb-scotland", "en-029", "en-us-nyc", "en-us"]
VARIANTS = [f"m{i}" for i in range(1, 8)] + [f"f{i}" for i in range(1, 5)]
DOMAINS = ("adult", "child", "accented")
SPLITS = ("train", "dev", "test")
DEFAULT_SIZES = {
    "adult_train": 1500, "adult_dev": 100, "adult_test": 150,
    "child_train": 400, "child_dev": 60, "child_test": 150,
    "accented_train": 400, "accented_dev": 60, "accented_test": 150,
}
SAMPLE_RATE = 16000


class Plan(NamedTuple):
    utt_id: str
    speaker: str
    voice: str
    speed: int
    pitch: int
    effects: Tuple[str, ...]
    text: str


TEMPLATES = [
    "the {adj} {noun} can {verb}",
    "a {noun} and a {noun}",
    "my {noun} is {adj}",
    "the {noun} is {prep} the {noun}",
    "we {verb} the {adj} {noun}",
    "look at the {noun}",
    "i see a {adj} {noun}",
]
CATEGORIES = ("noun", "adj", "verb", "prep")


def read_lexicon(path) -> Dict[str, List[str]]:
    """``<category> <word>`` lines (``#`` comments) -> {category: sorted words}."""
    lexicon: Dict[str, set] = {c: set() for c in CATEGORIES}
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 2 or parts[0] not in lexicon or not parts[1].isalpha():
            raise ValueError(f"{path}:{n}: expected '<{'|'.join(CATEGORIES)}> <word in letters>', got {line!r}")
        lexicon[parts[0]].add(parts[1].lower())
    empty = [c for c, ws in lexicon.items() if not ws]
    if empty:
        raise ValueError(f"{path}: no words for categories {empty}")
    return {c: sorted(ws) for c, ws in lexicon.items()}


def make_sentence(rng: random.Random, lexicon: Dict[str, List[str]]) -> str:
    words = []
    for token in rng.choice(TEMPLATES).split():
        words.append(rng.choice(lexicon[token[1:-1]]) if token.startswith("{") else token)
    return " ".join(words)


def plan_split(domain: str, split: str, n: int, lexicon: Dict[str, List[str]], seed: int) -> List[Plan]:
    if domain not in DOMAINS:
        raise ValueError(f"unknown domain {domain!r}; expected one of {DOMAINS}")
    rng = random.Random(f"mini_synth/{seed}/{domain}/{split}")
    voices = ACCENT_VOICES if domain == "accented" else ADULT_VOICES
    plans = []
    for i in range(n):
        voice, variant = rng.choice(voices), rng.choice(VARIANTS)
        text = make_sentence(rng, lexicon)
        speed, pitch = rng.randint(150, 190), rng.randint(35, 65)
        effects: Tuple[str, ...] = ()
        if domain == "child":
            effects = ("pitch", str(rng.randint(500, 700)), "tempo", f"{rng.uniform(1.05, 1.25):.3f}")
        speaker = f"{domain}_{voice.replace('-', '_')}_{variant}"
        plans.append(Plan(f"{speaker}-{split}{i:05d}", speaker, f"{voice}+{variant}", speed, pitch,
                          effects, text))
    return plans


def parse_sizes(spec: str) -> Dict[str, int]:
    sizes = dict(DEFAULT_SIZES)
    for item in filter(None, (s.strip() for s in spec.split(","))):
        key, _, value = item.partition("=")
        domain, _, split = key.partition("_")
        if domain not in DOMAINS or split not in SPLITS or not value.isdigit():
            raise ValueError(f"bad size {item!r}: expected <{'|'.join(DOMAINS)}>_<{'|'.join(SPLITS)}>=N")
        sizes[key] = int(value)
    return sizes


def generate(words_file, data_dir, wav_dir, seed: int = 0, sizes: Dict[str, int] = None,
             nj: int = 2) -> Dict[str, int]:
    """Synthesise every split; returns {"<domain>_<split>": n_utterances}."""
    require_tools("espeak-ng", "sox")
    lexicon = read_lexicon(words_file)
    sizes = sizes or dict(DEFAULT_SIZES)
    data_dir, wav_dir = Path(data_dir), Path(wav_dir).resolve()
    jobs = []
    for key, n in sizes.items():
        domain, split = key.split("_", 1)
        jobs += [(key, p) for p in plan_split(domain, split, n, lexicon, seed)]
    start, done = time.time(), 0

    def run(job):
        key, p = job
        return key, p, synthesize(p.text, wav_dir / key / f"{p.utt_id}.wav", voice=p.voice,
                                  speed=p.speed, pitch=p.pitch, sox_effects=p.effects,
                                  sample_rate=SAMPLE_RATE)

    by_split: Dict[str, List[Utterance]] = {k: [] for k in sizes}
    with ThreadPoolExecutor(max_workers=max(1, nj)) as pool:
        for key, p, wav in pool.map(run, jobs):
            by_split[key].append(Utterance(p.utt_id, p.speaker, str(wav), p.text))
            done += 1
            if done % 500 == 0 or done == len(jobs):
                logging.info("synthesised %d/%d utterances (%.0f s)", done, len(jobs), time.time() - start)
    for key, utts in by_split.items():
        write_data_dir(data_dir / key, utts)
    (data_dir / "mini_synth.json").write_text(json.dumps(
        {"seed": seed, "sizes": sizes, "lexicon": {c: len(w) for c, w in lexicon.items()},
         "sample_rate": SAMPLE_RATE}, indent=1))
    return {k: len(v) for k, v in by_split.items()}


def main(cmd=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--words", required=True)
    parser.add_argument("--data_dir", required=True)
    parser.add_argument("--wav_dir", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--nj", type=int, default=2)
    parser.add_argument("--sizes", default="", help="overrides, e.g. adult_train=500,child_test=50")
    args = parser.parse_args(cmd)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s mini_synth: %(message)s")
    counts = generate(args.words, args.data_dir, args.wav_dir, args.seed, parse_sizes(args.sizes), args.nj)
    for key, n in counts.items():
        logging.info("%s: %d utterances -> %s", key, n, Path(args.data_dir) / key)


if __name__ == "__main__":
    main()
