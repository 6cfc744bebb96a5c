"""``python -m srbench.training MODEL [options]`` (also ``torchrun ... -m srbench.training``)."""

from srbench.training.cli import main

if __name__ == "__main__":
    main()
