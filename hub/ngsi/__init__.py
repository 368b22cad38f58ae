"""NGSI-LD (ETSI GS CIM 009) with Smart Data Models: the hub's entities, the read
and temporal API under /ngsi-ld/v1, subscriptions, and the push to a context broker."""
