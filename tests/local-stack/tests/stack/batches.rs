//! The batched adapters intake uses, against moto: each item of a batch request answered
//! apart, a condition failing for one item never holding up the others.

use crate::common::stack;
use crate::pii_vault::{pii, vault, vault_with};
use chrono::{Duration, Utc};
use local_stack::bench::CountingProxy;
use local_stack::bench_purge::order;
use shared::aws::{DynamoControl, DynamoOrderStore, SqsQueue};
use shared::kernel::{AmazonOrderId, PiiKind};
use shared::orders::{Claim, ClaimAsk, NotificationClaims, OrderStore, OrderWrite};
use shared::pii::{KeysAhead, OpenedPii, PiiOpener, PiiSealer, PiiState, PiiStatus, SealRequest};
use spapi_sim::SimConfig;

#[tokio::test]
async fn records_written_together_each_on_its_own_revision() {
    let t = stack("batch-records", SimConfig::demo(1, 1, 1)).await;
    let store = DynamoOrderStore::new(t.dynamo(), t.stack.table("orders"));
    let seller = t.seller(0);
    let now = Utc::now();
    let status = PiiStatus {
        state: PiiState::None,
        purge_at: now + Duration::days(30),
        sealed_kinds: vec![],
        restricted: None,
        ship_to_corrected: None,
    };
    let orders: Vec<_> = (1..=4).map(|n| order(&seller, n, now)).collect();
    // The second is stored already, at revision 1; another writer moves it to 2.
    store.save(&orders[1], status.clone(), None).await.unwrap();
    store
        .save(&orders[1], status.clone(), Some(1))
        .await
        .unwrap();

    let writes: Vec<OrderWrite> = orders
        .iter()
        .map(|o| OrderWrite {
            order: o.clone(),
            pii: status.clone(),
            // Written as if nothing were stored: the second's write lost its race.
            expected: None,
        })
        .collect();
    let answers: Vec<Option<u64>> = store
        .save_many(&writes)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(answers, vec![Some(1), None, Some(1), Some(1)]);

    let mut keys: Vec<_> = orders
        .iter()
        .map(|o| (o.seller_id.clone(), o.order_id.clone()))
        .collect();
    keys.push((
        seller.clone(),
        AmazonOrderId::parse("113-9999999-9999999").unwrap(),
    ));
    let read: Vec<Option<u64>> = store
        .load_many(&keys)
        .await
        .into_iter()
        .map(|r| r.unwrap().map(|s| s.revision))
        .collect();
    assert_eq!(read, vec![Some(1), Some(2), Some(1), Some(1), None]);
}

#[tokio::test]
async fn pii_sealed_together_keeps_a_later_update_of_one_order_and_writes_the_others() {
    let t = stack("batch-seal", SimConfig::demo(1, 1, 1)).await;
    let vault = vault(&t);
    let seller = t.seller(0);
    let ids: Vec<AmazonOrderId> = (1..=3)
        .map(|n| AmazonOrderId::parse(format!("113-000000{n}-0000001")).unwrap())
        .collect();
    let now = Utc::now();
    let purge_at = now + Duration::days(30);
    // The middle order's PII of a later update is sealed already.
    vault
        .seal(&seller, &ids[1], now, &pii("Later Name"), purge_at)
        .await
        .unwrap();
    let earlier = pii("Earlier Name");
    let requests: Vec<SealRequest> = ids
        .iter()
        .map(|o| SealRequest {
            seller: &seller,
            order: o,
            order_updated_at: now - Duration::hours(1),
            pii: &earlier,
            purge_at,
        })
        .collect();
    let written: Vec<usize> = vault
        .seal_many(&requests, &mut KeysAhead::none())
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(written, vec![2, 0, 2]);
    let name = |opened: Option<OpenedPii>| match opened {
        Some(OpenedPii::Buyer(b)) => b.name.map(|n| n.expose().clone()).unwrap_or_default(),
        other => panic!("expected a buyer, got {other:?}"),
    };
    for (o, want) in ids
        .iter()
        .zip(["Earlier Name", "Later Name", "Earlier Name"])
    {
        let opened = vault.open(&seller, o, shared::kernel::PiiKind::Buyer).await;
        assert_eq!(name(opened.unwrap()), want, "order {o}");
    }
}

/// Data keys asked for ahead seal their orders' PII without another `GenerateDataKey`; an order
/// not asked for gets its own; an order asked for but not sealed costs its key, nothing more.
/// Each item opens, so each key was bound to its own order.
#[tokio::test]
async fn pii_sealed_with_keys_asked_ahead_takes_no_other_key() {
    let t = stack("batch-keys-ahead", SimConfig::demo(1, 1, 1)).await;
    let proxy = CountingProxy::start(&crate::common::moto().endpoint)
        .await
        .unwrap();
    let counted = aws_sdk_kms::config::Builder::from(&t.sdk)
        .endpoint_url(proxy.url())
        .build();
    let vault = vault_with(&t, aws_sdk_kms::Client::from_conf(counted));
    let seller = t.seller(0);
    let ids: Vec<AmazonOrderId> = (1..=4)
        .map(|n| AmazonOrderId::parse(format!("114-000000{n}-0000001")).unwrap())
        .collect();
    let now = Utc::now();
    let buyer = pii("Ahead Name");
    let generated = |p: &CountingProxy| {
        p.take_counts()
            .get("TrentService.GenerateDataKey")
            .copied()
            .unwrap_or(0)
    };

    // Asked ahead for the first three; the third turns out to need none.
    let asked: Vec<_> = ids[..3].iter().map(|o| (&seller, o)).collect();
    let mut ahead = vault.keys_ahead(&asked).await;
    assert_eq!(generated(&proxy), 3, "one key per order asked for");
    let requests: Vec<SealRequest> = [&ids[0], &ids[1], &ids[3]]
        .into_iter()
        .map(|o| SealRequest {
            seller: &seller,
            order: o,
            order_updated_at: now,
            pii: &buyer,
            purge_at: now + Duration::days(30),
        })
        .collect();
    let written: Vec<usize> = vault
        .seal_many(&requests, &mut ahead)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(written, vec![2, 2, 2]);
    assert_eq!(
        generated(&proxy),
        1,
        "only the order not asked for took a key"
    );
    drop(ahead);

    for o in [&ids[0], &ids[1], &ids[3]] {
        match vault.open(&seller, o, PiiKind::Buyer).await.unwrap() {
            Some(OpenedPii::Buyer(b)) => {
                assert_eq!(b.name.unwrap().expose().as_str(), "Ahead Name", "order {o}")
            }
            other => panic!("order {o}: expected a buyer, got {other:?}"),
        }
    }
    assert!(
        vault
            .open(&seller, &ids[2], PiiKind::Buyer)
            .await
            .unwrap()
            .is_none(),
        "nothing sealed for the order that needed no key"
    );
}

#[tokio::test]
async fn notifications_claimed_together_tell_new_done_and_held_apart() {
    let t = stack("batch-claims", SimConfig::demo(1, 1, 1)).await;
    let claims = DynamoControl::new(t.dynamo(), t.stack.table("control"));
    let now = Utc::now();
    let lease = now + Duration::minutes(5);
    claims.claim("n-done", "m-0", now, lease).await.unwrap();
    claims.complete("n-done", now).await.unwrap();
    claims.claim("n-held", "m-other", now, lease).await.unwrap();
    claims
        .claim("n-again", "m-again", now, lease)
        .await
        .unwrap();
    let asks: Vec<ClaimAsk> = [
        ("n-new", "m-1"),
        ("n-done", "m-2"),
        ("n-held", "m-3"),
        ("n-again", "m-again"),
    ]
    .into_iter()
    .map(|(n, m)| ClaimAsk {
        notification_id: n.into(),
        message_id: m.into(),
    })
    .collect();
    let answers: Vec<Claim> = claims
        .claim_many(&asks, now, lease)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let fresh = Claim::Claimed {
        failures: 0,
        reserved_at: None,
    };
    // The same message again (a redelivery) claims what it held.
    assert_eq!(
        answers,
        vec![fresh, Claim::AlreadyDone, Claim::InFlight, fresh]
    );
    let done = claims
        .complete_many(&["n-new".to_owned(), "n-again".to_owned()], now)
        .await;
    assert!(done.iter().all(Result::is_ok));
    for n in ["n-new", "n-again"] {
        assert_eq!(
            claims.claim(n, "m-late", now, lease).await.unwrap(),
            Claim::AlreadyDone
        );
    }
}

#[tokio::test]
async fn stock_changes_sent_together_arrive_each_once() {
    let t = stack("batch-sqs", SimConfig::demo(1, 1, 1)).await;
    let queue = SqsQueue::new(t.sqs(), t.stack.queue("stock"));
    let bodies: Vec<serde_json::Value> = (0..23)
        .map(|i| serde_json::json!({ "change_id": format!("c-{i}") }))
        .collect();
    let sent = queue.send_json_each(&bodies).await;
    assert_eq!(sent.len(), 23);
    assert!(sent.iter().all(Result::is_ok));
    let mut ids: Vec<String> = t
        .queue_bodies("stock")
        .await
        .iter()
        .map(|b| b["change_id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    let mut want: Vec<String> = (0..23).map(|i| format!("c-{i}")).collect();
    want.sort();
    assert_eq!(ids, want);
}

/// A claim let go (its seller turned out not to be active) is gone for any message, but only
/// its holder can let it go, and never one marked done.
#[tokio::test]
async fn a_claim_let_go_by_its_holder_is_gone_and_no_one_else_can_let_it_go() {
    let t = stack("claim-release", SimConfig::demo(1, 1, 1)).await;
    let claims = DynamoControl::new(t.dynamo(), t.stack.table("control"));
    let now = Utc::now();
    let lease = now + Duration::minutes(5);
    let ask = |n: &str, m: &str| ClaimAsk {
        notification_id: n.into(),
        message_id: m.into(),
    };
    let fresh = Claim::Claimed {
        failures: 0,
        reserved_at: None,
    };
    claims.claim("n-held", "m-1", now, lease).await.unwrap();
    claims.claim("n-done", "m-2", now, lease).await.unwrap();
    claims.complete("n-done", now).await.unwrap();

    claims.release("n-held", "m-other").await.unwrap();
    claims.release("n-done", "m-2").await.unwrap();
    assert_eq!(
        claims
            .claim("n-held", "m-later-copy", now, lease)
            .await
            .unwrap(),
        Claim::InFlight,
        "still held by m-1"
    );
    assert_eq!(
        claims
            .claim("n-done", "m-later-copy", now, lease)
            .await
            .unwrap(),
        Claim::AlreadyDone
    );

    claims.release("n-held", "m-1").await.unwrap();
    let answers: Vec<Claim> = claims
        .claim_many(&[ask("n-held", "m-later-copy")], now, lease)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(answers, vec![fresh], "claimed as if never claimed");
}
