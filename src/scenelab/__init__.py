"""scenelab: train, compare and probe convolutional networks for scene classification."""

__version__ = "0.1.0"
