"""The values of a prometheus query's template variables (api.spec.TEMPLATE_VARIABLES): the
revision verified and the last verified one, each with its ReplicaSet's pod-template hash.

Pure; decide reads the ReplicaSets (Observed.replicasets) only for an rv that needs these.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..api import Check
from .record import revision_replicaset, template_hash_of

Obj = dict[str, Any]


def needs_revisions(checks: Sequence[Check]) -> bool:
    """Whether a check's queries name a revision (or compare with the last verified one)."""
    return any(c.prometheus is not None and c.prometheus.templated for c in checks)


def revision_values(
    deployment: Obj, replicasets: Sequence[Obj], revision: int, last_good: int | None
) -> dict[str, str]:
    """Variable name -> value, leaving out what is unknown: no baseline before a first verified
    revision, nor when the last verified revision is this one (a re-run of it); no hash for a
    revision whose ReplicaSet is gone."""
    values = {"Revision": str(revision)}
    current = template_hash_of(revision_replicaset(deployment, replicasets, revision))
    if current:
        values["PodTemplateHash"] = current
    if last_good is not None and last_good != revision:
        values["BaselineRevision"] = str(last_good)
        then = template_hash_of(revision_replicaset(deployment, replicasets, last_good))
        if then:
            values["BaselinePodTemplateHash"] = then
    return values
