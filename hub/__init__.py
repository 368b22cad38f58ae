"""Open IoT sensor hub: MQTT in, PostgreSQL/TimescaleDB time series, alerts, open API."""

__version__ = "0.1.0"
