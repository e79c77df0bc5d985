"""Whisper from an openai-whisper checkpoint file as ESPnet encoder/decoder (choice ``whisper_ckpt``)."""
