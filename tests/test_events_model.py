"""The event model: catalog, statuses, required fields and the total rule."""

from __future__ import annotations

import re
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from ecomctl.events.model import (
    ORDER_STATUSES,
    PAYMENT_METHODS,
    PRODUCTS,
    PRODUCTS_BY_ID,
    REQUIRED_FIELDS,
    REVENUE_STATUSES,
    SCHEMA_VERSION,
    Product,
    order_total,
)

TABLES_MD = Path(__file__).parents[1] / "docs" / "tables.md"


def test_catalog_has_ten_products_and_p001_is_the_dell_laptop():
    assert [p.product_id for p in PRODUCTS] == [f"P{n:03d}" for n in range(1, 11)]
    assert PRODUCTS_BY_ID["P001"] == Product("P001", "Laptop", "Dell", "Electronics", Decimal("1200.00"))


def test_catalog_is_spread_over_brands_and_categories():
    brands = Counter(p.brand for p in PRODUCTS)
    assert len(brands) >= 6
    assert sum(1 for n in brands.values() if n == 2) >= 2  # brand rollups need multi-product brands
    assert len({p.category for p in PRODUCTS}) >= 3
    assert len({p.product_name for p in PRODUCTS}) == 10


def test_prices_are_positive_two_decimal_amounts():
    for product in PRODUCTS:
        assert isinstance(product.base_price, Decimal)
        assert product.base_price > 0
        assert product.base_price.as_tuple().exponent == -2


def test_statuses():
    assert SCHEMA_VERSION == 1
    assert ORDER_STATUSES == ("placed", "shipped", "delivered", "cancelled", "returned")
    assert REVENUE_STATUSES == ("placed", "shipped", "delivered")
    assert len(PAYMENT_METHODS) == len(set(PAYMENT_METHODS)) >= 3


def test_required_fields_are_those_of_docs_tables_md_in_order():
    text = TABLES_MD.read_text(encoding="utf-8")
    paragraph = re.search(r"Required fields in order:(.*?)\.\n", text, re.S).group(1)
    documented = tuple(name.strip() for name in paragraph.replace("\n", " ").split(","))
    assert REQUIRED_FIELDS == documented


@pytest.mark.parametrize(("quantity", "unit_price", "discount_pct", "expected"), [
    (1, "1200.00", "0", "1200.00"),
    (2, "19.99", "15", "33.98"),      # 33.983
    (3, "33.33", "10", "89.99"),      # 89.991
    (1, "0.05", "50", "0.03"),        # 0.025: HALF_UP, not banker's rounding
    (1, "10.01", "25", "7.51"),       # 7.5075
    (5, "999.00", "30", "3496.50"),
    (4, "79.99", "100", "0.00"),
])
def test_order_total_rounds_half_up_to_cents(quantity, unit_price, discount_pct, expected):
    total = order_total(quantity, Decimal(unit_price), Decimal(discount_pct))
    assert total == Decimal(expected)
    assert total.as_tuple().exponent == -2
