"""The geometry of the SRResNet family (the SRGAN paper's generator, the Keras seed generator and their
Keras/PyTorch twins): which scales, which upsampling stages, how far one output pixel reaches.

Plain arithmetic, no torch: shared by the torch networks (:mod:`srbench.models.archs.srresnet`,
:mod:`srbench.models.archs.seed`), the Keras builders and the weight converter.
"""

from __future__ import annotations

import math

SUPPORTED_SCALES = (2, 3, 4, 8)  # SRResNet: x3 is one x3 stage, the others x2 stages
SEED_SCALES = (2, 4, 8)  # the Keras seed code stacks x2 stages only
N_BLOCKS = 16  # residual blocks of the paper's generator


def upsample_factors(scale: int) -> tuple[int, ...]:
    """The upsampling stages' factors: (2,) for x2, (3,) for x3, (2, 2) for x4, (2, 2, 2) for x8."""
    factors = {2: (2,), 3: (3,), 4: (2, 2), 8: (2, 2, 2)}
    if isinstance(scale, bool) or scale not in factors:
        raise ValueError(f"SRResNet supports scales {SUPPORTED_SCALES}, got {scale!r}")
    return factors[scale]


def upsample_stages(scale: int) -> int:
    """Number of x2 upsampling blocks of the seed generator (1, 2, 3 for x2, x4, x8)."""
    if isinstance(scale, bool) or scale not in SEED_SCALES:
        raise ValueError(
            f"the seed generator supports scales {SEED_SCALES} (x2 upsampling blocks), got {scale!r}")
    return len(upsample_factors(scale))


def receptive_radius(scale: int, n_blocks: int = N_BLOCKS) -> int:
    """Reach of one output pixel into the LR input, in LR pixels (rounded up): the tile overlap that makes
    tiled inference equal to untiled (BN in eval mode or folded).

    Head 9x9 (4), two 3x3 convolutions per residual block (2 each), the post-residual 3x3 (1), each
    upsampling 3x3 convolution 1 pixel at its own resolution, the 9x9 tail 4 pixels at the output resolution.
    """
    reach = 4.0 + 2 * n_blocks + 1
    res = 1
    for f in upsample_factors(scale):
        reach += 1.0 / res
        res *= f
    return math.ceil(reach + 4.0 / res)
