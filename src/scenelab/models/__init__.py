"""Models. Every model takes [0, 1] pixels and starts with its own Normalize layer."""

from scenelab.models.simplenet import SimpleNet

__all__ = ["SimpleNet"]
