"""ReleaseGuard's exceptions.

ReleaseGuardError
├── SpecInvalidError        a spec or check file does not validate; carries FieldErrors
├── ReportError             a probe report could not be read
└── KubeError               the Kubernetes API refused or failed (mapped in kube.py)
    ├── NotFoundError
    ├── ConflictError
    └── TransientKubeError  worth retrying: 429, 5xx, connection trouble
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    """One problem at one field path, e.g. `spec.checks[2].http.url`."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ReleaseGuardError(Exception):
    """Base of every error ReleaseGuard raises on purpose."""


class SpecInvalidError(ReleaseGuardError):
    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("; ".join(str(e) for e in errors))

    @property
    def paths(self) -> list[str]:
        return [e.path for e in self.errors]


class ReportError(ReleaseGuardError):
    pass


class KubeError(ReleaseGuardError):
    def __init__(self, message: str, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class NotFoundError(KubeError):
    pass


class ConflictError(KubeError):
    pass


class TransientKubeError(KubeError):
    def __init__(self, message: str, status: int | None = None, retry_after: float = 0.0) -> None:
        super().__init__(message, status)
        self.retry_after = retry_after  # seconds the server asked to wait (Retry-After); 0 if it did not say
