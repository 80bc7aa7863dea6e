//! The Orders 2026-01-01 shapes the simulator serves, named and nested as in
//! `orders_2026-01-01.json`. Only what a seeded FBM order carries; `None` fields are left out,
//! as Amazon leaves out what an order does not have or `includedData` did not ask for.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Serialize, Serializer};

fn iso<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Secs, true))
}

fn iso_opt<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => iso(t, s),
        None => s.serialize_none(),
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchOrdersResponse {
    pub orders: Vec<Order>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pagination: Option<Pagination>,
    #[serde(serialize_with = "iso")]
    pub last_updated_before: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    pub next_token: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct GetOrderResponse {
    pub order: Order,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    pub order_id: String,
    #[serde(serialize_with = "iso")]
    pub created_time: DateTime<Utc>,
    #[serde(serialize_with = "iso")]
    pub last_updated_time: DateTime<Utc>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub programs: Vec<String>,
    pub sales_channel: SalesChannel,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buyer: Option<Buyer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipient: Option<Recipient>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fulfillment: Option<OrderFulfillment>,
    pub order_items: Vec<OrderItem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packages: Option<Vec<OrderPackage>>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SalesChannel {
    pub channel_name: String,
    pub marketplace_id: String,
    pub marketplace_name: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Buyer {
    pub buyer_name: String,
    pub buyer_email: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buyer_company_name: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Recipient {
    pub delivery_address: CustomerAddress,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerAddress {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    pub address_line1: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address_line2: Option<String>,
    pub city: String,
    pub state_or_region: String,
    pub postal_code: String,
    pub country_code: String,
    pub phone: String,
    pub address_type: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderFulfillment {
    pub fulfillment_status: String,
    pub fulfilled_by: String,
    pub fulfillment_service_level: String,
    pub ship_by_window: DateTimeRange,
    pub deliver_by_window: DateTimeRange,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DateTimeRange {
    #[serde(serialize_with = "iso_opt", skip_serializing_if = "Option::is_none")]
    pub earliest_date_time: Option<DateTime<Utc>>,
    #[serde(serialize_with = "iso_opt", skip_serializing_if = "Option::is_none")]
    pub latest_date_time: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderItem {
    pub order_item_id: String,
    pub quantity_ordered: u32,
    pub product: ItemProduct,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fulfillment: Option<ItemFulfillment>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemProduct {
    pub asin: String,
    pub title: String,
    pub seller_sku: String,
    pub condition: ItemCondition,
    pub price: ItemPrice,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemCondition {
    pub condition_type: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemPrice {
    pub unit_price: Money,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Money {
    pub amount: String,
    pub currency_code: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemFulfillment {
    pub quantity_fulfilled: u32,
    pub quantity_unfulfilled: u32,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderPackage {
    pub package_reference_id: String,
    #[serde(serialize_with = "iso")]
    pub created_time: DateTime<Utc>,
    pub package_status: PackageStatus,
    pub carrier: String,
    #[serde(serialize_with = "iso")]
    pub ship_time: DateTime<Utc>,
    pub shipping_service: String,
    pub tracking_number: String,
    pub package_items: Vec<PackageItem>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PackageStatus {
    pub status: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PackageItem {
    pub order_item_id: String,
    pub quantity: u32,
}

/// The error body of every SP-API operation.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorList {
    pub errors: Vec<ApiError>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ApiError {
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
}

impl ErrorList {
    pub fn one(code: &str, message: impl Into<String>) -> Self {
        Self {
            errors: vec![ApiError {
                code: code.into(),
                message: message.into(),
                details: None,
            }],
        }
    }
}
