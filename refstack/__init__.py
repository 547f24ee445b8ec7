"""The local reference environment: what ``chaosgate stack up`` runs on this machine so the
suite has a real platform to verify. It is not the suite (``chaosgate``, ``scenarios``,
``assertions``, ``experiments``); a team verifying its own platform does not need it.

- :mod:`refstack.launcher`: builds and starts the parts (Jaeger, OpenSearch, rsyslog,
  Prometheus, Alertmanager, node-exporter, the restaurant services; with ``--k8s`` etcd, the
  Kubernetes control plane, the node agent and the service proxy) under one supervisord;
- :mod:`refstack.node`: the node agent, a small kubelet whose pods are local processes;
- :mod:`refstack.proxy`: the service proxy, a small kube-proxy on loopback addresses;
- :mod:`refstack.node_config`, :mod:`refstack.service_env`: the node's configuration and the
  Kubernetes service variables its containers see.

Beside the code, the launcher's inputs: ``jaeger/``, ``opensearch/``, ``prometheus/`` (the
alert rules), ``prometheus-build/``, ``control-plane/`` (the pinned Kubernetes builds) and
``services/`` (the restaurant services, package ``restaurant``); ``CONTRACT.md`` is what the
services, the rules and the launcher agree on. The running state is ``.stack/`` in the
checkout (``CHAOSGATE_STACK_DIR``).
"""
