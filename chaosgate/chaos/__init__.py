"""Chaos glue: our Chaos Toolkit provider for the local stack, the experiment files' chaosgate
extension, and the run timeline.

- ``local_actions`` / ``local_probes``: plain functions Chaos Toolkit calls as ``type: python``
  activities against the local stack (supervisord, the services' admin fault endpoint,
  stress-ng);
- ``k8s_actions`` / ``k8s_probes``: activities for a cluster that chaosk8s has no equivalent of
  (detach a Service from its pods keeping its ClusterIP, bounded stress Jobs, pods gone);
  ``k8s_env`` points chaosk8s at the target's cluster; ``k8s_namespaces`` is the namespace
  allowlist checked before a run; ``k8s_specs`` / ``k8s_api`` their helpers;
- ``experiments``: load, validate (chaoslib + our extension) and run an experiment with the
  rollbacks always played;
- ``timeline``: a chaoslib run event handler that stamps inject and rollback times.
"""
