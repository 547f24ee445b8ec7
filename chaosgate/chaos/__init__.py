"""Chaos glue: our Chaos Toolkit provider for the local stack, the experiment files' chaosgate
extension, and the run timeline.

- ``local_actions`` / ``local_probes``: plain functions Chaos Toolkit calls as ``type: python``
  activities against the local stack (supervisord, the services' admin fault endpoint,
  stress-ng);
- ``experiments``: load, validate (chaoslib + our extension) and run an experiment with the
  rollbacks always played;
- ``timeline``: a chaoslib run event handler that stamps inject and rollback times.
"""
