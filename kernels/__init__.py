"""Memory-efficient training kernels, installed as ``prover.kernels``."""
