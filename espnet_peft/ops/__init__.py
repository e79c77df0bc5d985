"""Numerics that know no method: the fused low-rank autograd node, SVDs of pretrained
weights (with a disk cache), k x k rotations."""
