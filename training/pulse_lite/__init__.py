"""PULSE-lite: a CPU-sized re-implementation of the PULSE recipe (arXiv 2512.03848) trained on ACDC."""
