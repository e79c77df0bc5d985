"""Model classes ESPnet builds by choice name: Whisper from a checkpoint file, HF wav2vec2."""
