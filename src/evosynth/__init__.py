"""evosynth: evolutionary synthesis of small, fast deep neural networks."""

__version__ = "0.1.0"
