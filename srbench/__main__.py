"""``python -m srbench`` (and ``torchrun --nproc-per-node N -m srbench run ...``)."""

from srbench.cli import main

main()
