"""Kubernetes on the local machine: the node agent, the service proxy and their config."""
