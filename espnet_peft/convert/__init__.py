"""Model conversion: a CTranslate2 Whisper (model.bin, vocabulary) to an openai-whisper
checkpoint, an ESPnet tokenizer directory and an ESPnet base model config."""
