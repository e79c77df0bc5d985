"""One module per adapter method; importing this package registers them all."""

from espnet_peft.methods import dora, lora, pissa, s2lora, ssvd, ssvd_o  # noqa: F401
from espnet_peft.methods import bitfit, bottleneck, full, semiorth  # noqa: F401
from espnet_peft.methods import adalora, vera  # noqa: F401
