"""Pure decisions of the operator: no I/O, plain dicts and pydantic models in, plain objects out.

rollout     is this a new revision, is its rollout complete or stalled
conditions  metav1.Condition helpers (lastTransitionTime kept while the status is unchanged)
rollback    the `kubectl rollout undo --to-revision` patch
outcome     the report of finished probe Jobs (termination message, else the Job's outcome)
decide      the state machine: given the RV, its Deployment and its Jobs, what to do next

What the probe writes and how its verdict is reached are contract.py's; nothing here imports
`releaseguard.probe.checks` (tests/unit/test_check_registry.py checks that in a fresh interpreter).
"""
