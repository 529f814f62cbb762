"""Order event schema version 1 (docs/design.md, "The event"): the product catalog, statuses and
the total rule."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

SCHEMA_VERSION = 1
EVENT_TYPE = "order_created"

ORDER_STATUSES = ("placed", "shipped", "delivered", "cancelled", "returned")
# Cancelled and returned orders are not revenue (docs/design.md, "Tables and metrics").
REVENUE_STATUSES = ("placed", "shipped", "delivered")

PAYMENT_METHODS = ("credit_card", "debit_card", "paypal", "apple_pay", "google_pay", "bank_transfer")

# In the order of docs/tables.md: validation reports the first failing field in this order.
REQUIRED_FIELDS = (
    "schema_version", "event_id", "event_type", "event_time",
    "order_id", "customer_id", "customer_name", "customer_email",
    "city", "state", "country", "order_ts",
    "product_id", "product_name", "brand", "category", "base_price",
    "unit_price", "quantity", "discount_pct", "total_amount",
    "payment_method", "order_status",
)

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Product:
    product_id: str
    product_name: str
    brand: str
    category: str
    base_price: Decimal


PRODUCTS = (
    Product("P001", "Laptop", "Dell", "Electronics", Decimal("1200.00")),
    Product("P002", "Smartphone", "Apple", "Electronics", Decimal("999.00")),
    Product("P003", "Wireless Earbuds", "Apple", "Electronics", Decimal("249.00")),
    Product("P004", "4K Smart TV", "Samsung", "Electronics", Decimal("799.99")),
    Product("P005", "Noise-Cancelling Headphones", "Sony", "Electronics", Decimal("349.99")),
    Product("P006", "Running Shoes", "Nike", "Footwear", Decimal("129.99")),
    Product("P007", "Training Jacket", "Nike", "Apparel", Decimal("89.99")),
    Product("P008", "Sneakers", "Adidas", "Footwear", Decimal("99.99")),
    Product("P009", "Office Chair", "IKEA", "Furniture", Decimal("199.00")),
    Product("P010", "Bookshelf", "IKEA", "Furniture", Decimal("79.99")),
)

PRODUCTS_BY_ID = {product.product_id: product for product in PRODUCTS}


def order_total(quantity: int, unit_price: Decimal, discount_pct: Decimal) -> Decimal:
    """round(quantity x unit_price x (1 - discount_pct/100), 2), HALF_UP, computed exactly.

    Written as (100 - discount_pct) / 100 like the SQL check so both sides round the same value.
    """
    exact = Decimal(quantity) * Decimal(unit_price) * (Decimal(100) - Decimal(discount_pct)) / Decimal(100)
    return exact.quantize(CENT, rounding=ROUND_HALF_UP)
