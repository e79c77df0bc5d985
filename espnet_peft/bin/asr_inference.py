"""ESPnet's asr_inference, loading espnet_peft adapter checkpoints safely.

Takes every option of ``espnet2.bin.asr_inference`` plus ``--base_model_file``
(the pretrained checkpoint for an adapter-only model file; default: the training
config's init_param). The model file may be a full checkpoint, an adapter-only
``.pth`` from training, or an exported ``.safetensors`` adapter.
"""

from espnet_peft.bin._common import run_inference


def main(cmd=None):
    run_inference("asr", "espnet2.bin.asr_inference", cmd)


if __name__ == "__main__":
    main()
