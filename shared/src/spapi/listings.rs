//! Listings Items 2021-08-01 on the transport ([`ListingsApi`], the `stock::Listings` port):
//! the listing's product type and `DEFAULT`-channel quantity read with `getListingsItem`, the
//! quantity set with `patchListingsItem` (`merge` on `/attributes/fulfillment_availability`,
//! so restock dates and handling times stay as the seller set them); both of 20 SKUs at once
//! read with `searchListingsItems` (a reconciliation or a first feed of 10,000 SKUs: 500 calls,
//! not 10,000). Shapes from
//! `listingsItems_2021-08-01.json`; the API answers bare (no `payload`).

use super::Operation;
use super::error::CallError;
use super::transport::{Method, Request, Transport};
use crate::kernel::{MarketplaceId, SellerId, Sku};
use crate::stock::{Listed, ListingAnswer, ListingError, Listings, SEARCH_SKUS};
use async_trait::async_trait;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
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
struct SearchIn {
    items: Vec<FoundIn>,
    #[serde(default)]
    pagination: Option<PaginationIn>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PaginationIn {
    next_token: Option<String>,
}

#[derive(Deserialize)]
struct FoundIn {
    sku: String,
    #[serde(flatten)]
    item: ItemIn,
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

/// What a search reads of each listing.
const INCLUDED: &str = "summaries,fulfillmentAvailability";

impl ItemIn {
    fn product_type(self, marketplace: &MarketplaceId) -> Option<String> {
        self.summaries
            .into_iter()
            .find(|s| s.marketplace_id == marketplace.as_str())
            .map(|s| s.product_type)
    }

    fn default_quantity(&self) -> Option<u32> {
        self.fulfillment_availability
            .iter()
            .find(|a| a.fulfillment_channel_code == DEFAULT_CHANNEL)
            .and_then(|a| a.quantity)
    }

    fn listed(self, marketplace: &MarketplaceId) -> Listed {
        let quantity = self.default_quantity();
        Listed {
            product_type: self.product_type(marketplace),
            quantity,
        }
    }
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
        Ok(item.and_then(|i| i.product_type(marketplace)))
    }

    async fn search(
        &self,
        seller: &SellerId,
        marketplace: &MarketplaceId,
        skus: &[Sku],
    ) -> Result<HashMap<Sku, Listed>, ListingError> {
        let op = Operation::SearchListingsItems;
        // `identifiers` is a comma-separated list: a SKU holding a comma is read alone.
        let (listed, alone): (Vec<&Sku>, Vec<&Sku>) =
            skus.iter().partition(|s| !s.as_str().contains(','));
        let mut found = HashMap::new();
        for sku in alone {
            if let Some(item) = self.item(seller, marketplace, sku, INCLUDED).await? {
                found.insert(sku.clone(), item.listed(marketplace));
            }
        }
        for part in listed.chunks(SEARCH_SKUS) {
            let identifiers: Vec<&str> = part.iter().map(|s| s.as_str()).collect();
            // One page holds all 20; a next page, should Amazon give one, is read too, so a
            // SKU left out is one without a listing, never one on a page not read.
            let mut page: Option<String> = None;
            loop {
                let mut call = Request::get(op, format!("/listings/2021-08-01/items/{seller}"))
                    .query("marketplaceIds", marketplace.as_str())
                    .query("identifiersType", "SKU")
                    .query("identifiers", identifiers.join(","))
                    .query("includedData", INCLUDED)
                    .query("pageSize", SEARCH_SKUS.to_string());
                if let Some(token) = &page {
                    call = call.query("pageToken", token.clone());
                }
                let answer = self
                    .transport
                    .call::<SearchIn>(seller, &call)
                    .await
                    .map_err(|e| listing_error(op, e))?;
                for found_in in answer.items {
                    // Only what was asked for.
                    let Some(sku) = part.iter().find(|s| s.as_str() == found_in.sku) else {
                        continue;
                    };
                    found.insert((*sku).clone(), found_in.item.listed(marketplace));
                }
                page = answer.pagination.and_then(|p| p.next_token);
                if page.is_none() {
                    break;
                }
            }
        }
        Ok(found)
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
        Ok(item.and_then(|i| i.default_quantity()))
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
    use crate::spapi::transport::tests::{CountingBudget, seller, transport};
    use serde_json::json;
    use wiremock::matchers::{method, path, query_param};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    fn item(sku: &str, product_type: &str, quantity: Option<u32>) -> serde_json::Value {
        let mut a = json!({"fulfillmentChannelCode": "DEFAULT"});
        if let Some(q) = quantity {
            a["quantity"] = json!(q);
        }
        json!({
            "sku": sku,
            "summaries": [{"marketplaceId": "ATVPDKIKX0DER", "productType": product_type}],
            "fulfillmentAvailability": [a],
        })
    }

    #[tokio::test]
    async fn a_search_reads_20_skus_a_call_and_a_sku_with_a_comma_alone() {
        let server = MockServer::start().await;
        let skus: Vec<Sku> = (0..21)
            .map(|i| Sku::parse(format!("S-{i:02}")).unwrap())
            .chain([Sku::parse("RED,42").unwrap()])
            .collect();
        let first: Vec<&str> = skus[..20].iter().map(|s| s.as_str()).collect();
        Mock::given(method("GET"))
            .and(path("/listings/2021-08-01/items/A1SELLER"))
            .and(query_param("identifiersType", "SKU"))
            .and(query_param("identifiers", first.join(",")))
            .and(query_param("includedData", "summaries,fulfillmentAvailability"))
            .and(query_param("pageSize", "20"))
            .and(query_param("marketplaceIds", "ATVPDKIKX0DER"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "numberOfResults": 2,
                // S-01 has no listing; a SKU not asked for is not taken.
                "items": [item("S-00", "HOME", Some(4)), item("S-02", "HOME", None), item("OTHER", "TOY", Some(1))],
            })))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/listings/2021-08-01/items/A1SELLER"))
            .and(query_param("identifiers", "S-20"))
            .respond_with(ResponseTemplate::new(200).set_body_json(
                json!({"numberOfResults": 1, "items": [item("S-20", "LAMP", Some(0))]}),
            ))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/listings/2021-08-01/items/A1SELLER/RED%2C42"))
            .respond_with(ResponseTemplate::new(200).set_body_json(item("RED,42", "SHOE", Some(7))))
            .expect(1)
            .mount(&server)
            .await;
        let api = ListingsApi::new(Arc::new(
            transport(&server, Arc::new(CountingBudget::default())).await,
        ));
        let marketplace = MarketplaceId::parse("ATVPDKIKX0DER").unwrap();
        let found = api.search(&seller(), &marketplace, &skus).await.unwrap();
        let listed = |t: &str, q: Option<u32>| Listed {
            product_type: Some(t.into()),
            quantity: q,
        };
        assert_eq!(
            found,
            HashMap::from([
                (skus[0].clone(), listed("HOME", Some(4))),
                (skus[2].clone(), listed("HOME", None)),
                (skus[20].clone(), listed("LAMP", Some(0))),
                (skus[21].clone(), listed("SHOE", Some(7))),
            ])
        );
    }

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
