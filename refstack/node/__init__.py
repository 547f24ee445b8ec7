"""The node agent: a small kubelet whose pods are local processes, each on its own loopback IP.

Run it as ``python -m refstack.node --config NODE.yaml`` (see
:mod:`refstack.node_config`). It registers the node and keeps it alive (:mod:`.node`),
follows the pods bound to it (:mod:`.podwatch`, :mod:`.manager`) and runs each pod in a
worker (:mod:`.pods`) whose containers are process groups (:mod:`.containers`,
:mod:`.processes`) started as :mod:`.podlaunch` resolves them, with the kubelet's environment
(:mod:`.podenv`, :mod:`refstack.service_env`), probes (:mod:`.probes`), restart back-off
(:mod:`.backoff`) and status (:mod:`.podstatus`), on an IP from the node's pod CIDR
(:mod:`.ipam`), with its volumes in a mount namespace of its own (:mod:`.podvolumes`,
:mod:`.volumes`, :mod:`.mountns`); ``/healthz`` is :mod:`.health`.

The part of the kubelet's HTTPS API that ``kubectl logs`` needs is :mod:`.kubelet_api`:
``/containerLogs/{namespace}/{pod}/{container}`` from the container's log file, for the API
server's client certificate only, with the run chosen as the kubelet chooses it
(:mod:`.podlogs`), read with tailLines, limitBytes or follow (:mod:`.logfiles`,
:mod:`.logquery`).
"""
