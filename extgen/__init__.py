"""extgen: Kustomize bases and overlays for external dependencies, from one catalog."""

__version__ = "0.1.0"
