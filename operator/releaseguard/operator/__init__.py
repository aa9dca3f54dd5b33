"""The operator: the program that watches.

settings (one tree, from flags and environment) -> runtime (built once, handed to kopf in its
memo) -> handlers (every kopf hook: indexes fill the cache, events queue keys) -> reconciler
(the cache, the work queue, and carrying out core.decide's plans) -> kube (the one API adapter,
behind the kubeapi protocol); metrics, observe (what the reconciler reads besides the watches)
and recorder (the VerificationRuns) beside them.
"""
