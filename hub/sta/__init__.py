"""OGC SensorThings API 1.1 (read side) over the hub's store: docs/sensorthings.md."""
