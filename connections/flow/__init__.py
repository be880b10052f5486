"""The flow of one entity through a route, one module per step (docs/architecture.md draws it):

1. ``read``: the Incoming's subscriber streams pages; each entity becomes a Task (``execute_incoming_run``).
2. ``transform``: the route's transformer chain runs per entity while reading (``route_chain``), and the
   Outgoing's own transformer just before publishing (``run_outgoing_transformer``).
3. ``publish``: workers claim tasks and hand them to the Outgoing's publisher (``publish_batch``).

``routing`` runs the three for a Route (start, read, queue, close, repair); ``queue`` sends work to the
workers after commit. The Celery wrappers are in ``connections.tasks``; the state machines of runs and
tasks are methods of their models (``connections.models.runs`` and ``.routes``).
"""
