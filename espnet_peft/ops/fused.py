"""One autograd node for a frozen Linear plus a low-rank path (LoRA/PiSSA/DoRA, SSVD/SSVD-O).

    y = [x W^T + s (x D^T) C^T U^T] * row_scale + b

``D`` (k x in) projects down, ``C`` (k x k, optional) is a core, ``U`` (out x k) projects up,
``s`` is a float and ``row_scale`` (out, optional) is DoRA's magnitude / norm. LoRA is
D = A, U = B; SSVD is D = V_k^T, C = the rotated singular values, U = U_k.

Written with autograd's default ops, the same computation is six to ten nodes, each with
an output allocation: the scaling and the sum of the two branches are separate
element-wise passes over ``N x out``, the input gradient is the sum of two separately
allocated ``N x in`` tensors, and DoRA keeps its ``N x out`` pre-scale activation alive
for the backward pass. Here the low-rank product is added into the base output in place
(``addmm_``), the input gradient is accumulated in place, ``g U`` is computed once, and
DoRA saves its *output* (which the next layer usually saves anyway: attention keeps q/k/v,
activations keep their input) and recovers the pre-scale activation from it in the
backward pass. Gradients equal the unfused ones to float rounding (tests/unit/test_fused.py).

SSVD/SSVD-O (frozen projections, trainable k x k core) on long inputs instead rebuild
``W + U D V^T`` once per forward pass, keep it for the input gradient (``out x in`` per
layer until the backward pass) and run the layer through it: the per-position cost beyond
the frozen layer drops from ``k (2 in + 2 out + 3 k)`` to ``k (in + out + k)`` multiply-adds,
for ``out k (k + in)`` per call (``rebuild_is_cheaper`` decides per call from the shapes
and the number of positions).

Without gradients (inference, decoding) every method's layer runs through the rebuilt
weight ``W + s U C D`` when that is cheaper: the frozen layer's forward plus one rebuild
(``out k in``, + ``out k k`` with a core) instead of ``k (in + out)`` (+ ``k k``) per
position -- on an encoder's hundreds of frames, a fraction of the low-rank path's cost. The
adapter is not merged: nothing is kept between calls and the layer's weight is untouched.

Used only where it applies: the frozen weight and bias do not require gradients, the
input has the weight's dtype and autocast is off; otherwise the layers take their plain
autograd path (also when ``ESPNET_PEFT_FUSED=0`` is set, or ``ENABLED`` is False).
"""

from __future__ import annotations

import os
from typing import Optional

import torch
import torch.nn.functional as F

ENABLED = os.environ.get("ESPNET_PEFT_FUSED", "1") != "0"


def can_fuse(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor]) -> bool:
    return (ENABLED and not weight.requires_grad and (bias is None or not bias.requires_grad)
            and x.dtype == weight.dtype and not torch.is_autocast_enabled(x.device.type))


def _linear_output(x, x2, weight):
    """``x W^T`` (no bias) in a fresh tensor of x's leading shape, and its 2-D view. The
    output must not be a view itself: autograd forbids in-place edits of a view made in a
    custom Function, and callers may edit a Linear's output in place."""
    out = x.new_empty(*x.shape[:-1], weight.shape[0])
    out2 = out.view(-1, weight.shape[0])
    torch.mm(x2, weight.t(), out=out2)
    return out, out2


class _LowRankLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, down, up, core, scale: float, row_scale):
        x2 = x.reshape(-1, x.shape[-1])
        h = x2 @ down.t()
        z = h @ core.t() if core is not None else h
        out, out2 = _linear_output(x, x2, weight)
        out2.addmm_(z, up.t(), alpha=scale)
        recover = False
        if row_scale is not None:
            pre = out2
            out = out * row_scale
            # Keep the output rather than the pre-scale activation when it can be undone.
            recover = bool((row_scale != 0).all())
        if bias is not None:
            out.add_(bias)
        ctx.scale, ctx.recover = scale, recover
        ctx.x_shape = x.shape
        saved_pre = out if recover else (pre if row_scale is not None else None)
        ctx.save_for_backward(x2 if down.requires_grad else None, h, z if core is not None else None,
                              weight, bias, down, up, core, row_scale, saved_pre)
        return out

    @staticmethod
    def backward(ctx, g):
        x2, h, z, weight, bias, down, up, core, row_scale, saved = ctx.saved_tensors
        s = ctx.scale
        g2 = g.reshape(-1, g.shape[-1])
        d_row = None
        if row_scale is not None:
            if ctx.recover:
                pre = saved.reshape(-1, saved.shape[-1])
                pre = (pre - bias if bias is not None else pre) / row_scale
            else:
                pre = saved
            if ctx.needs_input_grad[7]:
                d_row = (g2 * pre).sum(0)
            g2 = g2 * row_scale
        z = h if core is None else z
        gu = g2 @ up                      # N x k, shared by every gradient below
        d_up = (g2.t() @ z).mul_(s) if ctx.needs_input_grad[4] else None
        dz = gu.mul_(s)
        d_core = dz.t() @ h if core is not None and ctx.needs_input_grad[5] else None
        dh = dz @ core if core is not None else dz
        d_down = dh.t() @ x2 if ctx.needs_input_grad[3] else None
        dx = None
        if ctx.needs_input_grad[0]:
            dx = g2 @ weight
            dx.addmm_(dh, down)
            dx = dx.view(ctx.x_shape)
        return dx, None, None, d_down, d_up, d_core, None, d_row


class _RebuiltCoreLinear(torch.autograd.Function):
    """``x (W + U D V^T)^T + b`` with frozen U (out x k), V^T (k x in) and a trainable core D,
    through the rebuilt weight: the forward pass and the input gradient cost what the
    frozen layer costs, plus ``x V`` (for D's gradient) and ``g U`` per position and one
    rebuild (out k (k + in)). The rebuilt weight is kept for the input gradient when
    ``KEEP_REBUILT`` (out x in per layer until the backward pass), else rebuilt there.
    Cheaper than the low-rank path for long inputs (``rebuild_is_cheaper``)."""

    @staticmethod
    def forward(ctx, x, weight, bias, down, up, core):
        x2 = x.reshape(-1, x.shape[-1])
        rebuilt = torch.addmm(weight, up @ core, down)
        out, _ = _linear_output(x, x2, rebuilt)
        if bias is not None:
            out.add_(bias)
        h = x2 @ down.t() if ctx.needs_input_grad[5] else None
        ctx.x_shape = x.shape
        keep = KEEP_REBUILT and ctx.needs_input_grad[0]
        ctx.save_for_backward(h, rebuilt if keep else None, weight, down, up, core)
        return out

    @staticmethod
    def backward(ctx, g):
        h, rebuilt, weight, down, up, core = ctx.saved_tensors
        g2 = g.reshape(-1, g.shape[-1])
        d_core = (g2 @ up).t() @ h if ctx.needs_input_grad[5] else None
        dx = None
        if ctx.needs_input_grad[0]:
            if rebuilt is None:
                rebuilt = torch.addmm(weight, up @ core, down)
            dx = (g2 @ rebuilt).view(ctx.x_shape)
        return dx, None, None, None, None, d_core


KEEP_REBUILT = True


def _rebuilt_no_grad(x, weight, bias, down, up, core, scale: float, row_scale):
    """Inference through ``W + scale * up core down`` (not stored, weight untouched)."""
    if core is not None:
        up = up @ core
    out = F.linear(x, torch.addmm(weight, up, down, alpha=scale))
    if row_scale is not None:
        out.mul_(row_scale)
    if bias is not None:
        out.add_(bias)
    return out


# The rebuilt path must save this many times the multiply-adds it spends on rebuilding:
# on the benchmark's CPU, a saving of 1.35x was break-even, 1.7x gained 5 %, 2.6x 14 %
# (one layer, forward + backward, 1 thread).
REBUILD_MARGIN = 1.5


def rebuild_is_cheaper(n: int, in_features: int, out_features: int, k: int, training: bool = True,
                       core: bool = True) -> bool:
    """Whether a layer over ``n`` positions is cheaper through the rebuilt weight.
    Multiply-adds beyond the frozen layer's, low-rank path against rebuilt: training
    (frozen projections, trainable core; the weight rebuilt once and kept for the input
    gradient) ``n k (2 in + 2 out + 3 k)`` against ``n k (in + out + k) + out k (k + in)``;
    without gradients ``n k (in + out + c)`` against ``out k (in + c)``, c = k with a
    core, 0 without."""
    c = k if core else 0
    rebuild = out_features * k * (in_features + c)
    if not training:
        return n * k * (in_features + out_features + c) > REBUILD_MARGIN * rebuild
    return n * k * (in_features + out_features + 2 * k) > REBUILD_MARGIN * rebuild


def lowrank_linear(x, weight, bias, down, up, core=None, scale: float = 1.0, row_scale=None):
    """``[x W^T + scale (x down^T) core^T up^T] * row_scale + bias`` as one autograd node
    (see the module docstring); callers check ``can_fuse`` first. Through the rebuilt
    weight where that is cheaper: without gradients for every method, in training for a
    trainable core between frozen projections (SSVD/SSVD-O)."""
    n, in_features, out_features, k = x.numel() // x.shape[-1], x.shape[-1], weight.shape[0], down.shape[0]
    if not torch.is_grad_enabled():
        if rebuild_is_cheaper(n, in_features, out_features, k, training=False, core=core is not None):
            return _rebuilt_no_grad(x, weight, bias, down, up, core, float(scale), row_scale)
    elif (core is not None and row_scale is None and scale == 1.0 and not down.requires_grad
            and not up.requires_grad and rebuild_is_cheaper(n, in_features, out_features, k)):
        return _RebuiltCoreLinear.apply(x, weight, bias, down, up, core)
    return _LowRankLinear.apply(x, weight, bias, down, up, core, float(scale), row_scale)
