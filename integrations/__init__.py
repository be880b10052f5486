"""Integrations shipped with the product: ready routes between the demo webshop and Exact Online.

Not part of the platform and not a connector: it only writes rows (clients, incomings, transformers,
outgoings, routes) that use the connectors' registered kinds, so a consultant can open, run and change them.
"""
