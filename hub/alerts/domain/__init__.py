"""The municipality's domain rules (``kind: domain``), one module per device type.

Each function is pure: readings and positions in, a Verdict out. Sources and
parameters of every rule are documented in ``docs/alerts.md``.
"""
