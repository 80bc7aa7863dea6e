//! Listings Items 2021-08-01 on the transport ([`ListingsApi`], the `stock::Listings` port):
//! the listing's product type and `DEFAULT`-channel quantity read with `getListingsItem`, the
//! quantity set with `patchListingsItem` (`merge` on `/attributes/fulfillment_availability`,
//! so restock dates and handling times stay as the seller set them). Shapes from
//! `listingsItems_2021-08-01.json`; the API answers bare (no `payload`).

use super::Operation;
use super::error::CallError;
use super::transport::{Method, Request, Transport};
use crate::kernel::{MarketplaceId, SellerId, Sku};
use crate::stock::{ListingAnswer, ListingError, Listings};
use async_trait::async_trait;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Everything but unreserved characters is escaped: a SKU may hold `/`, `#`, `?` or spaces.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The merchant-fulfilled channel (FBA has its own codes).
pub const DEFAULT_CHANNEL: &str = "DEFAULT";

pub struct ListingsApi {
    transport: Arc<Transport>,
}

impl ListingsApi {
    pub fn new(transport: Arc<Transport>) -> Self {
        Self { transport }
    }
}

fn item_path(seller: &SellerId, sku: &Sku) -> String {
    format!(
        "/listings/2021-08-01/items/{seller}/{}",
        utf8_percent_encode(sku.as_str(), SEGMENT)
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ItemIn {
    #[serde(default)]
    summaries: Vec<SummaryIn>,
    #[serde(default)]
    fulfillment_availability: Vec<AvailabilityIn>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SummaryIn {
    marketplace_id: String,
    product_type: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AvailabilityIn {
    fulfillment_channel_code: String,
    quantity: Option<u32>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PatchBody<'a> {
    product_type: &'a str,
    patches: [PatchOut; 1],
}

#[derive(Serialize)]
struct PatchOut {
    op: &'static str,
    path: &'static str,
    value: [AvailabilityOut; 1],
}

#[derive(Serialize)]
struct AvailabilityOut {
    fulfillment_channel_code: &'static str,
    quantity: u32,
}

#[derive(Deserialize)]
struct SubmissionIn {
    status: String,
    #[serde(default)]
    issues: Vec<IssueIn>,
}

#[derive(Deserialize)]
struct IssueIn {
    code: String,
    severity: String,
}

fn listing_error(op: Operation, e: CallError) -> ListingError {
    let what = format!("{}: {e}", op.name());
    if e.is_retryable() || matches!(e, CallError::BudgetExhausted { .. } | CallError::Budget(_)) {
        ListingError::Retryable(what)
    } else {
        ListingError::Refused(what)
    }
}

impl ListingsApi {
    async fn item(
        &self,
        seller: &SellerId,
        marketplace: &MarketplaceId,
        sku: &Sku,
        included: &str,
    ) -> Result<Option<ItemIn>, ListingError> {
        let op = Operation::GetListingsItem;
        let call = Request::get(op, item_path(seller, sku))
            .query("marketplaceIds", marketplace.as_str())
            .query("includedData", included);
        match self.transport.call::<ItemIn>(seller, &call).await {
            Ok(item) => Ok(Some(item)),
            Err(CallError::NotFound) => Ok(None),
            Err(e) => Err(listing_error(op, e)),
        }
    }
}

#[async_trait]
impl Listings for ListingsApi {
    async fn product_type(
        &self,
        seller: &SellerId,
        marketplace: &MarketplaceId,
        sku: &Sku,
    ) -> Result<Option<String>, ListingError> {
        let item = self.item(seller, marketplace, sku, "summaries").await?;
        Ok(item.and_then(|i| {
            i.summaries
                .into_iter()
                .find(|s| s.marketplace_id == marketplace.as_str())
                .map(|s| s.product_type)
        }))
    }

    async fn quantity(
        &self,
        seller: &SellerId,
        marketplace: &MarketplaceId,
        sku: &Sku,
    ) -> Result<Option<u32>, ListingError> {
        let item = self
            .item(seller, marketplace, sku, "fulfillmentAvailability")
            .await?;
        Ok(item.and_then(|i| {
            i.fulfillment_availability
                .into_iter()
                .find(|a| a.fulfillment_channel_code == DEFAULT_CHANNEL)
                .and_then(|a| a.quantity)
        }))
    }

    async fn set_quantity(
        &self,
        seller: &SellerId,
        marketplace: &MarketplaceId,
        sku: &Sku,
        product_type: &str,
        quantity: u32,
    ) -> Result<ListingAnswer, ListingError> {
        let op = Operation::PatchListingsItem;
        let body = PatchBody {
            product_type,
            patches: [PatchOut {
                op: "merge",
                path: "/attributes/fulfillment_availability",
                value: [AvailabilityOut {
                    fulfillment_channel_code: DEFAULT_CHANNEL,
                    quantity,
                }],
            }],
        };
        let call = Request::new(op, Method::PATCH, item_path(seller, sku))
            .query("marketplaceIds", marketplace.as_str())
            .json(&body);
        match self.transport.call::<SubmissionIn>(seller, &call).await {
            Ok(s) if s.status == "ACCEPTED" => Ok(ListingAnswer::Accepted),
            Ok(s) => {
                let mut codes: Vec<String> = s
                    .issues
                    .into_iter()
                    .filter(|i| i.severity == "ERROR")
                    .map(|i| i.code)
                    .collect();
                if codes.is_empty() {
                    codes.push(s.status);
                }
                Ok(ListingAnswer::Rejected { codes })
            }
            // Refused for this SKU (a listing that does not exist, input Amazon will not take).
            Err(CallError::Rejected { code, .. }) => {
                Ok(ListingAnswer::Rejected { codes: vec![code] })
            }
            Err(CallError::NotFound) => Ok(ListingAnswer::Rejected {
                codes: vec!["NOT_FOUND".into()],
            }),
            Err(e) => Err(listing_error(op, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sku_is_one_escaped_path_segment() {
        let seller = SellerId::parse("A1").unwrap();
        let sku = Sku::parse("RED/SHOE 42#b").unwrap();
        assert_eq!(
            item_path(&seller, &sku),
            "/listings/2021-08-01/items/A1/RED%2FSHOE%2042%23b"
        );
    }
}
