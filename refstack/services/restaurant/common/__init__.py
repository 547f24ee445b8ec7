"""What every restaurant service shares: settings, telemetry, logs, metrics, faults, database."""
