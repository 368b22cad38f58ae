"""The hub as a set of processes: roles, the one alert engine, readings between processes."""
