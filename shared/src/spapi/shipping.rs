//! Shipping API v2 on the transport: `getRates` and `purchaseShipment` for Amazon orders
//! ([`ShippingApi`], the `labels::Shipping` port). `channelType: AMAZON`: Amazon supplies the
//! ship-to address, so no request carries PII; the label document in the answer names the
//! recipient and is read straight into `Pii`. Shapes from `shippingV2.json`, only the fields
//! the label flow uses.

use super::Operation;
use super::error::CallError;
use super::transport::{Method, Request, Transport};
use crate::kernel::{Clock, MarketplaceId, PackageId, Pii, SellerId};
use crate::labels::{
    Charge, LabelDocument, LabelFormat, LabelRecord, PurchasedLabel, Quote, Rate, RateRequest,
    Shipping, ShippingError, TrackingReport, WatchedParcel,
};
use async_trait::async_trait;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

const RATES_PATH: &str = "/shipping/v2/shipments/rates";
const SHIPMENTS_PATH: &str = "/shipping/v2/shipments";
/// The resolution every label is bought at (thermal printers print 203 dpi).
const DPI: u32 = 203;

/// The Amazon shipping business that sells labels for a marketplace's orders (header
/// `x-amzn-shipping-business-id`; Amazon's default is the UK business, so it is always sent).
fn shipping_business(marketplace: &MarketplaceId) -> Option<&'static str> {
    Some(match marketplace.as_str() {
        "ATVPDKIKX0DER" => "AmazonShipping_US",
        "A1F83G8C2ARO7P" => "AmazonShipping_UK",
        "A21TJRUUN4KGTP" => "AmazonShipping_IN",
        "A2VIGQ35RCS4UG" => "AmazonShipping_UAE",
        "A17E79C6D8DWNP" => "AmazonShipping_SA",
        "ARBP9OOSHTCHU" => "AmazonShipping_EG",
        "APJ6JRA9NG5V4" => "AmazonShipping_IT",
        "A1RKKUPIHCS9HS" => "AmazonShipping_ES",
        "A13V1IB3VIYZZH" => "AmazonShipping_FR",
        "A1VC38T7YXB528" => "AmazonShipping_JP",
        _ => return None,
    })
}

/// Amazon's Buy Shipping for the label flow.
pub struct ShippingApi {
    transport: Arc<Transport>,
    clock: Arc<dyn Clock>,
}

impl ShippingApi {
    pub fn new(transport: Arc<Transport>, clock: Arc<dyn Clock>) -> Self {
        Self { transport, clock }
    }

    fn error(&self, seller: &SellerId, op: Operation, e: CallError) -> ShippingError {
        shipping_error(self.clock.as_ref(), seller, op, e)
    }
}

/// A failed call in the label flow's words (Shipping v2 and Orders v0 `confirmShipment`).
pub(super) fn shipping_error(
    clock: &dyn Clock,
    seller: &SellerId,
    op: Operation,
    e: CallError,
) -> ShippingError {
    let operation = op.name();
    let seller_id = seller.clone();
    match e {
        CallError::Rejected { code, .. } if code == "TOKEN_EXPIRED" => {
            ShippingError::RateExpired { seller_id }
        }
        CallError::Rejected {
            status,
            code,
            message,
        } => ShippingError::Refused {
            operation,
            seller_id,
            status,
            code,
            message,
        },
        CallError::NotFound => ShippingError::Refused {
            operation,
            seller_id,
            status: 404,
            code: "NotFound".into(),
            message: String::new(),
        },
        CallError::Denied { status, code } => ShippingError::Unauthorized {
            operation,
            seller_id,
            status,
            code,
        },
        CallError::Login(failure) => ShippingError::Login { seller_id, failure },
        CallError::Credentials(e) => ShippingError::Credentials(e),
        CallError::Throttled { attempts } => ShippingError::Throttled {
            operation,
            seller_id,
            attempts,
        },
        CallError::Server { status, attempts } => ShippingError::Transient {
            operation,
            seller_id,
            detail: format!("HTTP {status}"),
            attempts,
        },
        CallError::Transport { message, attempts } => ShippingError::Transient {
            operation,
            seller_id,
            detail: message,
            attempts,
        },
        CallError::Decode { reason } => ShippingError::Unreadable {
            operation,
            seller_id,
            reason,
        },
        CallError::BudgetExhausted { retry_after_ms, .. } => ShippingError::BudgetExhausted {
            operation,
            seller_id,
            retry_at: clock.now() + chrono::Duration::milliseconds(retry_after_ms as i64),
        },
        CallError::Budget(e) => ShippingError::Transient {
            operation,
            seller_id,
            detail: format!("rate budget: {e}"),
            attempts: 1,
        },
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RatesBody<'a> {
    ship_from: AddressOut<'a>,
    packages: [PackageOut<'a>; 1],
    channel_details: ChannelOut<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AddressOut<'a> {
    name: &'a str,
    address_line1: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    address_line2: Option<&'a str>,
    city: &'a str,
    state_or_region: &'a str,
    postal_code: &'a str,
    country_code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    phone_number: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PackageOut<'a> {
    dimensions: DimensionsOut,
    weight: WeightOut,
    insured_value: Currency,
    package_client_reference_id: &'a str,
    items: Vec<ItemOut<'a>>,
}

#[derive(Serialize)]
struct DimensionsOut {
    length: f64,
    width: f64,
    height: f64,
    unit: &'static str,
}

#[derive(Serialize)]
struct WeightOut {
    unit: &'static str,
    value: f64,
}

#[derive(Serialize, Deserialize)]
struct Currency {
    value: f64,
    unit: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ItemOut<'a> {
    item_identifier: &'a str,
    quantity: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ChannelOut<'a> {
    channel_type: &'static str,
    amazon_order_details: OrderRef<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OrderRef<'a> {
    order_id: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PurchaseBody<'a> {
    request_token: &'a str,
    rate_id: &'a str,
    requested_document_specification: DocumentSpecOut,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DocumentSpecOut {
    format: &'static str,
    size: SizeOut,
    dpi: u32,
    need_file_joining: bool,
    requested_document_types: [&'static str; 1],
}

#[derive(Serialize, Deserialize, PartialEq)]
struct SizeOut {
    width: f64,
    length: f64,
    unit: String,
}

/// The 4x6 inch label every format is bought in.
fn four_by_six() -> SizeOut {
    SizeOut {
        width: 4.0,
        length: 6.0,
        unit: "INCH".into(),
    }
}

#[derive(Deserialize)]
struct RatesResponse {
    payload: RatesResult,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RatesResult {
    request_token: String,
    rates: Vec<RateIn>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RateIn {
    rate_id: String,
    carrier_id: String,
    carrier_name: String,
    service_id: String,
    service_name: String,
    total_charge: Currency,
    #[serde(default)]
    promise: PromiseIn,
    #[serde(default)]
    supported_document_specifications: Vec<SpecIn>,
    /// A rate that needs inputs the suite does not give cannot be bought as asked.
    requires_additional_inputs: bool,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct PromiseIn {
    delivery_window: Option<WindowIn>,
}

#[derive(Deserialize)]
struct WindowIn {
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SpecIn {
    format: String,
    size: SizeOut,
    #[serde(default)]
    print_options: Vec<PrintOptionIn>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PrintOptionIn {
    #[serde(default, rename = "supportedDPIs")]
    supported_dpis: Vec<u32>,
    #[serde(default)]
    supported_file_joining_options: Vec<bool>,
    #[serde(default)]
    supported_document_details: Vec<DocumentDetailIn>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DocumentDetailIn {
    name: String,
    is_mandatory: bool,
}

impl SpecIn {
    /// Whether the suite's request (4x6, 203 dpi, one file, the label alone) is one this
    /// specification supports, as Amazon requires of a purchase.
    fn fits(&self) -> bool {
        self.size == four_by_six()
            && self.print_options.iter().any(|o| {
                (o.supported_dpis.is_empty() || o.supported_dpis.contains(&DPI))
                    && o.supported_file_joining_options.contains(&false)
                    && o.supported_document_details
                        .iter()
                        .any(|d| d.name == "LABEL")
                    && o.supported_document_details
                        .iter()
                        .all(|d| d.name == "LABEL" || !d.is_mandatory)
            })
    }
}

#[derive(Deserialize)]
struct PurchaseResponse {
    payload: PurchaseResult,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PurchaseResult {
    shipment_id: String,
    package_document_details: Vec<PackageDocumentsIn>,
    #[serde(default)]
    promise: PromiseIn,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PackageDocumentsIn {
    tracking_id: Option<String>,
    package_documents: Vec<DocumentIn>,
}

#[derive(Deserialize)]
struct DocumentIn {
    #[serde(rename = "type")]
    kind: String,
    format: String,
    /// Base64 of the label, which names the recipient: PII from the moment it is read.
    contents: Pii<String>,
}

fn window(p: &PromiseIn) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let w = p.delivery_window.as_ref()?;
    Some((w.start?, w.end?))
}

#[async_trait]
impl Shipping for ShippingApi {
    async fn quote(
        &self,
        seller: &SellerId,
        request: &RateRequest,
    ) -> Result<Quote, ShippingError> {
        let op = Operation::GetRates;
        let from = &request.ship_from;
        let package = &request.package;
        let body = RatesBody {
            ship_from: AddressOut {
                name: &from.name,
                address_line1: &from.address_line1,
                address_line2: from.address_line2.as_deref(),
                city: &from.city,
                state_or_region: &from.state_or_region,
                postal_code: &from.postal_code,
                country_code: &from.country_code,
                phone_number: from.phone.as_deref(),
            },
            packages: [PackageOut {
                dimensions: DimensionsOut {
                    length: package.dimensions.length_cm,
                    width: package.dimensions.width_cm,
                    height: package.dimensions.height_cm,
                    unit: "CENTIMETER",
                },
                weight: WeightOut {
                    unit: "GRAM",
                    value: f64::from(package.weight_grams),
                },
                insured_value: Currency {
                    value: package.declared_value.as_decimal(),
                    unit: package.declared_value.currency.clone(),
                },
                package_client_reference_id: package.package_id.as_str(),
                items: package
                    .items
                    .iter()
                    .map(|i| ItemOut {
                        item_identifier: i.order_item_id.as_str(),
                        quantity: i.quantity,
                    })
                    .collect(),
            }],
            channel_details: ChannelOut {
                channel_type: "AMAZON",
                amazon_order_details: OrderRef {
                    order_id: request.order_id.as_str(),
                },
            },
        };
        let business = shipping_business(&request.marketplace_id).ok_or_else(|| {
            ShippingError::UnsupportedMarketplace {
                marketplace_id: request.marketplace_id.clone(),
            }
        })?;
        let call = Request::new(op, Method::POST, RATES_PATH)
            .header("x-amzn-shipping-business-id", business)
            .json(&body);
        let quoted_at = self.clock.now();
        let resp: RatesResponse = self
            .transport
            .call(seller, &call)
            .await
            .map_err(|e| self.error(seller, op, e))?;
        let rates = resp
            .payload
            .rates
            .into_iter()
            .filter(|r| !r.requires_additional_inputs)
            .map(|r| Rate {
                formats: r
                    .supported_document_specifications
                    .iter()
                    .filter(|s| s.fits())
                    .filter_map(|s| LabelFormat::parse(&s.format))
                    .collect(),
                delivery_window: window(&r.promise),
                charge: Charge::from_decimal(r.total_charge.value, r.total_charge.unit),
                rate_id: r.rate_id,
                carrier_id: r.carrier_id,
                carrier_name: r.carrier_name,
                service_id: r.service_id,
                service_name: r.service_name,
            })
            .collect();
        Ok(Quote {
            business: business.to_owned(),
            request_token: resp.payload.request_token,
            quoted_at,
            rates,
        })
    }

    async fn purchase(
        &self,
        seller: &SellerId,
        quote: &Quote,
        rate: &Rate,
        format: LabelFormat,
        idempotency_key: &str,
    ) -> Result<PurchasedLabel, ShippingError> {
        let op = Operation::PurchaseShipment;
        let body = PurchaseBody {
            request_token: &quote.request_token,
            rate_id: &rate.rate_id,
            requested_document_specification: DocumentSpecOut {
                format: format.as_str(),
                size: four_by_six(),
                dpi: DPI,
                need_file_joining: false,
                requested_document_types: ["LABEL"],
            },
        };
        // The transport sends the same key with every retry: a purchase whose answer was lost
        // is answered again, not bought again.
        let call = Request::new(op, Method::POST, SHIPMENTS_PATH)
            .header("x-amzn-shipping-business-id", quote.business.clone())
            .header("x-amzn-idempotencykey", idempotency_key)
            .json(&body);
        let resp: PurchaseResponse = self
            .transport
            .call(seller, &call)
            .await
            .map_err(|e| self.error(seller, op, e))?;
        let unreadable = |reason: &str| ShippingError::Unreadable {
            operation: op.name(),
            seller_id: seller.clone(),
            reason: reason.into(),
        };
        let [package] = resp.payload.package_document_details.as_slice() else {
            return Err(unreadable(
                "not exactly one package in packageDocumentDetails",
            ));
        };
        let document = label_of(package, format).map_err(|r| unreadable(&r))?;
        Ok(PurchasedLabel {
            shipment_id: resp.payload.shipment_id,
            tracking_id: package.tracking_id.clone(),
            carrier_id: rate.carrier_id.clone(),
            service_id: rate.service_id.clone(),
            charge: rate.charge.clone(),
            delivery_window: window(&resp.payload.promise).or(rate.delivery_window),
            format,
            document: Pii::new(document),
        })
    }

    async fn cancel(&self, seller: &SellerId, label: &LabelRecord) -> Result<(), ShippingError> {
        let op = Operation::CancelShipment;
        let call = Request::new(
            op,
            Method::PUT,
            format!("{SHIPMENTS_PATH}/{}/cancel", label.shipment_id),
        )
        .header("x-amzn-shipping-business-id", label.business.clone());
        let _: serde::de::IgnoredAny = self
            .transport
            .call(seller, &call)
            .await
            .map_err(|e| self.error(seller, op, e))?;
        Ok(())
    }

    async fn documents(
        &self,
        seller: &SellerId,
        business: &str,
        shipment_id: &str,
        package: &PackageId,
        format: LabelFormat,
    ) -> Result<LabelDocument, ShippingError> {
        let op = Operation::GetShipmentDocuments;
        let call = Request::get(op, format!("{SHIPMENTS_PATH}/{shipment_id}/documents"))
            .query("packageClientReferenceId", package.to_string())
            .query("format", format.as_str())
            .query("dpi", DPI.to_string())
            .header("x-amzn-shipping-business-id", business.to_owned());
        let resp: DocumentsResponse = self
            .transport
            .call(seller, &call)
            .await
            .map_err(|e| self.error(seller, op, e))?;
        let detail = resp.payload.package_document_detail;
        let document = label_of(&detail, format).map_err(|reason| ShippingError::Unreadable {
            operation: op.name(),
            seller_id: seller.clone(),
            reason,
        })?;
        Ok(LabelDocument {
            tracking_id: detail.tracking_id,
            document: Pii::new(document),
        })
    }

    async fn track(
        &self,
        seller: &SellerId,
        parcel: &WatchedParcel,
    ) -> Result<TrackingReport, ShippingError> {
        let op = Operation::GetTracking;
        let call = Request::get(op, "/shipping/v2/tracking")
            .query("trackingId", parcel.tracking_id.clone())
            .query("carrierId", parcel.carrier_id.clone())
            .header("x-amzn-shipping-business-id", parcel.business.clone());
        let resp: TrackingResponse = self
            .transport
            .call(seller, &call)
            .await
            .map_err(|e| self.error(seller, op, e))?;
        let events = resp
            .payload
            .event_history
            .iter()
            .map(|e| (e.event_code.as_str(), e.event_time));
        Ok(TrackingReport::from_events(
            events,
            resp.payload.summary.status.unwrap_or_default(),
        ))
    }
}

#[derive(Deserialize)]
struct TrackingResponse {
    payload: TrackingPayload,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TrackingPayload {
    event_history: Vec<TrackingEventIn>,
    summary: TrackingSummaryIn,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TrackingEventIn {
    event_code: String,
    event_time: DateTime<Utc>,
}

#[derive(Deserialize)]
struct TrackingSummaryIn {
    status: Option<String>,
}

/// The package's LABEL document in `format`, decoded; the reason names what is missing.
fn label_of(package: &PackageDocumentsIn, format: LabelFormat) -> Result<Vec<u8>, String> {
    let label = package
        .package_documents
        .iter()
        .find(|d| d.kind == "LABEL" && d.format == format.as_str())
        .ok_or("no LABEL document in the format asked for")?;
    base64::engine::general_purpose::STANDARD
        .decode(label.contents.expose())
        .map_err(|e| format!("contents are not base64: {}", base64_reason(&e)))
}

#[derive(Deserialize)]
struct DocumentsResponse {
    payload: DocumentsPayload,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DocumentsPayload {
    package_document_detail: PackageDocumentsIn,
}

/// A base64 failure's kind, never the offending bytes.
fn base64_reason(e: &base64::DecodeError) -> &'static str {
    match e {
        base64::DecodeError::InvalidByte(..) => "invalid byte",
        base64::DecodeError::InvalidLength(_) => "invalid length",
        base64::DecodeError::InvalidLastSymbol(..) => "invalid last symbol",
        base64::DecodeError::InvalidPadding => "invalid padding",
    }
}
