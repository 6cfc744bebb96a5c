"""Data layer: image I/O, MATLAB-compatible imresize, datasets (manifests, downloads, local folders)."""
