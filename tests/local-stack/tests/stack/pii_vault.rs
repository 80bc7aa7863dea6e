//! The KMS envelope vault against moto's KMS (which enforces encryption context) and DynamoDB.

use crate::common::{TestStack, s, stack};
use chrono::{Duration, Utc};
use local_stack::day::SEALED_ITEM_ATTRIBUTES;
use shared::aws::{KmsPiiVault, PiiTable};
use shared::kernel::{Address, AmazonOrderId, BuyerPii, OrderPii, PiiKind};
use shared::pii::VaultError;
use shared::pii::{OpenedPii, PiiOpener, PiiSealer, PurgeScope, SealedItems};
use spapi_sim::SimConfig;

const NAME: &str = "Marguerite T. Vasquez-Lindqvist";
const STREET: &str = "4821 Larkspur Crescent";
const EMAIL: &str = "mtvl.8842@marketplace.example";

pub(crate) fn pii(name: &str) -> OrderPii {
    OrderPii {
        buyer: Some(BuyerPii {
            name: Some(name.into()),
            email: Some(EMAIL.into()),
            company_name: None,
        }),
        recipient: Some(Address {
            name: Some(name.into()),
            address_line1: Some(STREET.into()),
            city: Some("Fort Collins".into()),
            postal_code: Some("80521".into()),
            country_code: Some("US".into()),
            ..Address::default()
        }),
    }
}

/// The vault as `order-sync` builds it, on this test's stack.
pub(crate) fn vault(t: &TestStack) -> KmsPiiVault {
    vault_with(t, aws_sdk_kms::Client::new(&t.sdk))
}

/// The stack's vault reaching KMS through `kms`.
pub(crate) fn vault_with(t: &TestStack, kms: aws_sdk_kms::Client) -> KmsPiiVault {
    KmsPiiVault::new(
        kms,
        PiiTable::new(t.dynamo(), t.stack.table("pii")),
        t.stack.pii_key_arn.clone(),
    )
}

fn buyer_name(opened: Option<OpenedPii>) -> String {
    match opened {
        Some(OpenedPii::Buyer(b)) => b.name.map(|n| n.expose().clone()).unwrap_or_default(),
        other => panic!("expected a buyer, got {other:?}"),
    }
}

#[tokio::test]
async fn sealed_items_hold_only_ciphertext_and_open_for_their_own_order() {
    let t = stack("vault", SimConfig::demo(1, 1, 1)).await;
    let vault = vault(&t);
    let seller = t.seller(0);
    let order = AmazonOrderId::parse("113-0000001-0000001").unwrap();
    let purge_at = Utc::now() + Duration::days(30);
    let written = vault
        .seal(&seller, &order, Utc::now(), &pii(NAME), purge_at)
        .await
        .unwrap();
    assert_eq!(written, 2);

    let items = t.scan("pii").await;
    assert_eq!(items.len(), 2);
    for item in &items {
        for key in item.keys() {
            assert!(
                SEALED_ITEM_ATTRIBUTES.contains(&key.as_str()),
                "unexpected attribute {key}"
            );
        }
        let raw = format!("{item:?}");
        for value in [NAME, STREET, EMAIL, "Larkspur", "Vasquez"] {
            assert!(!raw.contains(value), "plaintext {value:?} in a stored item");
        }
        let ct = item["ct"].as_b().unwrap().as_ref();
        assert!(
            !ct.windows(8)
                .any(|w| NAME.as_bytes().windows(8).any(|n| n == w))
        );
        assert_eq!(
            item["pii_purge_at"].as_n().unwrap(),
            &purge_at.timestamp().to_string()
        );
    }

    let opened = vault.open(&seller, &order, PiiKind::Buyer).await.unwrap();
    assert_eq!(buyer_name(opened), NAME);
    match vault
        .open(&seller, &order, PiiKind::Recipient)
        .await
        .unwrap()
    {
        Some(OpenedPii::Recipient(a)) => assert_eq!(a.address_line1.unwrap().expose(), STREET),
        other => panic!("expected a recipient, got {other:?}"),
    }
}

#[tokio::test]
async fn a_sealed_item_copied_to_another_order_does_not_open() {
    let t = stack("vault-copy", SimConfig::demo(1, 1, 2)).await;
    let vault = vault(&t);
    let seller = t.seller(0);
    let victim = AmazonOrderId::parse("113-0000002-0000001").unwrap();
    let other = AmazonOrderId::parse("113-0000002-0000002").unwrap();
    vault
        .seal(
            &seller,
            &victim,
            Utc::now(),
            &pii(NAME),
            Utc::now() + Duration::days(30),
        )
        .await
        .unwrap();

    // Copy the victim's sealed buyer item, byte for byte, under the other order's key...
    let items = t.scan("pii").await;
    let buyer = items
        .iter()
        .find(|i| s(i, "kind") == "buyer")
        .unwrap()
        .clone();
    let mut moved = buyer.clone();
    moved.insert(
        "seller_order".into(),
        aws_sdk_dynamodb::types::AttributeValue::S(format!("{seller}#{other}")),
    );
    t.dynamo()
        .put_item()
        .table_name(t.stack.table("pii"))
        .set_item(Some(moved))
        .send()
        .await
        .unwrap();
    let err = vault
        .open(&seller, &other, PiiKind::Buyer)
        .await
        .unwrap_err();
    assert!(matches!(err, VaultError::DoesNotOpen { .. }), "{err}");
    assert!(!err.to_string().contains(NAME));

    // ...and under another kind of the same order (the AAD names the kind).
    let mut relabeled = buyer;
    relabeled.insert(
        "kind".into(),
        aws_sdk_dynamodb::types::AttributeValue::S("recipient".into()),
    );
    t.dynamo()
        .put_item()
        .table_name(t.stack.table("pii"))
        .set_item(Some(relabeled))
        .send()
        .await
        .unwrap();
    let err = vault
        .open(&seller, &victim, PiiKind::Recipient)
        .await
        .unwrap_err();
    assert!(matches!(err, VaultError::DoesNotOpen { .. }), "{err}");
}

#[tokio::test]
async fn an_older_order_version_never_replaces_newer_pii() {
    let t = stack("vault-version", SimConfig::demo(1, 1, 3)).await;
    let vault = vault(&t);
    let seller = t.seller(0);
    let order = AmazonOrderId::parse("113-0000003-0000001").unwrap();
    let purge = Utc::now() + Duration::days(30);
    let newer = Utc::now();
    let older = newer - Duration::hours(1);
    assert_eq!(
        vault
            .seal(&seller, &order, newer, &pii("Newer Name Q. Example"), purge)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        vault
            .seal(&seller, &order, older, &pii("Older Name Q. Example"), purge)
            .await
            .unwrap(),
        0
    );
    let opened = vault.open(&seller, &order, PiiKind::Buyer).await.unwrap();
    assert_eq!(buyer_name(opened), "Newer Name Q. Example");

    assert_eq!(
        vault
            .table()
            .purge(&seller, &order, PurgeScope::All)
            .await
            .unwrap(),
        2
    );
    assert!(
        vault
            .open(&seller, &order, PiiKind::Buyer)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        vault
            .table()
            .purge(&seller, &order, PurgeScope::All)
            .await
            .unwrap(),
        0,
        "purging twice is harmless"
    );
}

#[tokio::test]
async fn every_pii_read_is_recorded_before_it_happens() {
    let t = stack("vault-audited", SimConfig::demo(1, 1, 1)).await;
    let vault = vault(&t);
    let seller = t.seller(0);
    let order = AmazonOrderId::parse("113-0000002-0000002").unwrap();
    vault
        .seal(
            &seller,
            &order,
            Utc::now(),
            &pii(NAME),
            Utc::now() + Duration::days(30),
        )
        .await
        .unwrap();
    let audit = shared::aws::DynamoAuditLog::new(t.dynamo(), t.stack.table("audit"));
    let clock = shared::kernel::SystemClock;
    let reader = shared::pii::PiiReader {
        vault: &vault,
        audit: &audit,
        clock: &clock,
    };
    let start = Utc::now();
    let opened = reader
        .open(
            "packer-7",
            "print packing slip",
            &seller,
            &order,
            PiiKind::Buyer,
        )
        .await
        .unwrap();
    assert_eq!(buyer_name(opened), NAME);
    use shared::kernel::AuditLog;
    let events = audit
        .between(
            start - Duration::seconds(1),
            Utc::now() + Duration::seconds(1),
        )
        .await
        .unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    let e = &events[0];
    assert_eq!(e.kind, shared::kernel::AuditKind::PiiRead);
    assert_eq!(
        (e.actor.as_str(), e.purpose.as_str()),
        ("packer-7", "print packing slip")
    );
    assert_eq!(e.order_id.as_ref(), Some(&order));
    assert!(!format!("{events:?}").contains(NAME));
}
