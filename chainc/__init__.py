"""chainc: a declarative service-chain compiler for network functions."""

__version__ = "0.1.0"
