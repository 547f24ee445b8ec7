"""The IoT service (port 8083): kitchen devices' telemetry and heartbeats."""
