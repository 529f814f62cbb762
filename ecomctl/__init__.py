"""ecomctl: an e-commerce order-event pipeline, from event hub to dashboards."""

__version__ = "0.1.0"
