"""The ``hub`` command and its subcommands (``cli`` parses, the others run):

    cli        hub migrate | run | dev | apikey | devices | dead-letters
    service    hub run: ingest, alert engine and API in one process
    dev        hub dev: a private stack and a simulated town (the only user of simulators/)
    apikeys    hub apikey create | list | revoke
    provision  hub devices provision

Domain logic lives outside: API keys and roles in ``hub.access``, provisioning
in ``hub.provisioning``, the database in ``hub.store``.
"""
