"""Pure decisions of the operator: no I/O, no clock but the one passed in; plain dicts and
pydantic models in, plain objects out.

decide      the state machine: given the RV, its Deployment, its Jobs and what else was observed
            (ReplicaSets, probe reports, the last rollback's refusal), the plan: one status, the
            Jobs to create or delete, the Events, the rollback patch or its refusal, when to look again
rollout     is this a new revision, is its rollout complete or stalled; revision numbers
rollback    the `kubectl rollout undo --to-revision` patch, or why kubectl would refuse it
outcome     the report of finished probe Jobs (termination message, else the Job's outcome)
trust       which pod's report counts for a Job
conditions  metav1.Condition helpers (lastTransitionTime kept while the status is unchanged)
events      the Events a verdict posts, and their names
record      the VerificationRun of a run; history its summary
policy      the cluster admin's policy
approve     a recommended rollback someone approved
baseline    a release's samples against the last verified revision's
jobs        the probe Jobs of a run (pure builders); podsecurity: their pods under `restricted`
pods        why a rollout's pods do not become ready
html_report the run's HTML report

What the probe writes and how its verdict is reached are contract.py's; nothing here imports
`releaseguard.probe.checks` (tests/api/test_check_registry.py checks that in a fresh interpreter).
"""
