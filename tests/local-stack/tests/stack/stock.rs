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
    // Four pushers race: a push overtaken by a later one may land last. Amazon's notices of
    // what it holds (as it sends them) settle it on the computed quantity.
    t.sim
        .deliver_listing_notifications(&t.sqs(), t.stack.queue("listing-notifications"))
        .await
        .unwrap();
    let notices = t
        .pump_stock_from(&workers[0], "listing-notifications")
        .await;
    assert_eq!(notices.dead_lettered, 0, "{notices:?}");
    assert_eq!(
        t.sim.listing_quantity(seller.as_str(), SKU),
        Some(available(&t, &seller, SKU).await)
    );
    eprintln!(
        "hot SKU: {} applied, {} refused, {} conflicts retried, {} pushes overtaken, {} corrected by notices",
        total.movements_applied,
        total.movements_refused,
        total.conflicts_retried,
        total.pushes_failed,
        notices.mismatches_corrected
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
    // The kit is made of mugs alone from now on; the open order still holds its lamps.
    let r = run(
        &h,
        json!({"command": "set_kit", "seller_id": seller, "sku": kit, "components": [
            {"sku": mug, "quantity": 2}]}),
    )
    .await;
    assert!(r.refusals.is_empty(), "{r:?}");
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
    let lamp_held = l
        .position(&seller, &Sku::parse(lamp).unwrap())
        .await
        .unwrap();
    assert_eq!(
        (lamp_held.reserved, lamp_held.picked),
        (0, 0),
        "no lamp stranded"
    );
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

/// One day of stock through `h`: receipts (one SKU's listing refuses every quantity), two
/// orders reserved, one canceled, one shipped, a return. With `feeds`, every push goes as a
/// listings feed: its result is read once the simulator's clock is past its processing.
async fn stock_day(t: &TestStack, h: &StockSyncHandler, seller: &SellerId, feeds: bool) {
    let settle = |r: StockReport| async move {
        if !feeds {
            assert!(r.feed_ids.is_empty(), "{r:?}");
            return;
        }
        assert!(!r.feed_ids.is_empty(), "a feed sent: {r:?}");
        t.sim.advance_clock(chrono::Duration::minutes(10));
        for feed_id in &r.feed_ids {
            let done = run(
                h,
                json!({"command": "check_feed", "seller_id": seller, "feed_id": feed_id}),
            )
            .await;
            assert_eq!(done.feeds_settled, 1, "{done:?}");
        }
    };
    t.sim.edit_listing(
        seller.as_str(),
        "SKU-LAMP02-0",
        ListingEdit::RefuseWith(Some("8541".into())),
    );
    let receipts: Vec<Value> = [
        ("SKU-CHAIR1-0", 5),
        ("SKU-MUG003-1", 4),
        ("SKU-LAMP02-2", 2),
        ("SKU-LAMP02-0", 3),
    ]
    .iter()
    .map(|(sku, q)| {
        movement(
            seller,
            &format!("rcv-{sku}"),
            sku,
            json!({"kind": "receive", "location": "A-01", "quantity": q}),
        )
    })
    .collect();
    settle(run(h, json!({"command": "movements", "movements": receipts})).await).await;
    let (o1, o2) = ("111-0000001-0000001", "111-0000002-0000002");
    send(
        t,
        &change(
            seller,
            o1,
            "reserve",
            &[("I1", "SKU-CHAIR1-0", 2), ("I2", "SKU-MUG003-1", 1)],
        ),
    )
    .await;
    send(
        t,
        &change(seller, o2, "reserve", &[("I1", "SKU-LAMP02-2", 2)]),
    )
    .await;
    settle(t.pump_stock(h).await).await;
    send(
        t,
        &change(seller, o2, "release", &[("I1", "SKU-LAMP02-2", 2)]),
    )
    .await;
    send(
        t,
        &change(
            seller,
            o1,
            "ship",
            &[("I1", "SKU-CHAIR1-0", 2), ("I2", "SKU-MUG003-1", 1)],
        ),
    )
    .await;
    send(
        t,
        &movement(
            seller,
            "ret-1",
            "SKU-CHAIR1-0",
            json!({"kind": "return_to_stock", "location": "A-02", "quantity": 1, "order_id": o1}),
        ),
    )
    .await;
    settle(t.pump_stock(h).await).await;
}

#[tokio::test]
async fn the_feed_path_and_the_patch_path_end_in_the_same_quantities() {
    let (by_patch, h_patch, seller_p) = with_locations("stock-by-patch", 67).await;
    let (by_feed, _, seller_f) = with_locations("stock-by-feed", 67).await;
    // Every push by feed; feed results read by command, not by the note on the queue.
    let h_feed = by_feed.stock_sync_with(&[
        ("STOCK_FEED_MIN_SKUS", "1"),
        ("STOCK_FEED_CHECK_SECS", "900"),
    ]);
    stock_day(&by_patch, &h_patch, &seller_p, false).await;
    stock_day(&by_feed, &h_feed, &seller_f, true).await;
    let skus = ["SKU-CHAIR1-0", "SKU-MUG003-1", "SKU-LAMP02-2"];
    for sku in skus {
        let (p, f) = (
            by_patch.sim.listing_quantity(seller_p.as_str(), sku),
            by_feed.sim.listing_quantity(seller_f.as_str(), sku),
        );
        assert_eq!(p, f, "{sku}: patch path and feed path");
        assert_eq!(f, Some(available(&by_feed, &seller_f, sku).await), "{sku}");
    }
    // chair: 5 − 2 shipped + 1 returned; mug: 4 − 1; lamp: 2, its order canceled.
    assert_eq!(
        skus.map(|s| by_feed.sim.listing_quantity(seller_f.as_str(), s)),
        [Some(4), Some(3), Some(2)]
    );
    assert!(by_feed.sim.feeds_created() >= 3);
    assert_eq!(
        by_feed.calls("patchListingsItem"),
        0,
        "no patch on the feed path"
    );
    // The feed's product types were read 20 SKUs a call, never one by one.
    assert!(by_feed.calls("searchListingsItems") > 0);
    assert_eq!(by_feed.calls("getListingsItem"), 0);
    // The refused SKU: refused on both paths with Amazon's code, Amazon's quantity untouched.
    for (t, seller) in [(&by_patch, &seller_p), (&by_feed, &seller_f)] {
        let p = ledger(t)
            .position(seller, &Sku::parse("SKU-LAMP02-0").unwrap())
            .await
            .unwrap();
        assert_eq!(p.listing.rejected_codes, vec!["8541".to_owned()]);
        assert_eq!(
            t.sim.listing_quantity(seller.as_str(), "SKU-LAMP02-0"),
            Some(spapi_sim::SEEDED_QUANTITY)
        );
    }

    // A movement while a feed is processed: the feed lands with the older quantity, and
    // reading its result puts the newer one right.
    let chair = |id: &str, q: u32| {
        movement(
            &seller_f,
            id,
            "SKU-CHAIR1-0",
            json!({"kind": "receive", "location": "A-01", "quantity": q}),
        )
    };
    let first = run(
        &h_feed,
        json!({"command": "movements", "movements": [chair("late-1", 1)]}),
    )
    .await;
    let h_patch_like = by_feed.stock_sync();
    run(
        &h_patch_like,
        json!({"command": "movements", "movements": [chair("late-2", 2)]}),
    )
    .await;
    assert_eq!(
        by_feed
            .sim
            .listing_quantity(seller_f.as_str(), "SKU-CHAIR1-0"),
        Some(7)
    );
    by_feed.sim.advance_clock(chrono::Duration::minutes(10));
    assert_eq!(
        by_feed
            .sim
            .listing_quantity(seller_f.as_str(), "SKU-CHAIR1-0"),
        Some(5),
        "the feed landed after the patch"
    );
    let settled = run(
        &h_feed,
        json!({"command": "check_feed", "seller_id": seller_f, "feed_id": first.feed_ids[0]}),
    )
    .await;
    assert_eq!(
        (settled.feeds_settled, settled.feed_rechecks),
        (1, 1),
        "{settled:?}"
    );
    assert_eq!(
        by_feed
            .sim
            .listing_quantity(seller_f.as_str(), "SKU-CHAIR1-0"),
        Some(7)
    );

    // A reconciliation by feed restates every SKU; a second changes nothing at Amazon.
    for round in 0..2 {
        by_feed.sim.take_listing_notifications();
        let r = run(&h_feed, json!({"command": "reconcile"})).await;
        assert_eq!(r.feeds_submitted, 1, "{r:?}");
        by_feed.sim.advance_clock(chrono::Duration::minutes(10));
        let done = run(
            &h_feed,
            json!({"command": "check_feed", "seller_id": seller_f, "feed_id": r.feed_ids[0]}),
        )
        .await;
        assert_eq!(done.feed_rechecks, 0, "{done:?}");
        if round == 1 {
            assert_eq!(
                by_feed.sim.take_listing_notifications().published,
                0,
                "no quantity changed"
            );
        }
    }

    // A feed Amazon has not finished by its last check: its SKUs are marked to be pushed next
    // time whatever their records say, and its record stays for a check on demand.
    by_feed.sim.hold_feeds(true);
    let stuck = run(&h_feed, json!({"command": "reconcile"})).await;
    send(
        &by_feed,
        &json!({"feed_id": stuck.feed_ids[0], "seller_id": seller_f, "check": 179}),
    )
    .await;
    let r = by_feed.pump_stock(&h_feed).await;
    assert_eq!(r.dead_lettered, 1, "{r:?}");
    let letters = by_feed.queue_bodies("stock-dlq").await;
    assert!(
        letters.iter().any(|l| l["reason_kind"] == "feed_unsettled"),
        "{letters:?}"
    );
    let led = ledger(&by_feed);
    for sku in skus {
        let p = led
            .position(&seller_f, &Sku::parse(sku).unwrap())
            .await
            .unwrap();
        assert_eq!(p.listing.accepted_quantity, None, "{sku}: {p:?}");
    }
    by_feed.sim.hold_feeds(false);
    by_feed.sim.advance_clock(chrono::Duration::minutes(10));
    let late = run(
        &h_feed,
        json!({"command": "check_feed", "seller_id": seller_f, "feed_id": stuck.feed_ids[0]}),
    )
    .await;
    assert_eq!(late.feeds_settled, 1, "{late:?}");
    for sku in skus {
        let p = led
            .position(&seller_f, &Sku::parse(sku).unwrap())
            .await
            .unwrap();
        assert_eq!(
            p.listing.accepted_quantity,
            Some(available(&by_feed, &seller_f, sku).await),
            "{sku}"
        );
    }
}

#[tokio::test]
async fn amazon_quantity_notices_check_their_sku_and_an_echo_of_our_push_costs_nothing() {
    let (t, h, seller) = with_locations("stock-notices", 68).await;
    let sku = "SKU-CHAIR1-0";
    run(
        &h,
        json!({"command": "movements", "movements": [movement(&seller, "rcv-1", sku,
            json!({"kind": "receive", "location": "A-01", "quantity": 6}))]}),
    )
    .await;
    // Our push's echo: Amazon says 6, the ledger says 6.
    let (gets, patches) = (t.calls("getListingsItem"), t.calls("patchListingsItem"));
    let echo = t
        .sim
        .deliver_listing_notifications(&t.sqs(), t.stack.queue("listing-notifications"))
        .await
        .unwrap();
    assert_eq!(echo.published, 1);
    let r = t.pump_stock_from(&h, "listing-notifications").await;
    assert_eq!(
        (r.quantity_notices, r.mismatches_corrected),
        (1, 0),
        "{r:?}"
    );
    assert_eq!(
        (t.calls("getListingsItem"), t.calls("patchListingsItem")),
        (gets, patches),
        "an echo costs no call"
    );
    // Someone sets 40 in Seller Central: the notice brings it back to 6.
    t.sim
        .edit_listing(seller.as_str(), sku, ListingEdit::SetQuantity(Some(40)));
    t.sim
        .deliver_listing_notifications(&t.sqs(), t.stack.queue("listing-notifications"))
        .await
        .unwrap();
    let r = t.pump_stock_from(&h, "listing-notifications").await;
    assert_eq!(
        (r.quantity_notices, r.mismatches_corrected, r.dead_lettered),
        (1, 1, 0),
        "{r:?}"
    );
    assert_eq!(t.sim.listing_quantity(seller.as_str(), sku), Some(6));
    assert_eq!(t.calls("patchListingsItem"), patches + 1);
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
    let (patches, searches, gets) = (
        t.calls("patchListingsItem"),
        t.calls("searchListingsItems"),
        t.calls("getListingsItem"),
    );
    let second = run(&h, json!({"command": "reconcile", "seller_ids": [seller]})).await;
    assert_eq!(
        (
            t.calls("searchListingsItems") - searches,
            t.calls("getListingsItem") - gets
        ),
        (1, 0),
        "3 SKUs read in one search"
    );
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
