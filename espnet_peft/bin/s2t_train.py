"""ESPnet's s2t_train with ``--adapter`` accepting espnet_peft's methods.

    python -m espnet_peft.bin.s2t_train <espnet s2t_train options> \
        --use_adapter true --adapter ssvd --adapter_conf '{"k_fraction": 0.4}' \
        --init_param pretrained.pth --save_strategy adapter_only

Adapters are initialised from the weights loaded by ``--init_param``.
"""

from espnet_peft.bin._common import run_train


def main(cmd=None):
    run_train("s2t", cmd)


if __name__ == "__main__":
    main()
