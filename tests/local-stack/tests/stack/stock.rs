//! Stock on moto and the simulator, through `stock-sync`'s handler as the binary builds it:
//! movements from four workers at once on one SKU (conditional transactions on moto, its
//! DynamoDB writes serialised as DynamoDB's are atomic), the stock queue's order changes and
//! staff movements, the available quantity pushed to the simulator's Listings Items and
//! checked against it.

use crate::common::{TestStack, stack};
use serde_json::{Value, json};
use shared::aws::DynamoStockLedger;
use shared::kernel::{SellerId, Sku};
use shared::lambda::stock_sync::{StockCommand, StockReport, StockSyncHandler};
use shared::stock::StockLedger;
use spapi_sim::{ListingEdit, SimConfig};

const SKU: &str = "SKU-CHAIR1-0";

fn command(v: Value) -> StockCommand {
    serde_json::from_value(v).expect("a stock command")
}

async fn run(h: &StockSyncHandler, v: Value) -> StockReport {
    h.command(command(v)).await.expect("command runs")
}

fn ledger(t: &TestStack) -> DynamoStockLedger {
    DynamoStockLedger::new(t.dynamo(), t.stack.table("stock"))
}

/// Two shelves, a quarantine bay and the dock, in walking order.
async fn with_locations(test: &str, seed: u64) -> (TestStack, StockSyncHandler, SellerId) {
    let t = stack(test, SimConfig::demo(1, 5, seed)).await;
    let h = t.stock_sync();
    let seller = t.seller(0);
    run(
        &h,
        json!({"command": "set_locations", "seller_id": seller, "locations": {"locations": [
            {"id": "A-01", "kind": "sellable"}, {"id": "A-02", "kind": "sellable"},
            {"id": "Q-1", "kind": "quarantine"}, {"id": "DOCK", "kind": "inbound"}]}}),
    )
    .await;
    (t, h, seller)
}

fn movement(seller: &SellerId, id: &str, sku: &str, kind: Value) -> Value {
    let mut m = json!({"movement_id": id, "seller_id": seller, "sku": sku, "actor": "staff:test"});
    m.as_object_mut()
        .unwrap()
        .extend(kind.as_object().unwrap().clone());
    m
}

/// What the ledger says Amazon should hold (kits from their components).
async fn available(t: &TestStack, seller: &SellerId, sku: &str) -> u32 {
    let l = ledger(t);
    let warehouse = l.warehouse(seller).await.unwrap();
    shared::stock::standing(&l, seller, &Sku::parse(sku).unwrap(), &warehouse)
        .await
        .unwrap()
        .1
        .expect("a SKU the suite keeps")
}

#[tokio::test]
async fn four_workers_on_one_hot_sku_never_lose_an_update_nor_go_negative() {
    let (t, _, seller) = with_locations("stock-hot", 61).await;
    let workers: Vec<StockSyncHandler> = (0..4).map(|_| t.stock_sync()).collect();
    let rounds = 6;
    let reports = futures::future::join_all(workers.iter().enumerate().map(|(w, h)| {
        let seller = seller.clone();
        async move {
            let mut total = StockReport::default();
            for i in 0..rounds {
                let order = format!("11{w}-{:07}-1234567", i);
                let ms = vec![
                    movement(&seller, &format!("rcv-{w}-{i}"), SKU, json!({"kind": "receive", "location": "A-01", "quantity": 3})),
                    movement(&seller, &format!("mv-{w}-{i}"), SKU, json!({"kind": "move", "from": "A-01", "to": "A-02", "quantity": 1})),
                    movement(&seller, &format!("res-{w}-{i}"), SKU, json!({"kind": "reserve", "order_item_id": "I1", "quantity": 1, "order_id": order})),
                    movement(&seller, &format!("pick-{w}-{i}"), SKU, json!({"kind": "pick", "order_item_id": "I1", "quantity": 1, "order_id": order})),
                    // May find too little on A-01 when the others took it first: refused, never negative.
                    movement(&seller, &format!("adj-{w}-{i}"), SKU, json!({"kind": "adjust", "location": "A-01", "delta": -2, "reason": "cycle count"})),
                ];
                total.merge(run(h, json!({"command": "movements", "movements": ms})).await);
            }
            total
        }
    }))
    .await;
    let mut total = StockReport::default();
    for r in reports {
        total.merge(r);
    }
    assert_eq!(
        total.movements_applied + total.movements_refused,
        4 * rounds * 5,
        "{total:?}"
    );
    // Only moves and adjustments that found too little on A-01 are refused.
    assert_eq!(
        total
            .refusals
            .iter()
            .filter(|r| r.kind != "not_on_hand")
            .count(),
        0,
        "{:?}",
        total.refusals
    );
    let l = ledger(&t);
    let sku = Sku::parse(SKU).unwrap();
    let p = l.position(&seller, &sku).await.unwrap();
    let ledger_entries = l.movements(&seller, &sku).await.unwrap();
    assert_eq!(ledger_entries.len() as u32, total.movements_applied);
    let count = |kind: &str| {
        ledger_entries
            .iter()
            .filter(|m| m.kind.name() == kind)
            .count() as u64
    };
    assert_eq!(
        (count("receive"), count("reserve"), count("pick")),
        (4 * 6, 4 * 6, 4 * 6)
    );
    // Every unit is accounted for: received, less what applied adjustments took; picked ones
    // are still in the building (not shipped), and no pick came up short.
    assert_eq!(
        p.total_on_hand(),
        3 * count("receive") - 2 * count("adjust"),
        "{p:?}"
    );
    assert_eq!(
        (p.picked, p.reserved, total.short_picks),
        (count("pick"), 0, 0)
    );
    // The same movements again change nothing.
    let again = run(
        &workers[0],
        json!({"command": "movements", "movements": [movement(&seller, "rcv-0-0", SKU, json!({"kind": "receive", "location": "A-01", "quantity": 3}))]}),
    )
    .await;
    assert_eq!((again.movements_applied, again.movements_repeated), (0, 1));
    assert_eq!(l.position(&seller, &sku).await.unwrap(), p);
    assert_eq!(
        t.sim.listing_quantity(seller.as_str(), SKU),
        Some(available(&t, &seller, SKU).await)
    );
    eprintln!(
        "hot SKU: {} applied, {} refused, {} conflicts retried",
        total.movements_applied, total.movements_refused, total.conflicts_retried
    );
}

async fn send(t: &TestStack, body: &Value) {
    t.sqs()
        .send_message()
        .queue_url(t.stack.queue("stock"))
        .message_body(body.to_string())
        .send()
        .await
        .expect("sent");
}

fn change(seller: &SellerId, order: &str, kind: &str, lines: &[(&str, &str, u32)]) -> Value {
    json!({
        "change_id": format!("{seller}#{order}#{kind}"),
        "kind": kind,
        "seller_id": seller,
        "order_id": order,
        "order_updated_at": "2026-11-30T10:00:00Z",
        "lines": lines.iter().map(|(item, sku, q)| json!({"order_item_id": item, "sku": sku, "quantity": q})).collect::<Vec<_>>(),
    })
}

#[tokio::test]
async fn after_receive_reserve_cancel_ship_and_return_amazon_holds_the_computed_available() {
    let (t, h, seller) = with_locations("stock-day", 62).await;
    let (a, b, c) = ("SKU-CHAIR1-0", "SKU-LAMP02-1", "SKU-MUG003-2");
    run(&h, json!({"command": "set_sku", "seller_id": seller, "sku": b, "settings": {"buffer": 1, "low_stock_at": 2}})).await;
    for (i, (sku, q)) in [(a, 5), (b, 4), (c, 2)].iter().enumerate() {
        send(
            &t,
            &movement(
                &seller,
                &format!("rcv-{i}"),
                sku,
                json!({"kind": "receive", "location": "A-01", "quantity": q}),
            ),
        )
        .await;
    }
    send(
        &t,
        &movement(
            &seller,
            "dock-1",
            a,
            json!({"kind": "receive", "location": "DOCK", "quantity": 7}),
        ),
    )
    .await;
    let morning = t.pump_stock(&h).await;
    assert_eq!(
        (morning.movements_applied, morning.dead_lettered),
        (4, 0),
        "{morning:?}"
    );
    // Orders through the day: one ships, one is canceled, one is still open.
    let (o1, o2, o3) = (
        "111-0000001-0000001",
        "111-0000002-0000002",
        "111-0000003-0000003",
    );
    send(
        &t,
        &change(&seller, o1, "reserve", &[("I1", a, 2), ("I2", b, 1)]),
    )
    .await;
    send(&t, &change(&seller, o2, "reserve", &[("I1", b, 2)])).await;
    send(&t, &change(&seller, o3, "reserve", &[("I1", c, 1)])).await;
    // Delivered twice, as SQS may.
    send(&t, &change(&seller, o3, "reserve", &[("I1", c, 1)])).await;
    t.pump_stock(&h).await;
    send(&t, &change(&seller, o2, "release", &[("I1", b, 2)])).await;
    send(
        &t,
        &change(&seller, o1, "ship", &[("I1", a, 2), ("I2", b, 1)]),
    )
    .await;
    send(
        &t,
        &movement(
            &seller,
            "ret-1",
            a,
            json!({"kind": "return_to_stock", "location": "A-02", "quantity": 1, "order_id": o1}),
        ),
    )
    .await;
    send(&t, &movement(&seller, "ret-2", b, json!({"kind": "return_to_quarantine", "location": "Q-1", "quantity": 1, "order_id": o1}))).await;
    let day = t.pump_stock(&h).await;
    assert_eq!(day.dead_lettered, 0, "{day:?}");
    // a: 5 − 2 shipped + 1 returned (the dock's 7 not for sale); b: 4 − 1 shipped − buffer 1;
    // c: 2 − 1 held by the open order.
    let expected = [(a, 4), (b, 2), (c, 1)];
    for (sku, q) in expected {
        assert_eq!(available(&t, &seller, sku).await, q, "{sku}");
        assert_eq!(
            t.sim.listing_quantity(seller.as_str(), sku),
            Some(q),
            "{sku} at Amazon"
        );
    }
    let report_b = ledger(&t)
        .position(&seller, &Sku::parse(b).unwrap())
        .await
        .unwrap();
    assert!(report_b.listing.low_stock, "b at its threshold");

    // Nothing changed: a repeat of every message costs no Listings call.
    let patches = t.calls("patchListingsItem");
    send(
        &t,
        &change(&seller, o1, "ship", &[("I1", a, 2), ("I2", b, 1)]),
    )
    .await;
    send(
        &t,
        &movement(
            &seller,
            "ret-1",
            a,
            json!({"kind": "return_to_stock", "location": "A-02", "quantity": 1, "order_id": o1}),
        ),
    )
    .await;
    let repeat = t.pump_stock(&h).await;
    assert_eq!(
        (
            repeat.movements_applied,
            repeat.movements_repeated,
            repeat.pushes_unchanged
        ),
        (0, 3, 2),
        "{repeat:?}"
    );
    assert_eq!(t.calls("patchListingsItem"), patches);
}

#[tokio::test]
async fn a_kit_is_available_up_to_its_scarcest_component_and_its_orders_move_the_components() {
    let (t, h, seller) = with_locations("stock-kits", 66).await;
    let (mug, lamp, kit) = ("SKU-MUG003-0", "SKU-LAMP02-0", "GIFT-SET-1");
    t.sim.edit_listing(
        seller.as_str(),
        kit,
        ListingEdit::Create {
            product_type: "HOME".into(),
        },
    );
    let receipts: Vec<Value> = [(mug, 9), (lamp, 5)]
        .iter()
        .map(|(sku, q)| {
            movement(
                &seller,
                &format!("rcv-{sku}"),
                sku,
                json!({"kind": "receive", "location": "A-01", "quantity": q}),
            )
        })
        .collect();
    run(&h, json!({"command": "movements", "movements": receipts})).await;
    let r = run(
        &h,
        json!({"command": "set_kit", "seller_id": seller, "sku": kit, "components": [
            {"sku": mug, "quantity": 2}, {"sku": lamp, "quantity": 1}]}),
    )
    .await;
    assert_eq!(r.pushes, 1, "{r:?}");
    let at_amazon = |sku: &str| t.sim.listing_quantity(seller.as_str(), sku);
    // 9 mugs make 4 kits, 5 lamps make 5.
    assert_eq!(at_amazon(kit), Some(4));

    // An order of 2 kits holds 4 mugs and 2 lamps; one of 1 mug alone holds 1 more.
    send(
        &t,
        &change(&seller, "111-0000001-0000001", "reserve", &[("I1", kit, 2)]),
    )
    .await;
    send(
        &t,
        &change(&seller, "111-0000002-0000002", "reserve", &[("I1", mug, 1)]),
    )
    .await;
    let day = t.pump_stock(&h).await;
    assert_eq!(
        (day.movements_applied, day.dead_lettered),
        (3, 0),
        "{day:?}"
    );
    for (sku, q) in [(mug, 4), (lamp, 3), (kit, 2)] {
        assert_eq!(available(&t, &seller, sku).await, q, "{sku}");
        assert_eq!(at_amazon(sku), Some(q), "{sku} at Amazon");
    }
    // The kit order is picked, then canceled: the components go back to their shelf.
    send(
        &t,
        &change(&seller, "111-0000001-0000001", "pick", &[("I1", kit, 2)]),
    )
    .await;
    t.pump_stock(&h).await;
    let l = ledger(&t);
    let on_shelf = |sku: &'static str| {
        let (l, seller) = (&l, seller.clone());
        async move {
            l.position(&seller, &Sku::parse(sku).unwrap())
                .await
                .unwrap()
                .on_hand
                .values()
                .sum::<u64>()
        }
    };
    assert_eq!((on_shelf(mug).await, on_shelf(lamp).await), (5, 3));
    send(
        &t,
        &change(&seller, "111-0000001-0000001", "release", &[("I1", kit, 2)]),
    )
    .await;
    t.pump_stock(&h).await;
    assert_eq!((on_shelf(mug).await, on_shelf(lamp).await), (9, 5));
    for (sku, q) in [(mug, 8), (lamp, 5), (kit, 4)] {
        assert_eq!(at_amazon(sku), Some(q), "{sku} at Amazon after the cancel");
    }

    // A kit is never on a shelf; a kit of kits is refused.
    let r = run(
        &h,
        json!({"command": "movements", "movements": [movement(&seller, "rcv-kit", kit,
            json!({"kind": "receive", "location": "A-01", "quantity": 1}))]}),
    )
    .await;
    assert_eq!(r.refusals[0].kind, "kit_has_no_stock", "{r:?}");
    let r = run(
        &h,
        json!({"command": "set_kit", "seller_id": seller, "sku": "DOUBLE-GIFT", "components": [
            {"sku": kit, "quantity": 2}]}),
    )
    .await;
    assert_eq!(r.refusals[0].kind, "invalid_kit", "{r:?}");

    // A reconciliation finds the kit as pushed and changes nothing.
    let r = run(&h, json!({"command": "reconcile"})).await;
    assert_eq!((r.mismatches_corrected, r.pushes), (0, 0), "{r:?}");
}

#[tokio::test]
async fn a_rejected_sku_is_reported_and_the_others_go_through() {
    let (t, h, seller) = with_locations("stock-reject", 63).await;
    t.sim.edit_listing(
        seller.as_str(),
        "SKU-LAMP02-0",
        ListingEdit::RefuseWith(Some("8541".into())),
    );
    let ms: Vec<Value> = ["SKU-CHAIR1-0", "SKU-LAMP02-0", "NOT-LISTED", "SKU-MUG003-0"]
        .iter()
        .enumerate()
        .map(|(i, sku)| {
            movement(
                &seller,
                &format!("rcv-{i}"),
                sku,
                json!({"kind": "receive", "location": "A-01", "quantity": 3}),
            )
        })
        .collect();
    let r = run(&h, json!({"command": "movements", "movements": ms})).await;
    assert_eq!(
        (r.movements_applied, r.pushes, r.pushes_rejected),
        (4, 2, 2),
        "{r:?}"
    );
    let l = ledger(&t);
    let codes = |sku: &str| {
        let l = &l;
        let seller = seller.clone();
        let sku = Sku::parse(sku).unwrap();
        async move {
            l.position(&seller, &sku)
                .await
                .unwrap()
                .listing
                .rejected_codes
        }
    };
    assert_eq!(codes("SKU-LAMP02-0").await, vec!["8541".to_owned()]);
    assert_eq!(
        codes("NOT-LISTED").await,
        vec!["LISTING_NOT_FOUND".to_owned()]
    );
    assert_eq!(
        t.sim.listing_quantity(seller.as_str(), "SKU-CHAIR1-0"),
        Some(3)
    );
    assert_eq!(
        t.sim.listing_quantity(seller.as_str(), "SKU-MUG003-0"),
        Some(3)
    );
    assert_eq!(
        t.sim.listing_quantity(seller.as_str(), "SKU-LAMP02-0"),
        Some(spapi_sim::SEEDED_QUANTITY)
    );
}

#[tokio::test]
async fn a_reconciliation_corrects_drift_and_a_second_run_changes_nothing() {
    let (t, h, seller) = with_locations("stock-reconcile", 64).await;
    let ms: Vec<Value> = ["SKU-CHAIR1-0", "SKU-LAMP02-0", "SKU-MUG003-0"]
        .iter()
        .enumerate()
        .map(|(i, sku)| {
            movement(
                &seller,
                &format!("rcv-{i}"),
                sku,
                json!({"kind": "receive", "location": "A-02", "quantity": 6}),
            )
        })
        .collect();
    run(&h, json!({"command": "movements", "movements": ms})).await;
    // Someone edits a quantity in Seller Central; another SKU's listing loses its quantity.
    t.sim.edit_listing(
        seller.as_str(),
        "SKU-LAMP02-0",
        ListingEdit::SetQuantity(Some(40)),
    );
    t.sim.edit_listing(
        seller.as_str(),
        "SKU-MUG003-0",
        ListingEdit::SetQuantity(None),
    );
    let first = run(&h, json!({"command": "reconcile"})).await;
    assert_eq!(
        (first.skus_checked, first.mismatches_corrected),
        (3, 2),
        "{first:?}"
    );
    for sku in ["SKU-CHAIR1-0", "SKU-LAMP02-0", "SKU-MUG003-0"] {
        assert_eq!(
            t.sim.listing_quantity(seller.as_str(), sku),
            Some(6),
            "{sku}"
        );
    }
    let patches = t.calls("patchListingsItem");
    let second = run(&h, json!({"command": "reconcile", "seller_ids": [seller]})).await;
    assert_eq!(
        (
            second.skus_checked,
            second.mismatches_corrected,
            second.pushes
        ),
        (3, 0, 0)
    );
    assert_eq!(t.calls("patchListingsItem"), patches);
}

#[tokio::test]
async fn bad_messages_go_to_the_dead_letter_queue_with_a_reason_and_ids_only() {
    let (t, h, seller) = with_locations("stock-dlq", 65).await;
    send(&t, &json!({"hello": "Odalys Brennan"})).await;
    send(
        &t,
        &movement(
            &seller,
            "mv-x",
            SKU,
            json!({"kind": "move", "from": "A-01", "to": "A-02", "quantity": 5}),
        ),
    )
    .await;
    send(
        &t,
        &movement(
            &seller,
            "rcv-x",
            SKU,
            json!({"kind": "receive", "location": "NOWHERE", "quantity": 1}),
        ),
    )
    .await;
    let r = t.pump_stock(&h).await;
    assert_eq!(r.dead_lettered, 3, "{r:?}");
    let letters = t.queue_bodies("stock-dlq").await;
    let kinds: std::collections::BTreeSet<&str> = letters
        .iter()
        .map(|l| l["reason_kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["malformed", "not_on_hand", "unknown_location"].into()
    );
    assert!(!serde_json::to_string(&letters).unwrap().contains("Odalys"));
    let p = ledger(&t)
        .position(&seller, &Sku::parse(SKU).unwrap())
        .await
        .unwrap();
    assert!(p.on_hand.values().all(|q| *q == 0), "{p:?}");
}

#[tokio::test]
async fn a_seller_or_sku_the_suite_keeps_no_stock_of_is_never_pushed() {
    // A seller onboarded for orders, not (yet) for stock: no locations.
    let t = stack("stock-unmanaged", SimConfig::demo(1, 5, 66)).await;
    let h = t.stock_sync();
    let seller = t.seller(0);
    let order = "111-0000009-0000009";
    send(&t, &change(&seller, order, "reserve", &[("I1", SKU, 2)])).await;
    let r = t.pump_stock(&h).await;
    assert_eq!(
        (
            r.movements_applied,
            r.unknown_skus,
            r.skus_not_managed,
            r.pushes
        ),
        (1, 1, 1, 0),
        "{r:?}"
    );
    // Its locations set, a SKU it never received is still not the suite's to tell Amazon of.
    run(
        &h,
        json!({"command": "set_locations", "seller_id": seller, "locations": {"locations": [{"id": "A-01", "kind": "sellable"}]}}),
    )
    .await;
    let again = run(&h, json!({"command": "reconcile"})).await;
    assert_eq!(
        (again.skus_checked, again.skus_not_managed, again.pushes),
        (1, 1, 0),
        "{again:?}"
    );
    assert_eq!(t.calls("patchListingsItem"), 0);
    assert_eq!(
        t.sim.listing_quantity(seller.as_str(), SKU),
        Some(spapi_sim::SEEDED_QUANTITY)
    );
    // Received: now it is, and Amazon hears the quantity less the order's hold.
    let got = run(
        &h,
        json!({"command": "movements", "movements": [movement(&seller, "rcv-1", SKU, json!({"kind": "receive", "location": "A-01", "quantity": 5}))]}),
    )
    .await;
    assert_eq!(got.pushes, 1, "{got:?}");
    assert_eq!(t.sim.listing_quantity(seller.as_str(), SKU), Some(3));
}
