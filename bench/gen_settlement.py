#!/usr/bin/env python3
"""Settlement benchmark data with a known answer.

Writes an Amazon settlement flat file V2 (tab-separated, USD) of about N lines over M ERP
orders, the ERP's orders extract, and expected.json: the count of orders per status, the
settled amount and the difference per status, the totals per component and the deposit. The
answer comes from how each order is built, not from grouping the file again.

    python3 bench/gen_settlement.py LINES ORDERS OUT_DIR [SEED]
"""
import json
import os
import random
import sys

HEADER = ("settlement-id settlement-start-date settlement-end-date deposit-date total-amount "
          "currency transaction-type order-id merchant-order-id adjustment-id shipment-id "
          "marketplace-name amount-type amount-description amount fulfillment-id posted-date "
          "posted-date-time order-item-code merchant-order-item-id merchant-adjustment-item-id "
          "sku quantity-purchased").split()
SID = "90000001"
DATE = "2026-11-25"


def cents(c):
    sign = "-" if c < 0 else ""
    c = abs(c)
    return f"{sign}{c // 100}.{c % 100:02d}"


def main():
    lines, orders, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    rnd = random.Random(int(sys.argv[4]) if len(sys.argv) > 4 else 16)
    os.makedirs(out, exist_ok=True)
    # Scenario shares (per mille) of the ERP's orders; unknown orders come on top.
    scenarios = [("paid", 700), ("short_paid", 80), ("over_paid", 40), ("refunded", 60),
                 ("fees_only", 20), ("currency_mismatch", 20), ("awaiting_settlement", 80)]
    unknown = max(1, orders // 50)
    settled_orders = orders + unknown
    # Orders that settle (all but the ~8% awaiting settlement) get 3 or more lines each, so
    # that the file holds about `lines` lines.
    mean = max(3.0, lines / max(1, int(settled_orders * 0.92)))
    base, frac = int(mean), mean - int(mean)
    status_of = []
    for _ in range(orders):
        r = rnd.randrange(1000)
        acc = 0
        for name, share in scenarios:
            acc += share
            if r < acc:
                status_of.append(name)
                break
    expect = {"statuses": {}, "components": {}, "lines": 0}

    def add(status, settled, diff):
        s = expect["statuses"].setdefault(status, {"count": 0, "settled": 0, "difference": 0})
        s["count"] += 1
        s["settled"] += settled
        s["difference"] += diff

    total = 0
    body = []
    # The current order's settled sum and refunds.
    cur = {"settled": 0, "refunds": 0}

    def line(ttype, order, atype, desc, amount, sku, qty=""):
        nonlocal total
        total += amount
        comp = component(ttype, atype, desc)
        cur["settled"] += amount
        if comp == "refund":
            cur["refunds"] += amount
        expect["components"][comp] = expect["components"].get(comp, 0) + amount
        expect["lines"] += 1
        body.append("\t".join([SID, "", "", "", "", "", ttype, order, order, "", "", "Amazon.com",
                               atype, desc, cents(amount), "AFN", DATE, DATE + "T10:00:00+00:00",
                               "", "", "", sku, qty]))

    erp = ["order_id,expected_amount,currency,tax,shipping"]
    for i in range(settled_orders):
        oid = f"111-{i:07d}-{rnd.randrange(10**7):07d}"
        status = status_of[i] if i < orders else "unknown_order"
        per_order = base + (1 if rnd.random() < frac else 0)
        sku = f"SKU-{rnd.randrange(50000):05d}"
        n_items = max(1, per_order - 2)
        prices = [rnd.randrange(500, 20000) for _ in range(n_items)]
        sales = sum(prices)
        tax = sales * 8 // 100
        expected = sales + tax
        fee = -(sales * 15 // 100)
        fba = -rnd.randrange(100, 600)
        cur["settled"], cur["refunds"] = 0, 0
        if status == "awaiting_settlement":
            erp.append(f"{oid},{cents(expected)},USD,{cents(tax)},0.00")
            add(status, 0, -expected)
            continue
        if status in ("fees_only",):
            line("Order", oid, "ItemFees", "Commission", fee, sku)
            line("Order", oid, "ItemFees", "FBAPerUnitFulfillmentFee", fba, sku)
            for _ in range(per_order - 2):
                line("Order", oid, "ItemFees", "FBAWeightBasedFee", -rnd.randrange(10, 99), sku)
            erp.append(f"{oid},{cents(expected)},USD,{cents(tax)},0.00")
            add(status, cur["settled"], cur["settled"])
            continue
        if status == "refunded":
            refund = -rnd.randrange(100, sales)
            line("Refund", oid, "ItemPrice", "Principal", refund, sku, "1")
            line("Refund", oid, "ItemFees", "Commission", -(refund * 15 // 100), sku)
            for _ in range(per_order - 2):
                line("Refund", oid, "ItemPrice", "Tax", -rnd.randrange(1, 99), sku)
            erp.append(f"{oid},{cents(expected)},USD,{cents(tax)},0.00")
            add(status, cur["settled"], cur["refunds"])
            continue
        delta = {"short_paid": -rnd.randrange(1, 500), "over_paid": rnd.randrange(1, 500)}.get(status, 0)
        for k, p in enumerate(prices):
            line("Order", oid, "ItemPrice", "Principal", p + (delta if k == 0 else 0), sku, "1")
        line("Order", oid, "ItemPrice", "Tax", tax, sku)
        line("Order", oid, "ItemFees", "Commission", fee, sku)
        if len(prices) + 2 < per_order:
            line("Order", oid, "ItemFees", "FBAPerUnitFulfillmentFee", fba, sku)
        settled = cur["settled"]
        currency = "EUR" if status == "currency_mismatch" else "USD"
        if status != "unknown_order":
            erp.append(f"{oid},{cents(expected)},{currency},{cents(tax)},0.00")
        add(status, settled, settled if status == "unknown_order" else sales + delta + tax - expected)
    summary = [SID, "2026-11-11T00:00:00+00:00", DATE + "T00:00:00+00:00",
               "2026-11-27T00:00:00+00:00", cents(total), "USD"] + [""] * (len(HEADER) - 6)
    with open(os.path.join(out, f"settlement_{DATE}.tsv"), "w") as f:
        f.write("\t".join(HEADER) + "\n" + "\t".join(summary) + "\n")
        f.write("\n".join(body) + "\n")
    with open(os.path.join(out, f"erp_orders_amazon_{DATE}.csv"), "w") as f:
        f.write("\n".join(erp) + "\n")
    expect["deposit"] = total
    # Money as exact text.
    for s in expect["statuses"].values():
        s["settled"], s["difference"] = cents(s["settled"]), cents(s["difference"])
    expect["components"] = {k: cents(v) for k, v in sorted(expect["components"].items())}
    expect["deposit"] = cents(total)
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expect, f, indent=1, sort_keys=True)


def component(ttype, atype, desc):
    if ttype == "Refund" and atype == "ItemPrice":
        return "refund"
    return {("ItemPrice", "Principal"): "principal", ("ItemPrice", "Tax"): "tax",
            ("ItemFees", "Commission"): "marketplace_fee"}.get((atype, desc), "fulfilment_fee")


if __name__ == "__main__":
    main()
