"""The reconciliation: does bronze add up? Every landed event is a valid order, a rejected event
or a duplicate, in total and in each partition. Its queries are sql/checks/*.sql; this module
does the arithmetic and names what does not add up."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ecomctl.errors import EcomctlError, ReconciliationError

if TYPE_CHECKING:  # pragma: no cover
    from ecomctl.warehouse.base import Names, Warehouse

TOTALS_FILE = "checks/01_reconciliation_totals.sql"
PARTITIONS_FILE = "checks/02_reconciliation_partitions.sql"
DISTINCT_ORDERS_FILE = "checks/03_distinct_orders.sql"
BRONZE_TABLES = {"received_events", "rejected_events", "orders", "merge_batch"}


class Reconciler:
    def __init__(self, warehouse: "Warehouse", names: "Names") -> None:
        self.warehouse = warehouse
        self.names = names

    def after_ingest(self, details: dict[str, Any], sent: int | None = None) -> dict[str, Any] | None:
        """After an ingest step (its details): its flow (received, landed, expired) and bronze's
        all-time balance."""
        return self.reconcile(sent=sent, received=details["received"], landed=details["landed"],
                              expired=details["expired"], recovered=details["recovered_from_earlier_run"])

    def of_bronze(self, has_state: bool) -> dict[str, Any] | None:
        """The all-time balance of bronze with the audit of every order (for `status`), or None
        before bronze was first built. One listing of the bronze schema, not a count of each table."""
        if not has_state:
            return None
        present = {name.lower() for name in self.warehouse.tables(self.names.bronze)}
        if not BRONZE_TABLES <= present:
            return None
        return self.reconcile(audit=True)

    def reconcile(self, *, sent: int | None = None, received: int | None = None,
                  landed: int | None = None, expired: int | None = None,
                  recovered: int = 0, audit: bool = False) -> dict[str, Any]:
        """This run's flow (sent, received, landed; None where the command has none) and the
        all-time balance of bronze, in total and per partition.

        Balanced means the parts add up: every landed event is a valid order, a rejected event or
        a duplicate (a transport redelivery or a producer resend), in every partition and in
        total; bronze.orders holds the orders of this run's merge batch (with `audit`: exactly one
        row per order every valid event names, a distinct count over the history); and this run
        landed exactly what it received (plus any files an interrupted run had left unloaded).
        """
        from ecomctl.warehouse.sqlfiles import load_step

        files = {f.name: f for f in load_step("checks")}
        needed = (TOTALS_FILE, PARTITIONS_FILE) + ((DISTINCT_ORDERS_FILE,) if audit else ())
        missing = [name for name in needed if name not in files]
        if missing:
            raise EcomctlError(f"sql/{missing[0]} is missing: the reconciliation needs it")
        (totals,) = self.warehouse.query(files[TOTALS_FILE].text, file=TOTALS_FILE).rows
        partition_rows = self.warehouse.query(files[PARTITIONS_FILE].text, file=PARTITIONS_FILE).rows
        distinct_orders = None
        if audit:
            ((distinct_orders,),) = self.warehouse.query(files[DISTINCT_ORDERS_FILE].text,
                                                         file=DISTINCT_ORDERS_FILE).rows
        return balance(self.names, tuple(totals), partition_rows, distinct_orders=distinct_orders,
                       sent=sent, received=received, landed=landed, expired=expired,
                       recovered=recovered)


class PlannedReconciler:
    """A plan has landed nothing: there is nothing to reconcile."""

    def after_ingest(self, details: dict[str, Any], sent: int | None = None) -> None:
        return None

    def of_bronze(self, has_state: bool) -> None:
        return None


def balance(names: "Names", totals: tuple, partition_rows: list[tuple], *,
            distinct_orders: int | None, sent: int | None, received: int | None,
            landed: int | None, expired: int | None, recovered: int) -> dict[str, Any]:
    total_landed, distinct, valid_events, unmerged_orders, rejected, valid_orders = totals
    orders_table = f"{names.catalog}.{names.bronze}.orders"
    transport_duplicates = total_landed - distinct
    producer_duplicates = valid_events - valid_orders
    partitions, problems = [], []
    for source, pid, p_landed, p_received, p_valid, p_orders, p_rejected in partition_rows:
        duplicates = (p_landed - p_received) + (p_valid - p_orders)
        ok = p_received == p_valid + p_rejected and p_landed >= p_received and p_valid >= p_orders
        partitions.append({"source": source, "partition_id": pid, "received": p_landed,
                           "valid_orders": p_orders, "rejected": p_rejected,
                           "duplicates": duplicates, "balanced": ok})
        if not ok:
            problems.append(
                f"partition {pid} of {source}: received {p_landed:,} but valid orders "
                f"{p_orders:,} + rejected {p_rejected:,} + duplicates {duplicates:,} = "
                f"{p_orders + p_rejected + duplicates:,}")
    if unmerged_orders:
        problems.append(f"{unmerged_orders:,} order{'s' * (unmerged_orders != 1)} of this run's "
                        f"valid events {'are' if unmerged_orders != 1 else 'is'} missing from "
                        f"{orders_table}")
    if distinct_orders is not None and distinct_orders != valid_orders:
        problems.append(f"the valid events name {distinct_orders:,} orders but {orders_table} "
                        f"has {valid_orders:,}")
    elif sum(p["valid_orders"] for p in partitions) != valid_orders:
        problems.append(f"the partitions hold {sum(p['valid_orders'] for p in partitions):,} "
                        f"orders but {orders_table} has {valid_orders:,}")
    if distinct != valid_events + rejected or transport_duplicates < 0 or producer_duplicates < 0:
        problems.append(f"received {total_landed:,} but valid orders {valid_orders:,} + rejected "
                        f"{rejected:,} + duplicates {transport_duplicates + producer_duplicates:,}"
                        f" = {valid_orders + rejected + transport_duplicates + producer_duplicates:,}")
    if received is not None and landed is not None and received != landed - recovered:
        problems.append(f"this run received {received:,} events but landed {landed - recovered:,}")
    return {
        "sent": sent, "received": received, "landed": landed, "expired": expired,
        "recovered": recovered,
        "total_landed": total_landed, "valid_orders": valid_orders, "rejected": rejected,
        "duplicates_removed": transport_duplicates + producer_duplicates,
        "transport_duplicates": transport_duplicates,
        "producer_duplicates": producer_duplicates,
        "partitions": partitions,
        "balanced": not problems,
        "problems": problems,
    }


def check(reconciliation: dict[str, Any] | None) -> None:
    """A reconciliation that does not add up is an error: something was lost or counted twice."""
    if reconciliation is not None and not reconciliation["balanced"]:
        raise ReconciliationError(
            "reconciliation failed: " + "; ".join(reconciliation["problems"]), reconciliation,
            hint="bronze no longer adds up; run `ecomctl ingest --full-refresh` to rebuild it, "
                 "and report a bug if it persists")
