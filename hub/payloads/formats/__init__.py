"""Message formats, one module each; ``hub.payloads.step.FORMATS`` names them.

A format module has one function::

    def decode(payload: bytes, origin: Origin, context: DecodeContext) -> Item

that returns the decoded message or raises :class:`~hub.errors.PayloadError`
(reason, detail, device id when known). It does no I/O: what it looks up is in
the context. The step around it applies the size limit and turns a refusal into
a dead letter.
"""
