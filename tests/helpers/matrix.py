"""The test matrix: one small configuration per method, the properties the shared invariants
depend on, and a small model with ESPnet-style layer names (adding a method = one entry here)."""

import copy

import torch
import torch.nn as nn

# One small configuration per method; the matrix tests run over all of them.
METHOD_CONFIGS = {
    "lora": dict(r=4, alpha=8.0),
    "dora": dict(r=4, alpha=8.0),
    "pissa": dict(r=4, alpha=4.0),
    "ssvd": dict(k_fraction=0.5, rotation="approx"),
    "ssvd_o": dict(k_fraction=0.5, rotation="approx", budget_ratio=0.5),
    "s2lora": dict(r=4, alpha=8.0, l1_weight=1e-3),
    "full": dict(),
    "bitfit": dict(),
    "bottleneck": dict(bottleneck_dim=4),
    "semiorth": dict(rank_fraction=0.5),
    "vera": dict(r=16, d_initial=0.1, projection_seed=3),
    "adalora": dict(init_r=4, target_r=2, alpha=8.0, total_step=10, tinit=2, tfinal=3),
}
METHOD_NAMES = list(METHOD_CONFIGS)
# Properties the matrix invariants depend on, where a method differs from the default
# (documented in docs/methods.md): ``adapted``: adapter layers on TinyModel with
# TARGETS (bitfit skips linear_v, which has no bias; full adds no layer);
# ``exact_at_injection``: the output is unchanged right after injection (semiorth
# truncates each W0 to rank r); ``mergeable``: merge folds the adapter into the base
# weights (bottleneck adds layers); ``trains_base``: the adapter's tensors are base
# tensors trained in place (full).
DEFAULT_METHOD_PROPERTIES = dict(adapted=8, exact_at_injection=True, mergeable=True, trains_base=False)
METHOD_PROPERTIES = {
    "full": dict(adapted=0, trains_base=True),
    "bitfit": dict(adapted=6),
    "bottleneck": dict(mergeable=False),
    "semiorth": dict(exact_at_injection=False),
}


def _rotation_size(budget: float, k: int) -> int:
    """Largest n with n(n-1)/2 <= budget, at most k (SSVD-O's split of the rotation budget)."""
    n = 0
    while (n + 1) * n / 2 <= budget + 1e-9:
        n += 1
    return min(n, k)


def _ssvd_o(i, o, c):
    k = int(min(i, o) * c["k_fraction"])
    budget = k * (k - 1) / 2
    k_out, k_in = _rotation_size(c["budget_ratio"] * budget, k), _rotation_size((1 - c["budget_ratio"]) * budget, k)
    return k_in * (k_in - 1) // 2 + k_out * (k_out - 1) // 2 + k


def _ssvd(i, o, c):
    k = int(min(i, o) * c["k_fraction"])
    return (k * k if c["rotation"] == "none" else k * (k - 1) // 2) + k


def _per_layer(count):
    return lambda linears, c: sum(count(i, o, bias, c) for i, o, bias in linears)


# Trainable parameters from DESIGN.md section 2, from the targeted layers' shapes:
# method -> f([(in, out, has_bias) of each targeted Linear], config).
CLOSED_FORM_TRAINABLE = {
    "lora": _per_layer(lambda i, o, b, c: c["r"] * (i + o)),
    "pissa": _per_layer(lambda i, o, b, c: c["r"] * (i + o)),
    "dora": _per_layer(lambda i, o, b, c: c["r"] * (i + o) + o),
    "ssvd": _per_layer(lambda i, o, b, c: _ssvd(i, o, c)),
    "ssvd_o": _per_layer(lambda i, o, b, c: _ssvd_o(i, o, c)),
    # a coefficient vector per layer, one (A, B) pair per layer shape
    "s2lora": lambda linears, c: sum(c["r"] for _ in linears) + sum(c["r"] * (i + o) for i, o in
                                                                   {(i, o) for i, o, _ in linears}),
    "full": _per_layer(lambda i, o, b, c: i * o + (o if b else 0)),
    "bitfit": _per_layer(lambda i, o, b, c: o if b else 0),
    # down b x d + b, up d x b + d on each host's output size d
    "bottleneck": _per_layer(lambda i, o, b, c: 2 * c["bottleneck_dim"] * o + c["bottleneck_dim"] + o),
    # U (out x r) and V (r x in), r = rank_fraction of min(in, out)
    "semiorth": _per_layer(lambda i, o, b, c: int(min(i, o) * c["rank_fraction"]) * (i + o)),
    "vera": _per_layer(lambda i, o, b, c: c["r"] + o),  # lambda_d (r) + lambda_b (out); A, B frozen, shared
    "adalora": _per_layer(lambda i, o, b, c: c["init_r"] * (i + o + 1)),  # P (out x r), Lambda (r), Q (r x in)
}


def method_property(method: str, key: str):
    return METHOD_PROPERTIES.get(method, {}).get(key, DEFAULT_METHOD_PROPERTIES[key])


TARGETS = ["linear_q", "linear_v", "w_1", "w_2"]


class Block(nn.Module):
    """Attention-like and feed-forward projections named as in ESPnet, plus a BatchNorm
    (like a Conformer convolution module) whose running stats move during training."""

    def __init__(self, d: int, ff: int):
        super().__init__()
        self.linear_q = nn.Linear(d, d)
        self.linear_v = nn.Linear(d, d, bias=False)
        self.w_1 = nn.Linear(d, ff)   # in < out: SSVD rotates the input side
        self.w_2 = nn.Linear(ff, d)   # out < in: SSVD rotates the output side
        self.norm = nn.BatchNorm1d(d)

    def forward(self, x):
        h = x + self.linear_v(torch.tanh(self.linear_q(x)))
        h = self.norm(h)
        return h + self.w_2(torch.relu(self.w_1(h)))


class TinyModel(nn.Module):
    def __init__(self, d: int = 12, ff: int = 20, n_out: int = 5, blocks: int = 2):
        super().__init__()
        self.blocks = nn.ModuleList(Block(d, ff) for _ in range(blocks))
        self.out = nn.Linear(d, n_out)

    def forward(self, x):
        for b in self.blocks:
            x = b(x)
        return self.out(x)


def perturb_adapters(model, scale: float = 0.1, seed: int = 0):
    """Move every adapter parameter away from its initial value, as training would."""
    import espnet_peft

    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, p in espnet_peft.adapter_parameters(model):
            p.add_(scale * torch.randn(p.shape, generator=gen, dtype=p.dtype))


def adapted_copy(model, method, **overrides):
    import espnet_peft

    m = copy.deepcopy(model)
    conf = dict(METHOD_CONFIGS[method], **overrides)
    espnet_peft.inject_adapters(m, method, target_modules=TARGETS, **conf)
    espnet_peft.initialize_adapters(m)
    return m


def pretrained_tiny_model() -> TinyModel:
    """A TinyModel as if pretrained (seed 0), with non-trivial BatchNorm statistics."""
    torch.manual_seed(0)
    model = TinyModel()
    model.train()
    with torch.no_grad():
        model(torch.randn(64, 12))
    return model.eval()
