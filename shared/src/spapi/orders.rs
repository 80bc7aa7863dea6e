//! Orders 2026-01-01 on the transport: `searchOrders` and `getOrder` as the suite uses them
//! ([`OrdersApi`], the `orders::AmazonOrders` port), the response shapes
//! (`orders_2026-01-01.json`, only the fields fulfilment needs) and their translation into the
//! capability: facts to [`Order`], PII to [`OrderPii`]. Fields we do not need (gift
//! messages, customization URLs, tax, payment) are never read.

use super::Operation;
use super::error::CallError;
use super::transport::{Request, Transport};
use crate::kernel::{
    Address, AmazonOrderId, BuyerPii, MarketplaceId, OrderItemId, OrderPii, Pii, SellerId, Sku,
};
use crate::orders::{
    Admission, AmazonError, AmazonOrders, FetchedOrder, Money, Order, OrderLine, OrderSearch,
    OrderStatus, OrdersPage, PackageState, ShipmentPackage, UnreadableOrder,
};
use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use std::sync::Arc;

const ORDERS_PATH: &str = "/orders/2026-01-01/orders";

/// Amazon's Orders API for the suite's intake.
pub struct OrdersApi {
    transport: Arc<Transport>,
}

impl OrdersApi {
    pub fn new(transport: Arc<Transport>) -> Self {
        Self { transport }
    }

    async fn fetch_order(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
        reserved: bool,
    ) -> Result<FetchedOrder, AmazonError> {
        let op = Operation::GetOrder;
        let request = Request::get(op, format!("{ORDERS_PATH}/{order}"))
            .query("includedData", INCLUDED_DATA.join(","))
            .reserved(reserved);
        let resp: GetOrderResponse = self
            .transport
            .call(seller, &request)
            .await
            .map_err(|e| amazon_error(seller, op, e))?;
        to_fetched_order(seller, resp.order).map_err(|reason| AmazonError::Unreadable {
            operation: op.name(),
            seller_id: seller.clone(),
            reason,
        })
    }
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[async_trait]
impl AmazonOrders for OrdersApi {
    async fn search_orders(
        &self,
        seller: &SellerId,
        search: &OrderSearch,
    ) -> Result<OrdersPage, AmazonError> {
        let op = Operation::SearchOrders;
        let marketplaces = search
            .marketplace_ids
            .iter()
            .map(|m| m.as_str())
            .collect::<Vec<_>>()
            .join(",");
        let mut request = Request::get(op, ORDERS_PATH)
            .query("lastUpdatedAfter", iso(search.updated_after))
            .query("lastUpdatedBefore", iso(search.updated_before))
            .query("marketplaceIds", marketplaces)
            .query("fulfilledBy", "MERCHANT")
            .query("maxResultsPerPage", search.page_size.to_string())
            .query("includedData", INCLUDED_DATA.join(","));
        if let Some(page) = &search.page {
            request = request.query("paginationToken", page.clone());
        }
        let resp: SearchOrdersResponse = match self.transport.call(seller, &request).await {
            Ok(resp) => resp,
            // A page token Amazon no longer knows (they expire after 24 hours) is refused as
            // a bad request.
            Err(CallError::Rejected { status: 400, .. }) if search.page.is_some() => {
                return Err(AmazonError::PageTokenExpired {
                    seller_id: seller.clone(),
                });
            }
            Err(e) => return Err(amazon_error(seller, op, e)),
        };
        let (mut orders, mut unreadable) = (Vec::new(), Vec::new());
        for raw in &resp.orders {
            match read_listed_order(seller, raw) {
                Ok(order) => orders.push(order),
                Err(u) => unreadable.push(u),
            }
        }
        Ok(OrdersPage {
            orders,
            unreadable,
            next_page: resp.pagination.and_then(|p| p.next_token),
        })
    }

    async fn reserve_get_orders(
        &self,
        seller: &SellerId,
        count: usize,
    ) -> Result<Vec<Admission>, AmazonError> {
        let op = Operation::GetOrder;
        let places = self
            .transport
            .reserve_places(seller, op, count)
            .await
            .map_err(|e| amazon_error(seller, op, e))?;
        Ok(places
            .into_iter()
            .map(|p| match p {
                Ok(wait) => Admission::Go { wait },
                Err(later) => Admission::Later {
                    reserved_at: later.reserved_at,
                    wait: later.wait,
                },
            })
            .collect())
    }

    async fn get_order(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
    ) -> Result<FetchedOrder, AmazonError> {
        self.fetch_order(seller, order, false).await
    }

    async fn get_order_reserved(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
    ) -> Result<FetchedOrder, AmazonError> {
        self.fetch_order(seller, order, true).await
    }
}

/// A failed Orders call in intake's words.
fn amazon_error(seller: &SellerId, op: Operation, e: CallError) -> AmazonError {
    let operation = op.name();
    let seller_id = seller.clone();
    match e {
        CallError::Denied { status, code } => AmazonError::Unauthorized {
            operation,
            seller_id,
            status,
            code,
        },
        CallError::Login(failure) => AmazonError::Login { seller_id, failure },
        CallError::Credentials(e) => AmazonError::Credentials(e),
        CallError::Throttled { attempts } => AmazonError::Throttled {
            operation,
            seller_id,
            attempts,
        },
        CallError::Server { status, attempts } => AmazonError::Transient {
            operation,
            seller_id,
            detail: format!("server error HTTP {status}"),
            attempts,
        },
        CallError::Transport { message, attempts } => AmazonError::Transient {
            operation,
            seller_id,
            detail: format!("transport failure: {message}"),
            attempts,
        },
        CallError::NotFound => AmazonError::NotFound {
            operation,
            seller_id,
        },
        CallError::Rejected {
            status,
            code,
            message,
        } => AmazonError::Rejected {
            operation,
            seller_id,
            status,
            code,
            message,
        },
        CallError::Decode { reason } => AmazonError::Unreadable {
            operation,
            seller_id,
            reason,
        },
        CallError::BudgetExhausted {
            retry_after_ms,
            reserved_at,
        } => AmazonError::BudgetExhausted {
            operation,
            seller_id,
            retry_after_ms,
            reserved_at,
        },
        CallError::Budget(source) => AmazonError::Budget {
            operation,
            seller_id,
            source,
        },
    }
}

/// What fulfilment asks for: who bought, where it goes, by when, and what has shipped.
pub(crate) const INCLUDED_DATA: [&str; 4] = ["BUYER", "RECIPIENT", "FULFILLMENT", "PACKAGES"];

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SearchOrdersResponse {
    /// Read one by one (`read_listed_order`): an order that does not read costs itself,
    /// not its page.
    pub orders: Vec<Box<serde_json::value::RawValue>>,
    pub pagination: Option<Pagination>,
}

/// An order's id read apart from the rest of it (order ids are not PII).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListedOrderId {
    order_id: Option<AmazonOrderId>,
}

/// One order of a `searchOrders` page, or why it could not be read: its id when that reads,
/// and a reason that names fields and positions, never a value.
fn read_listed_order(
    seller: &SellerId,
    raw: &serde_json::value::RawValue,
) -> Result<FetchedOrder, UnreadableOrder> {
    let order_id = serde_json::from_str::<ListedOrderId>(raw.get())
        .ok()
        .and_then(|l| l.order_id);
    let unreadable = |reason: String| UnreadableOrder {
        order_id: order_id.clone(),
        reason,
    };
    let model: OrderModel = serde_json::from_str(raw.get()).map_err(|e| {
        unreadable(format!(
            "not an Orders 2026-01-01 order: {}",
            crate::kernel::serde_reason(&e)
        ))
    })?;
    to_fetched_order(seller, model).map_err(unreadable)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Pagination {
    pub next_token: Option<String>,
}

#[derive(Debug, Deserialize)]
struct GetOrderResponse {
    pub order: OrderModel,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderModel {
    pub order_id: String,
    pub created_time: DateTime<Utc>,
    pub last_updated_time: DateTime<Utc>,
    #[serde(default)]
    pub programs: Vec<String>,
    pub sales_channel: SalesChannel,
    pub buyer: Option<BuyerModel>,
    pub recipient: Option<RecipientModel>,
    pub fulfillment: Option<OrderFulfillment>,
    pub order_items: Vec<OrderItemModel>,
    #[serde(default)]
    pub packages: Vec<PackageModel>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SalesChannel {
    pub marketplace_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuyerModel {
    pub buyer_name: Option<Pii<String>>,
    pub buyer_email: Option<Pii<String>>,
    pub buyer_company_name: Option<Pii<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecipientModel {
    pub delivery_address: Option<Address>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderFulfillment {
    pub fulfillment_status: String,
    pub fulfillment_service_level: Option<String>,
    pub ship_by_window: Option<DateTimeRange>,
    pub deliver_by_window: Option<DateTimeRange>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DateTimeRange {
    pub latest_date_time: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderItemModel {
    pub order_item_id: String,
    pub quantity_ordered: u32,
    pub product: ItemProduct,
    pub fulfillment: Option<ItemFulfillment>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemProduct {
    pub asin: Option<String>,
    pub title: Option<String>,
    pub seller_sku: Option<String>,
    pub price: Option<ItemPrice>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemPrice {
    pub unit_price: Option<MoneyModel>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MoneyModel {
    pub amount: String,
    pub currency_code: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemFulfillment {
    pub quantity_fulfilled: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PackageModel {
    pub package_reference_id: String,
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    pub ship_time: Option<DateTime<Utc>>,
    pub package_status: Option<PackageStatusModel>,
}

#[derive(Debug, Deserialize)]
pub struct PackageStatusModel {
    pub status: String,
}

fn package_state(s: &str) -> Option<PackageState> {
    Some(match s {
        "PENDING" => PackageState::Pending,
        "IN_TRANSIT" => PackageState::InTransit,
        "SHIPPED" => PackageState::Shipped,
        "DELIVERED" => PackageState::Delivered,
        "CANCELLED" => PackageState::Cancelled,
        "UNDELIVERABLE" => PackageState::Undeliverable,
        _ => return None,
    })
}

fn order_status(fulfillment_status: &str, delivered: bool) -> Result<OrderStatus, String> {
    Ok(match fulfillment_status {
        "PENDING_AVAILABILITY" | "PENDING" => OrderStatus::Pending,
        "UNSHIPPED" | "PARTIALLY_SHIPPED" => OrderStatus::Unshipped,
        "SHIPPED" if delivered => OrderStatus::Delivered,
        "SHIPPED" => OrderStatus::Shipped,
        "CANCELLED" => OrderStatus::Canceled,
        "UNFULFILLABLE" => OrderStatus::Unfulfillable,
        other => return Err(format!("unknown fulfillmentStatus {other:?}")),
    })
}

/// Split an Orders 2026-01-01 order into facts and PII. The error names the order and the
/// field, never a value that could be PII.
fn to_fetched_order(seller: &SellerId, m: OrderModel) -> Result<FetchedOrder, String> {
    let order_id = AmazonOrderId::parse(&m.order_id).map_err(|e| format!("orderId: {e}"))?;
    let bad = |field: &str, e: &dyn std::fmt::Display| format!("order {order_id}: {field}: {e}");
    let fulfillment = m
        .fulfillment
        .ok_or_else(|| bad("fulfillment", &"missing (includedData FULFILLMENT)"))?;
    let packages: Vec<ShipmentPackage> = m
        .packages
        .into_iter()
        .map(|p| ShipmentPackage {
            package_reference_id: p.package_reference_id,
            carrier: p.carrier,
            tracking_number: p.tracking_number,
            ship_time: p.ship_time,
            state: p.package_status.and_then(|s| package_state(&s.status)),
        })
        .collect();
    let delivered = !packages.is_empty()
        && packages
            .iter()
            .all(|p| p.state == Some(PackageState::Delivered));
    let status = order_status(&fulfillment.fulfillment_status, delivered)
        .map_err(|e| bad("fulfillmentStatus", &e))?;
    let lines = m
        .order_items
        .into_iter()
        .map(|i| {
            Ok(OrderLine {
                order_item_id: OrderItemId::parse(i.order_item_id)
                    .map_err(|e| bad("orderItemId", &e))?,
                sku: i
                    .product
                    .seller_sku
                    .map(Sku::parse)
                    .transpose()
                    .map_err(|e| bad("sellerSku", &e))?,
                asin: i.product.asin,
                title: i.product.title,
                quantity_ordered: i.quantity_ordered,
                quantity_shipped: i
                    .fulfillment
                    .and_then(|f| f.quantity_fulfilled)
                    .unwrap_or(0),
                unit_price: i.product.price.and_then(|p| p.unit_price).map(|m| Money {
                    amount: m.amount,
                    currency_code: m.currency_code,
                }),
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let marketplace_id = m
        .sales_channel
        .marketplace_id
        .map(MarketplaceId::parse)
        .transpose()
        .map_err(|e| bad("salesChannel.marketplaceId", &e))?;
    let order = Order {
        seller_id: seller.clone(),
        order_id,
        marketplace_id,
        status,
        created_at: m.created_time,
        last_updated_at: m.last_updated_time,
        ship_by: fulfillment.ship_by_window.and_then(|w| w.latest_date_time),
        deliver_by: fulfillment
            .deliver_by_window
            .and_then(|w| w.latest_date_time),
        service_level: fulfillment.fulfillment_service_level,
        programs: m.programs,
        lines,
        packages,
        delivered_at: None,
        label_blocked: None,
        parcels: vec![],
    };
    let pii = OrderPii {
        buyer: m.buyer.map(|b| BuyerPii {
            name: b.buyer_name,
            email: b.buyer_email,
            company_name: b.buyer_company_name,
        }),
        recipient: m.recipient.and_then(|r| r.delivery_address),
    };
    Ok(FetchedOrder { order, pii })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::value::RawValue;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_owned()).unwrap()
    }

    #[test]
    fn an_order_that_does_not_read_keeps_its_id_and_names_no_value() {
        let seller = SellerId::parse("A1SELLER").unwrap();
        // createdTime holds a name instead of a time: no model reads it.
        let broken = raw(
            r#"{"orderId": "113-1234567-1234567", "createdTime": "Marisol Quintero", "orderItems": []}"#,
        );
        let u = read_listed_order(&seller, &broken).unwrap_err();
        assert_eq!(u.order_id.unwrap().as_str(), "113-1234567-1234567");
        assert!(
            u.reason.starts_with("not an Orders 2026-01-01 order"),
            "{}",
            u.reason
        );
        assert!(!u.reason.contains("Marisol"), "{}", u.reason);
        // Without a readable id it is still reported, by reason alone.
        let u = read_listed_order(&seller, &raw(r#"{"orderId": 7}"#)).unwrap_err();
        assert_eq!(u.order_id, None);
    }
}
