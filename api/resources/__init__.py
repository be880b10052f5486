"""The REST API's operations, one module per resource; ``api.v1`` mounts each module's ``router``.

``crud`` builds the five operations every configuration has (list, read, create, update, delete) from a
``Resource``; ``clients``, ``incomings``, ``outgoings``, ``transformers``, ``routes``, ``variables`` and ``webhooks``
declare theirs (and add their own operations); ``account``, ``runs``, ``tasks`` and ``export_import`` are operations
only.
"""
