"""Privacy: data classes of profiles and devices, the read policy every surface
obeys, aggregates of personal data, and the log of who read personal data.

See docs/privacy.md."""
