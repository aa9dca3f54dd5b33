"""ReleaseGuard: verify every rollout of a Kubernetes Deployment and roll back what breaks."""

__version__ = "0.1.0"

__all__ = ["__version__"]
