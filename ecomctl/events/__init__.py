"""The event side: the order-event schema, the generator, and the transports that carry events.

Submodules import lazily what they need (Faker only inside the generator's pool builder),
so importing this package costs nothing.
"""
