"""Step 1, the inputs: images (load, convert, hash), datasets (manifests, download, verify),
masks and Cityscapes labels, and the dataset registry.

Imports ``gcbench.core`` only.
"""
