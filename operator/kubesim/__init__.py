"""kubesim: an in-memory Kubernetes API server with controllers, for tests and the demo.

Public surface: `kubesim.testing.KubeSim` (a server in a background thread), `kubesim.server.Server`
(the async assembly), `python -m kubesim serve`, and `kubesim.cluster.ClusterAPI` for in-process
controllers.
"""
