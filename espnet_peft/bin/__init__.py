"""Command-line entry points: ESPnet's task binaries with espnet_peft's adapters.

``python -m espnet_peft.bin.asr_train``      ESPnet asr_train, --adapter widened
``python -m espnet_peft.bin.s2t_train``      ESPnet s2t_train (OWSM), --adapter widened
``python -m espnet_peft.bin.asr_inference``  ESPnet asr_inference, adapter-safe loading
``python -m espnet_peft.bin.s2t_inference``  ESPnet s2t_inference, adapter-safe loading
``python -m espnet_peft.bin.merge``          adapter -> full ESPnet checkpoint
``python -m espnet_peft.bin.export_adapter`` ESPnet checkpoint -> .safetensors adapter
"""
