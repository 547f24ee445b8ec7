"""The node's service proxy: a small kube-proxy for pods that are loopback processes.

``python -m refstack.proxy --config node.yaml`` watches Services and Pods through the API
server and, for each Service with a selector and a ClusterIP ``a.b.c.d``, listens on
``127.b.c.d:port`` (and on ``node_ip:nodePort`` for NodePort and LoadBalancer Services),
forwarding each TCP connection to a ready pod matching the selector, in turn.

Why hand-written: kube-proxy programs iptables/nftables/IPVS rules for ClusterIPs, which needs
root, a network namespace per pod and traffic to the service range; here pods are plain
processes on loopback addresses and nothing may ever connect to a ClusterIP or leave
127.0.0.0/8. And it cannot read endpoints the usual way: the API server refuses loopback
addresses in Endpoints and EndpointSlices, so the endpoint controllers publish none for these
pods. The proxy therefore follows the pods itself, by each Service's selector and the pods'
Ready condition (:mod:`.endpoints`), and forwards in user space on one asyncio loop
(:mod:`.forward`).

Modules: :mod:`.model` (views of Services/Pods), :mod:`.endpoints` and :mod:`.listeners`
(pure), :mod:`.forward` (data path), :mod:`.watcher` (list+watch threads), :mod:`.proxier`
(state on the loop), :mod:`.health` (``/healthz``), :mod:`.app` (wiring).
"""

from refstack.proxy.endpoints import Endpoint, endpoints_for
from refstack.proxy.forward import RoundRobin, start_forwarder
from refstack.proxy.listeners import ListenerKey, Route, diff_listeners, plan_listeners

__all__ = [
    "Endpoint",
    "ListenerKey",
    "RoundRobin",
    "Route",
    "diff_listeners",
    "endpoints_for",
    "plan_listeners",
    "start_forwarder",
]
