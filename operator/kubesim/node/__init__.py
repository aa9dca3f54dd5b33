"""kubesim's process node: kubelet, Service network and images. It talks to an API server only
through `kubesim.cluster.ClusterAPI` and imports nothing from `kubesim.apiserver`."""
