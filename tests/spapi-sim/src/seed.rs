//! Deterministic seeding: the same seed gives the same orders, buyers and addresses, so a
//! failing test can be replayed. Every buyer value is fake but shaped like the real thing.

use crate::model::{
    Buyer, CustomerAddress, DateTimeRange, ItemCondition, ItemFulfillment, ItemPrice, ItemProduct,
    Money, Order, OrderFulfillment, OrderItem, OrderPackage, PackageItem, PackageStatus, Recipient,
    SalesChannel,
};
use chrono::{DateTime, Duration, SubsecRound, Utc};
use rand::{Rng, SeedableRng, seq::IndexedRandom};
use rand_chacha::ChaCha8Rng;

const FIRST: &[&str] = &[
    "Marisol",
    "Oluwaseun",
    "Henrietta",
    "Bartholomew",
    "Anneliese",
    "Thaddeus",
    "Genevieve",
    "Evangelos",
    "Rosalind",
    "Ignatius",
    "Philippa",
    "Leopoldo",
    "Wilhelmina",
    "Cornelius",
    "Seraphina",
    "Maximilian",
    "Josephine",
    "Augustin",
    "Clementine",
    "Ferdinand",
];
const LAST: &[&str] = &[
    "Okonkwo-Hale",
    "Vasquez-Lindqvist",
    "Brightwater",
    "Castellanos",
    "Featherstone",
    "Nakamura-Reyes",
    "Oyelaran",
    "Thistlewood",
    "Abernathy",
    "Kowalczykowa",
    "Delacroix",
    "Hargreaves",
    "Szczepanski",
    "Montgomery-Ito",
    "Quarterman",
    "Wolstenholme",
];
const STREETS: &[&str] = &[
    "Larchmont Terrace",
    "Quillfeather Lane",
    "Old Mill Causeway",
    "Birchwood Crescent",
    "Harborview Parkway",
    "Kingfisher Hollow",
    "Sycamore Ridge Road",
    "Juniper Vale Court",
    "Marigold Esplanade",
    "Cobblestone Row",
];
const CITIES: &[(&str, &str, &str)] = &[
    ("Wenatchee Falls", "WA", "98801"),
    ("Port Ellisburg", "OR", "97031"),
    ("Grangeville Heights", "ID", "83530"),
    ("Lake Tamsworth", "MN", "55744"),
    ("North Bexley", "OH", "43209"),
    ("Cedar Hollowell", "IA", "52411"),
    ("Saint Aldric", "MO", "63301"),
    ("Fort Penhallow", "TX", "76437"),
];
const COMPANIES: &[&str] = &[
    "Quillmark Dental Supply LLC",
    "Brightwater Robotics Inc",
    "Thistlewood Catering Co",
];
const PRODUCTS: &[(&str, &str, &str)] = &[
    ("B0SIMCHAIR1", "Ergonomic Task Chair, Mesh Back", "24.50"),
    ("B0SIMLAMP02", "LED Desk Lamp with USB-C Port", "31.99"),
    (
        "B0SIMMUG003",
        "Stoneware Coffee Mug 12 oz, Set of 4",
        "18.75",
    ),
    (
        "B0SIMKNIFE4",
        "Chef's Knife 8 inch, High-Carbon Steel",
        "42.00",
    ),
    ("B0SIMBOTTL5", "Insulated Water Bottle 24 oz", "21.95"),
    ("B0SIMCABLE6", "Braided USB-C Cable 2 m, 2-Pack", "12.49"),
    ("B0SIMTOWEL7", "Organic Cotton Bath Towel", "16.20"),
    (
        "B0SIMPUZZL8",
        "1000-Piece Jigsaw Puzzle, Lighthouses",
        "19.99",
    ),
];
/// Amazon product types of the seeded products, in `PRODUCTS` order.
const PRODUCT_TYPES: &[&str] = &[
    "CHAIR",
    "LAMP",
    "DRINKING_CUP",
    "KITCHEN_KNIFE",
    "BOTTLE",
    "ELECTRONIC_CABLE",
    "HOME",
    "PUZZLES",
];

/// Every SKU the seeded orders can name: `(sku, asin, title, product type)`.
pub(crate) fn catalog() -> Vec<(String, String, String, String)> {
    PRODUCTS
        .iter()
        .enumerate()
        .flat_map(|(i, (asin, title, _))| {
            (0..3).map(move |n| {
                (
                    format!("SKU-{}-{n}", &asin[5..]),
                    (*asin).to_owned(),
                    (*title).to_owned(),
                    PRODUCT_TYPES.get(i).copied().unwrap_or("HOME").to_owned(),
                )
            })
        })
        .collect()
}

const SERVICE_LEVELS: &[&str] = &[
    "STANDARD",
    "STANDARD",
    "STANDARD",
    "EXPEDITED",
    "SECOND_DAY",
];
const CARRIERS: &[(&str, &str)] = &[
    ("UPS", "UPS Ground"),
    ("USPS", "USPS Ground Advantage"),
    ("FedEx", "FedEx Home Delivery"),
];

/// What a seeded order is at seeding time. Decides which parts Amazon shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Pending,
    Unshipped,
    Shipped { delivered: bool },
    Cancelled,
}

/// Orders for one seller, all updated between `now - 6 days` and `now - 10 minutes` so that a
/// first sweep (which Amazon only serves up to two minutes before now) sees every one.
pub fn seller_orders(
    seed: u64,
    seller_index: usize,
    marketplace_id: &str,
    count: usize,
    now: DateTime<Utc>,
) -> Vec<Order> {
    // Amazon's times are whole seconds; sub-second seeds would fall between query bounds.
    let now = now.trunc_subsecs(0);
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ ((seller_index as u64 + 1) << 40));
    let mut orders: Vec<Order> = (0..count)
        .map(|i| one_order(&mut rng, seller_index, i, marketplace_id, now))
        .collect();
    orders.sort_by(|a, b| {
        (a.last_updated_time, &a.order_id).cmp(&(b.last_updated_time, &b.order_id))
    });
    orders
}

fn one_order(
    rng: &mut ChaCha8Rng,
    seller_index: usize,
    i: usize,
    marketplace_id: &str,
    now: DateTime<Utc>,
) -> Order {
    // Unique per seller and index, shaped 3-7-7 like Amazon's.
    let order_id = format!(
        "{:03}-{:07}-{:07}",
        111 + seller_index % 800,
        (i * 7919 + seller_index * 104_729) % 10_000_000,
        rng.random_range(0..10_000_000u32)
    );
    let updated = now - Duration::minutes(10) - Duration::seconds(rng.random_range(0..6 * 86_400));
    let created = updated - Duration::seconds(rng.random_range(0..2 * 86_400));
    let shape = match rng.random_range(0..100) {
        0..5 => Shape::Pending,
        5..65 => Shape::Unshipped,
        65..80 => Shape::Shipped { delivered: false },
        80..94 => Shape::Shipped { delivered: true },
        _ => Shape::Cancelled,
    };
    build_order(rng, order_id, marketplace_id, created, updated, shape)
}

/// An order a buyer places at `now`: unshipped, payment cleared. Its id is unique among the
/// seller's orders (`i` counts past the seeded ones).
pub fn placed_order(
    seed: u64,
    seller_index: usize,
    i: usize,
    marketplace_id: &str,
    now: DateTime<Utc>,
) -> Order {
    let now = now.trunc_subsecs(0);
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ ((seller_index as u64 + 1) << 40) ^ (i as u64));
    let order_id = format!(
        "{:03}-{:07}-{:07}",
        111 + seller_index % 800,
        (i * 7919 + seller_index * 104_729) % 10_000_000,
        rng.random_range(0..10_000_000u32)
    );
    build_order(
        &mut rng,
        order_id,
        marketplace_id,
        now,
        now,
        Shape::Unshipped,
    )
}

fn build_order(
    rng: &mut ChaCha8Rng,
    order_id: String,
    marketplace_id: &str,
    created: DateTime<Utc>,
    updated: DateTime<Utc>,
    shape: Shape,
) -> Order {
    let ship_by = created + Duration::days(2);
    let deliver_by = created + Duration::days(rng.random_range(4..8));
    let items: Vec<OrderItem> = (0..rng.random_range(1..=3))
        .map(|n| {
            let (asin, title, price) = PRODUCTS.choose(rng).expect("products");
            let qty = rng.random_range(1..=3);
            let shipped = matches!(shape, Shape::Shipped { .. });
            OrderItem {
                order_item_id: format!(
                    "{:014}",
                    rng.random_range(10_000_000_000_000u64..99_999_999_999_999)
                ),
                quantity_ordered: qty,
                product: ItemProduct {
                    asin: (*asin).into(),
                    title: (*title).into(),
                    seller_sku: format!("SKU-{}-{n}", &asin[5..]),
                    condition: ItemCondition {
                        condition_type: "New".into(),
                    },
                    price: ItemPrice {
                        unit_price: Money {
                            amount: (*price).into(),
                            currency_code: "USD".into(),
                        },
                    },
                },
                fulfillment: Some(ItemFulfillment {
                    quantity_fulfilled: if shipped { qty } else { 0 },
                    quantity_unfulfilled: if shipped { 0 } else { qty },
                }),
            }
        })
        .collect();
    // Amazon withholds buyer and address until payment clears, and after cancellation.
    let has_pii = matches!(shape, Shape::Unshipped | Shape::Shipped { .. });
    let (buyer, recipient) = if has_pii {
        let (b, r) = buyer_and_address(rng);
        (Some(b), Some(r))
    } else {
        (None, None)
    };
    let packages = match shape {
        Shape::Shipped { delivered } => {
            let (carrier, service) = CARRIERS.choose(rng).expect("carriers");
            let ship_time = (created + Duration::hours(rng.random_range(4..40))).min(updated);
            Some(vec![OrderPackage {
                package_reference_id: "1".into(),
                created_time: ship_time - Duration::hours(1),
                package_status: PackageStatus {
                    status: if delivered { "DELIVERED" } else { "IN_TRANSIT" }.into(),
                },
                carrier: (*carrier).into(),
                ship_time,
                shipping_service: (*service).into(),
                tracking_number: format!(
                    "1Z{:016}",
                    rng.random_range(0..10_000_000_000_000_000u64)
                ),
                package_items: items
                    .iter()
                    .map(|it| PackageItem {
                        order_item_id: it.order_item_id.clone(),
                        quantity: it.quantity_ordered,
                    })
                    .collect(),
            }])
        }
        _ => None,
    };
    let status = match shape {
        Shape::Pending => "PENDING",
        Shape::Unshipped => "UNSHIPPED",
        Shape::Shipped { .. } => "SHIPPED",
        Shape::Cancelled => "CANCELLED",
    };
    Order {
        order_id,
        created_time: created,
        last_updated_time: updated,
        programs: if rng.random_bool(0.3) {
            vec!["PRIME".into()]
        } else {
            Vec::new()
        },
        sales_channel: SalesChannel {
            channel_name: "Amazon.com".into(),
            marketplace_id: marketplace_id.into(),
            marketplace_name: "Amazon.com".into(),
        },
        buyer,
        recipient,
        fulfillment: Some(OrderFulfillment {
            fulfillment_status: status.into(),
            fulfilled_by: "MERCHANT".into(),
            fulfillment_service_level: (*SERVICE_LEVELS.choose(rng).expect("levels")).into(),
            ship_by_window: DateTimeRange {
                earliest_date_time: Some(created),
                latest_date_time: Some(ship_by),
            },
            deliver_by_window: DateTimeRange {
                earliest_date_time: Some(created + Duration::days(3)),
                latest_date_time: Some(deliver_by),
            },
        }),
        order_items: items,
        packages,
    }
}

fn buyer_and_address(rng: &mut ChaCha8Rng) -> (Buyer, Recipient) {
    let name = format!(
        "{} {}",
        FIRST.choose(rng).expect("names"),
        LAST.choose(rng).expect("names")
    );
    // Amazon gives an anonymised relay address; a random local part makes each one unique.
    let local: String = (0..14)
        .map(|_| char::from(b"abcdefghijklmnopqrstuvwxyz0123456789"[rng.random_range(0..36)]))
        .collect();
    let company = rng
        .random_bool(0.1)
        .then(|| (*COMPANIES.choose(rng).expect("companies")).to_owned());
    let (city, state, zip) = CITIES.choose(rng).expect("cities");
    let recipient_name = if rng.random_bool(0.8) {
        name.clone()
    } else {
        format!(
            "{} {}",
            FIRST.choose(rng).expect("names"),
            LAST.choose(rng).expect("names")
        )
    };
    let buyer = Buyer {
        buyer_name: name,
        buyer_email: format!("{local}@marketplace.amazon.com"),
        buyer_company_name: company.clone(),
    };
    let address = CustomerAddress {
        name: recipient_name,
        company_name: company,
        address_line1: format!(
            "{} {}",
            rng.random_range(100..9999),
            STREETS.choose(rng).expect("streets")
        ),
        address_line2: rng.random_bool(0.3).then(|| {
            format!(
                "Apartment {}{}",
                rng.random_range(1..40),
                ['A', 'B', 'C'][rng.random_range(0..3)]
            )
        }),
        city: (*city).into(),
        state_or_region: (*state).into(),
        postal_code: (*zip).into(),
        country_code: "US".into(),
        phone: format!(
            "+1 {:03}-555-{:04}",
            rng.random_range(201..990),
            rng.random_range(100..10_000)
        ),
        address_type: if rng.random_bool(0.85) {
            "RESIDENTIAL"
        } else {
            "COMMERCIAL"
        }
        .into(),
    };
    (
        buyer,
        Recipient {
            delivery_address: address,
        },
    )
}

/// Every PII value an order carries, for the log scan. Short values (state codes, ZIPs) are left
/// out: they could appear in a log by coincidence and say nothing about a leak.
pub fn pii_values(order: &Order, into: &mut Vec<String>) {
    let mut push = |v: &str| {
        if v.len() >= 8 {
            into.push(v.to_owned());
        }
    };
    if let Some(b) = &order.buyer {
        push(&b.buyer_name);
        push(&b.buyer_email);
        if let Some(c) = &b.buyer_company_name {
            push(c);
        }
    }
    if let Some(r) = &order.recipient {
        let a = &r.delivery_address;
        push(&a.name);
        push(&a.address_line1);
        if let Some(l2) = &a.address_line2 {
            push(l2);
        }
        push(&a.city);
        push(&a.phone);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_orders() {
        let now = Utc::now();
        let a = seller_orders(5, 0, "ATVPDKIKX0DER", 50, now);
        let b = seller_orders(5, 0, "ATVPDKIKX0DER", 50, now);
        let ids = |o: &[Order]| o.iter().map(|o| o.order_id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&a), ids(&b));
        assert_ne!(ids(&a), ids(&seller_orders(6, 0, "ATVPDKIKX0DER", 50, now)));
    }

    #[test]
    fn order_ids_are_unique_across_sellers_and_served_oldest_first() {
        let now = Utc::now();
        let mut all = std::collections::HashSet::new();
        for s in 0..5 {
            let orders = seller_orders(9, s, "ATVPDKIKX0DER", 300, now);
            assert!(
                orders
                    .windows(2)
                    .all(|w| w[0].last_updated_time <= w[1].last_updated_time)
            );
            assert!(
                orders
                    .iter()
                    .all(|o| o.last_updated_time <= now - Duration::minutes(10))
            );
            for o in orders {
                assert!(all.insert(o.order_id), "duplicate id");
            }
        }
    }

    #[test]
    fn orders_with_buyers_carry_distinctive_pii() {
        let orders = seller_orders(3, 0, "ATVPDKIKX0DER", 100, Utc::now());
        let with_pii = orders.iter().filter(|o| o.buyer.is_some()).count();
        assert!(with_pii > 60, "{with_pii}");
        let mut values = Vec::new();
        for o in &orders {
            pii_values(o, &mut values);
        }
        assert!(values.len() >= with_pii * 5);
        assert!(values.iter().all(|v| v.len() >= 8));
    }
}
