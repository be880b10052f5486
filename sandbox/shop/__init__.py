"""A demo webshop beside the sandbox's Exact Online: a small REST API to integrate with Exact.

Customers, products (SKU, price, stock) and orders with lines under ``/shop/api/v1/``, API-key auth,
cursor and ``Link: rel="next"`` paging, ``updated_after`` incremental reads, a per-key rate limit (429 with
``Retry-After``), fault injection, signed ``order.created``/``order.updated`` webhooks, a seeded catalogue
and a page at ``/shop/``. Like the Exact emulator it shares no code with the product's connectors.
"""
