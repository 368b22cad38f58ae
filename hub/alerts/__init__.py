"""The alert engine: rules, their evaluation, the alert lifecycle and notifiers.

See ``docs/alerts.md`` for the rule kinds, the domain rules and every setting.
"""
