//! Shipping API v2 as a label flow uses it for Amazon orders: `getRates` (several carriers and
//! services, prices from the package's weight, promise windows, a request token that expires
//! 10 minutes after it was quoted) and `purchaseShipment` (the rate must still be live, the
//! document specification one the rate supports; `x-amzn-IdempotencyKey` answers a repeat with
//! the first purchase and buys nothing). The label document carries the order's recipient, as
//! Amazon's does, so a leak of it shows in a PII scan.

use super::gate::{admit, respond};
use super::{Operation, State, error};
use crate::Sim;
use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use rand::Rng;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// "You must complete the purchase within 10 minutes of rate creation."
pub const RATE_LIFETIME: Duration = Duration::minutes(10);

/// The carriers and services quoted: (carrier id, carrier name, service id, service name,
/// base price in USD, price per kg, days to delivery).
const SERVICES: [(&str, &str, &str, &str, f64, f64, i64); 4] = [
    (
        "AMZN_US",
        "Amazon Shipping",
        "std-us-swa-mfn",
        "Amazon Shipping Ground",
        4.10,
        1.20,
        4,
    ),
    (
        "AMZN_US",
        "Amazon Shipping",
        "one-day-us-swa-mfn",
        "Amazon Shipping One Day",
        9.80,
        2.40,
        1,
    ),
    (
        "USPS",
        "USPS",
        "usps-ground-advantage",
        "USPS Ground Advantage",
        4.60,
        1.10,
        5,
    ),
    (
        "UPS",
        "UPS",
        "ups-2nd-day-air",
        "UPS 2nd Day Air",
        12.40,
        3.00,
        2,
    ),
];

const FORMATS: [&str; 3] = ["PDF", "PNG", "ZPL"];

/// One rate of a quote.
#[derive(Debug, Clone)]
pub(crate) struct QuotedRate {
    rate_id: String,
    carrier_id: &'static str,
    carrier_name: &'static str,
    service_id: &'static str,
    service_name: &'static str,
    charge: f64,
    delivery: (DateTime<Utc>, DateTime<Utc>),
}

/// What a `getRates` answer stands for until it expires.
#[derive(Debug, Clone)]
pub(crate) struct Quote {
    seller_id: String,
    order_id: String,
    package_ref: String,
    quoted_at: DateTime<Utc>,
    rates: Vec<QuotedRate>,
}

/// Shipping's part of the simulator's state.
#[derive(Default)]
pub(crate) struct ShippingState {
    quotes: HashMap<String, Quote>,
    /// Purchased labels by shipment id.
    shipments: HashMap<String, Shipment>,
    /// (seller, idempotency key) → shipment id.
    idempotency: HashMap<(String, String), String>,
    /// Purchases still to come whose answer is cut off after the label is bought.
    pub(crate) drop_after_purchase: u32,
    /// Purchases still to come whose parcel the carrier never scans (a label printed and the
    /// parcel left on the dock).
    pub(crate) never_scanned: u32,
}

/// The carrier collects a parcel this long after its label was bought (its first scan).
pub const PICKUP_AFTER: Duration = Duration::hours(4);
/// A collected parcel reaches the carrier's facility this long after pickup.
const FACILITY_AFTER: Duration = Duration::hours(6);
/// Delivered this long into the promised window.
const DELIVERED_INTO_WINDOW: Duration = Duration::hours(3);

/// A label bought: what the carrier does with its parcel follows the simulator's clock.
#[derive(Debug, Clone)]
pub(crate) struct Shipment {
    seller_id: String,
    order_id: String,
    package_ref: String,
    carrier_id: &'static str,
    tracking_id: String,
    format: String,
    document: Vec<u8>,
    purchased_at: DateTime<Utc>,
    delivery: (DateTime<Utc>, DateTime<Utc>),
    /// The `purchaseShipment` answer, sent again for a repeat of its idempotency key.
    answer: Value,
    canceled_at: Option<DateTime<Utc>>,
    /// `false`: the carrier never collects it.
    scanned: bool,
}

impl Shipment {
    /// The carrier's events up to `now`: created, then (once collected) picked up, at the
    /// facility, out for delivery and delivered; a canceled label is never collected.
    fn events(&self, now: DateTime<Utc>) -> Vec<(&'static str, DateTime<Utc>)> {
        let mut events = vec![("ReadyForReceive", self.purchased_at)];
        if let Some(at) = self.canceled_at {
            events.push(("PickupCancelled", at));
        } else if self.scanned {
            let pickup = self.purchased_at + PICKUP_AFTER;
            events.extend([
                ("PickupDone", pickup),
                ("ArrivedAtCarrierFacility", pickup + FACILITY_AFTER),
                (
                    "OutForDelivery",
                    self.delivery.0.max(pickup + FACILITY_AFTER),
                ),
                (
                    "Delivered",
                    (self.delivery.0 + DELIVERED_INTO_WINDOW).max(pickup + FACILITY_AFTER),
                ),
            ]);
        }
        events.retain(|(_, at)| *at <= now);
        events
    }

    /// Collected by the carrier by `now`: too late to cancel.
    fn collected(&self, now: DateTime<Utc>) -> bool {
        self.events(now)
            .iter()
            .any(|(code, _)| *code == "PickupDone")
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RatesRequest {
    ship_from: Value,
    packages: Vec<PackageIn>,
    channel_details: ChannelIn,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PackageIn {
    weight: WeightIn,
    package_client_reference_id: String,
    items: Vec<ItemIn>,
}

#[derive(Deserialize)]
struct WeightIn {
    unit: String,
    value: f64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ItemIn {
    item_identifier: Option<String>,
    quantity: u32,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChannelIn {
    channel_type: String,
    amazon_order_details: Option<OrderRef>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrderRef {
    order_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PurchaseRequest {
    request_token: String,
    rate_id: String,
    requested_document_specification: DocumentSpec,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DocumentSpec {
    format: String,
    size: SizeIn,
    #[serde(default)]
    requested_document_types: Vec<String>,
}

#[derive(Deserialize)]
struct SizeIn {
    width: f64,
    length: f64,
    unit: String,
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A 4xx in Amazon's error shape: its status, code and message.
pub(super) struct Refusal(StatusCode, &'static str, String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        error(self.0, self.1, &self.2).into_response()
    }
}

impl Refusal {
    /// A 403 for another seller's resource.
    pub(super) fn forbidden() -> Self {
        Refusal(
            StatusCode::FORBIDDEN,
            "Unauthorized",
            "Access to requested resource is denied.".into(),
        )
    }
}

/// A 400.
pub(super) fn bad(code: &'static str, message: impl Into<String>) -> Refusal {
    Refusal(StatusCode::BAD_REQUEST, code, message.into())
}

/// A 404 for what the seller does not have.
pub(super) fn missing(message: impl Into<String>) -> Refusal {
    Refusal(StatusCode::NOT_FOUND, "NotFound", message.into())
}

fn kilograms(w: &WeightIn) -> Option<f64> {
    let factor = match w.unit.as_str() {
        "GRAM" => 0.001,
        "KILOGRAM" => 1.0,
        "OUNCE" => 0.028_349_5,
        "POUND" => 0.453_592,
        _ => return None,
    };
    (w.value > 0.0).then_some(w.value * factor)
}

impl State {
    /// The seller's open order and, per item of the request, whether it is one of its items.
    fn check_order(&self, seller: &str, order_id: &str, items: &[ItemIn]) -> Result<(), Refusal> {
        let order = self
            .sellers
            .get(seller)
            .and_then(|s| s.orders.iter().find(|o| o.order_id == order_id))
            .ok_or_else(|| bad("InvalidInput", format!("Order {order_id} not found.")))?;
        let status = order
            .fulfillment
            .as_ref()
            .map_or("", |f| f.fulfillment_status.as_str());
        if status == "CANCELLED" {
            return Err(bad(
                "InvalidInput",
                format!("Order {order_id} is canceled."),
            ));
        }
        for item in items {
            let known = item.item_identifier.as_deref().is_some_and(|id| {
                order
                    .order_items
                    .iter()
                    .any(|i| i.order_item_id == id && item.quantity <= i.quantity_ordered)
            });
            if !known || item.quantity == 0 {
                return Err(bad(
                    "InvalidInput",
                    "Invalid input for items: itemIdentifier and quantity must name an order item.",
                ));
            }
        }
        Ok(())
    }

    fn token(&mut self) -> String {
        let r: u128 = self.rng.random();
        format!("amzn1.rq.{r:032x}")
    }

    /// The label: a document in `format` that names the recipient and the tracking id.
    fn label_document(
        &self,
        seller: &str,
        order_id: &str,
        format: &str,
        tracking: &str,
    ) -> Vec<u8> {
        let (name, lines) = self
            .sellers
            .get(seller)
            .and_then(|s| s.orders.iter().find(|o| o.order_id == order_id))
            .and_then(|o| o.recipient.as_ref())
            .map(|r| {
                let a = &r.delivery_address;
                (
                    a.name.clone(),
                    format!(
                        "{} / {}, {} {} {}",
                        a.address_line1, a.city, a.state_or_region, a.postal_code, a.country_code
                    ),
                )
            })
            .unwrap_or_default();
        label_bytes(format, &name, &lines, tracking)
    }
}

/// A real document of each format: a one-page PDF with the address as text, a PNG with the
/// address in a text chunk, ZPL with the address as fields.
fn label_bytes(format: &str, name: &str, address: &str, tracking: &str) -> Vec<u8> {
    match format {
        "ZPL" => format!(
            "^XA^CF0,40^FO50,50^FDSHIP TO:^FS^FO50,100^FD{name}^FS^FO50,150^FD{address}^FS\
             ^BY3^FO50,250^BCN,150,Y,N,N^FD{tracking}^FS^XZ"
        )
        .into_bytes(),
        "PNG" => {
            let mut out = Vec::new();
            let mut encoder = png::Encoder::new(&mut out, 1, 1);
            encoder.set_color(png::ColorType::Grayscale);
            encoder.set_depth(png::BitDepth::Eight);
            encoder
                .add_text_chunk("ShipTo".into(), format!("{name} / {address}"))
                .expect("text chunk");
            encoder
                .add_text_chunk("Tracking".into(), tracking.into())
                .expect("text chunk");
            let mut writer = encoder.write_header().expect("png header");
            writer.write_image_data(&[255]).expect("png data");
            writer.finish().expect("png end");
            out
        }
        _ => pdf(&[
            "SHIP TO:".into(),
            name.into(),
            address.into(),
            format!("TRACKING {tracking}"),
        ]),
    }
}

/// A minimal valid one-page PDF (4x6 inch) showing `lines`.
fn pdf(lines: &[String]) -> Vec<u8> {
    let text: String = lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let escaped = l
                .replace('\\', "\\\\")
                .replace('(', "\\(")
                .replace(')', "\\)");
            format!("BT /F1 14 Tf 20 {} Td ({escaped}) Tj ET\n", 400 - 24 * i)
        })
        .collect();
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 288 432] /Contents 4 0 R \
         /Resources << /Font << /F1 5 0 R >> >> >>"
            .to_owned(),
        format!("<< /Length {} >>\nstream\n{text}endstream", text.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
    ];
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

fn rate_json(r: &QuotedRate) -> Value {
    json!({
        "rateId": r.rate_id,
        "carrierId": r.carrier_id,
        "carrierName": r.carrier_name,
        "serviceId": r.service_id,
        "serviceName": r.service_name,
        "totalCharge": {"value": r.charge, "unit": "USD"},
        "promise": {"deliveryWindow": {"start": iso(r.delivery.0), "end": iso(r.delivery.1)}},
        "supportedDocumentSpecifications": FORMATS.map(|f| json!({
            "format": f,
            "size": {"width": 4, "length": 6, "unit": "INCH"},
            "printOptions": [{
                "supportedDPIs": [203, 300],
                "supportedPageLayouts": ["DEFAULT"],
                "supportedFileJoiningOptions": [false],
                "supportedDocumentDetails": [{"name": "LABEL", "isMandatory": true}]
            }]
        })),
        "requiresAdditionalInputs": false
    })
}

pub(super) async fn get_rates(
    AxState(sim): AxState<Arc<Sim>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let op = Operation::GetRates;
    let (seller, request_id) = match admit(&sim, &headers, op).await {
        Ok(ok) => ok,
        Err(resp) => return resp,
    };
    let now = sim.clock.now();
    let resp = (|| {
        let req: RatesRequest = serde_json::from_slice(&body)
            .map_err(|e| bad("InvalidInput", format!("Invalid request body: {e}")))?;
        if !req.ship_from.is_object() {
            return Err(bad("InvalidInput", "shipFrom is required."));
        }
        if req.channel_details.channel_type != "AMAZON" {
            return Err(bad(
                "InvalidInput",
                "Only channelType AMAZON is served here.",
            ));
        }
        let order_id = req
            .channel_details
            .amazon_order_details
            .map(|d| d.order_id)
            .ok_or_else(|| bad("InvalidInput", "amazonOrderDetails is required for AMAZON."))?;
        // One package per shipment, as Amazon has it.
        let [package] = req.packages.as_slice() else {
            return Err(bad(
                "InvalidInput",
                "Exactly one package per shipment is supported.",
            ));
        };
        let kg = kilograms(&package.weight)
            .ok_or_else(|| bad("InvalidInput", "Invalid input for weight."))?;
        let mut st = sim.lock();
        st.check_order(&seller, &order_id, &package.items)?;
        let request_token = st.token();
        let rates: Vec<QuotedRate> = SERVICES
            .iter()
            .map(
                |&(carrier_id, carrier_name, service_id, service_name, base, per_kg, days)| {
                    let start = (now + Duration::days(days))
                        .date_naive()
                        .and_hms_opt(8, 0, 0);
                    let start = start.map_or(now, |s| s.and_utc());
                    QuotedRate {
                        rate_id: st.token(),
                        carrier_id,
                        carrier_name,
                        service_id,
                        service_name,
                        charge: ((base + per_kg * kg) * 100.0).round() / 100.0,
                        delivery: (start, start + Duration::hours(12)),
                    }
                },
            )
            .collect();
        let answer = json!({"payload": {
            "requestToken": request_token,
            "rates": rates.iter().map(rate_json).collect::<Vec<_>>(),
            "ineligibleRates": []
        }});
        st.shipping.quotes.insert(
            request_token,
            Quote {
                seller_id: seller.clone(),
                order_id,
                package_ref: package.package_client_reference_id.clone(),
                quoted_at: now,
                rates,
            },
        );
        Ok(Json(answer).into_response())
    })()
    .unwrap_or_else(IntoResponse::into_response);
    respond(&sim, op, &request_id, resp)
}

pub(super) async fn purchase_shipment(
    AxState(sim): AxState<Arc<Sim>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let op = Operation::PurchaseShipment;
    let (seller, request_id) = match admit(&sim, &headers, op).await {
        Ok(ok) => ok,
        Err(resp) => return resp,
    };
    let now = sim.clock.now();
    let key = headers
        .get("x-amzn-IdempotencyKey")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut cut_off = false;
    let resp = (|| {
        let mut st = sim.lock();
        // A repeat of a purchase: the first answer, nothing bought again.
        if let Some(shipment) = key
            .as_ref()
            .and_then(|k| st.shipping.idempotency.get(&(seller.clone(), k.clone())))
            .and_then(|id| st.shipping.shipments.get(id))
        {
            return Ok(Json(shipment.answer.clone()).into_response());
        }
        let req: PurchaseRequest = serde_json::from_slice(&body)
            .map_err(|e| bad("InvalidInput", format!("Invalid request body: {e}")))?;
        let quote = st
            .shipping
            .quotes
            .get(&req.request_token)
            .filter(|q| q.seller_id == seller)
            .cloned()
            .ok_or_else(|| bad("InvalidInput", "Invalid input for requestToken."))?;
        if now - quote.quoted_at > RATE_LIFETIME {
            return Err(bad(
                "TOKEN_EXPIRED",
                "The rates have expired. Get the rates for the shipment again.",
            ));
        }
        let rate = quote
            .rates
            .iter()
            .find(|r| r.rate_id == req.rate_id)
            .ok_or_else(|| bad("InvalidInput", "Invalid input for rateId."))?;
        let spec = &req.requested_document_specification;
        let size_ok = spec.size.unit == "INCH" && spec.size.width == 4.0 && spec.size.length == 6.0;
        let types_ok = spec.requested_document_types.iter().all(|t| t == "LABEL");
        if !FORMATS.contains(&spec.format.as_str()) || !size_ok || !types_ok {
            return Err(bad(
                "InvalidInput",
                "requestedDocumentSpecification is not one of the rate's supported specifications.",
            ));
        }
        let shipment_id = format!("{:016}", st.rng.random_range(0..10_000_000_000_000_000u64));
        let tracking_id = format!("TBA{:012}", st.rng.random_range(0..1_000_000_000_000u64));
        let document = st.label_document(&seller, &quote.order_id, &spec.format, &tracking_id);
        let answer = json!({"payload": {
            "shipmentId": shipment_id,
            "packageDocumentDetails": [{
                "packageClientReferenceId": quote.package_ref,
                "packageDocuments": [{
                    "type": "LABEL",
                    "format": spec.format,
                    "contents": base64::engine::general_purpose::STANDARD.encode(&document),
                }],
                "trackingId": tracking_id,
            }],
            "promise": {"deliveryWindow": {"start": iso(rate.delivery.0), "end": iso(rate.delivery.1)}},
        }});
        *st
            .stats
            .label_purchases
            .entry(format!("{}/{}", quote.order_id, quote.package_ref))
            .or_default() += 1;
        if let Some(k) = key {
            st.shipping
                .idempotency
                .insert((seller.clone(), k), shipment_id.clone());
        }
        let scanned = st.shipping.never_scanned == 0;
        st.shipping.never_scanned = st.shipping.never_scanned.saturating_sub(1);
        st.shipping.shipments.insert(
            shipment_id,
            Shipment {
                seller_id: seller.clone(),
                order_id: quote.order_id.clone(),
                package_ref: quote.package_ref.clone(),
                carrier_id: rate.carrier_id,
                tracking_id,
                format: spec.format.clone(),
                document,
                purchased_at: now,
                delivery: rate.delivery,
                answer: answer.clone(),
                canceled_at: None,
                scanned,
            },
        );
        if st.shipping.drop_after_purchase > 0 {
            st.shipping.drop_after_purchase -= 1;
            cut_off = true;
        }
        Ok(Json(answer).into_response())
    })()
    .unwrap_or_else(IntoResponse::into_response);
    let resp = respond(&sim, op, &request_id, resp);
    if cut_off {
        // Bought, then the connection breaks before the answer is through: the headers go
        // out, the body fails.
        let (parts, _) = resp.into_parts();
        let broken = futures_util::stream::once(async {
            Err::<Bytes, _>(std::io::Error::other(
                "connection dropped after the purchase",
            ))
        });
        return Response::from_parts(parts, Body::from_stream(broken));
    }
    resp
}

/// The seller's shipment `id`, or Amazon's 404.
fn shipment_of<'s>(st: &'s mut State, seller: &str, id: &str) -> Result<&'s mut Shipment, Refusal> {
    st.shipping
        .shipments
        .get_mut(id)
        .filter(|s| s.seller_id == seller)
        .ok_or_else(|| missing(format!("Shipment {id} not found.")))
}

/// `cancelShipment`: the label voided until the carrier collects the parcel; a repeat of a
/// cancel answers as the first did.
pub(super) async fn cancel_shipment(
    AxState(sim): AxState<Arc<Sim>>,
    Path(shipment_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let op = Operation::CancelShipment;
    let (seller, request_id) = match admit(&sim, &headers, op).await {
        Ok(ok) => ok,
        Err(resp) => return resp,
    };
    let now = sim.clock.now();
    let resp = (|| {
        let mut st = sim.lock();
        let shipment = shipment_of(&mut st, &seller, &shipment_id)?;
        if shipment.canceled_at.is_none() {
            if shipment.collected(now) {
                return Err(bad(
                    "InvalidInput",
                    "The shipment can no longer be canceled: the carrier has collected it.",
                ));
            }
            shipment.canceled_at = Some(now);
            let key = format!("{}/{}", shipment.order_id, shipment.package_ref);
            *st.stats.labels_canceled.entry(key).or_default() += 1;
        }
        Ok(Json(json!({"payload": {}})).into_response())
    })()
    .unwrap_or_else(IntoResponse::into_response);
    respond(&sim, op, &request_id, resp)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct TrackingQuery {
    tracking_id: String,
    carrier_id: String,
}

/// `getTracking`: the carrier's events so far on the simulator's clock.
pub(super) async fn get_tracking(
    AxState(sim): AxState<Arc<Sim>>,
    Query(q): Query<TrackingQuery>,
    headers: HeaderMap,
) -> Response {
    let op = Operation::GetTracking;
    let (seller, request_id) = match admit(&sim, &headers, op).await {
        Ok(ok) => ok,
        Err(resp) => return resp,
    };
    let now = sim.clock.now();
    let resp = (|| {
        let st = sim.lock();
        let shipment = st
            .shipping
            .shipments
            .values()
            .find(|s| {
                s.seller_id == seller
                    && s.tracking_id == q.tracking_id
                    && s.carrier_id == q.carrier_id
            })
            .ok_or_else(|| bad("InvalidInput", "Invalid input for trackingId or carrierId."))?;
        let events = shipment.events(now);
        let status = match events.last().map(|(code, _)| *code) {
            Some("Delivered") => "Delivered",
            Some("OutForDelivery") => "OutForDelivery",
            Some("PickupDone" | "ArrivedAtCarrierFacility") => "InTransit",
            Some("PickupCancelled") => "PickupCancelled",
            _ => "PreTransit",
        };
        Ok::<_, Refusal>(
            Json(json!({"payload": {
                "trackingId": shipment.tracking_id,
                "alternateLegTrackingId": "",
                "eventHistory": events
                    .iter()
                    .map(|(code, at)| json!({"eventCode": code, "eventTime": iso(*at)}))
                    .collect::<Vec<_>>(),
                "promisedDeliveryDate": iso(shipment.delivery.1),
                "summary": {"status": status},
            }}))
            .into_response(),
        )
    })()
    .unwrap_or_else(IntoResponse::into_response);
    respond(&sim, op, &request_id, resp)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct DocumentsQuery {
    package_client_reference_id: String,
    format: Option<String>,
}

/// `getShipmentDocuments`: the label of a live shipment again, in its format or another.
pub(super) async fn get_shipment_documents(
    AxState(sim): AxState<Arc<Sim>>,
    Path(shipment_id): Path<String>,
    Query(q): Query<DocumentsQuery>,
    headers: HeaderMap,
) -> Response {
    let op = Operation::GetShipmentDocuments;
    let (seller, request_id) = match admit(&sim, &headers, op).await {
        Ok(ok) => ok,
        Err(resp) => return resp,
    };
    let resp = (|| {
        let mut st = sim.lock();
        let shipment = shipment_of(&mut st, &seller, &shipment_id)?.clone();
        if shipment.package_ref != q.package_client_reference_id {
            return Err(bad(
                "InvalidInput",
                "Invalid input for packageClientReferenceId.",
            ));
        }
        if shipment.canceled_at.is_some() {
            return Err(bad("InvalidInput", "The shipment is canceled."));
        }
        let format = q.format.unwrap_or_else(|| shipment.format.clone());
        if !FORMATS.contains(&format.as_str()) {
            return Err(bad("InvalidInput", "Invalid input for format."));
        }
        let document = if format == shipment.format {
            shipment.document.clone()
        } else {
            st.label_document(&seller, &shipment.order_id, &format, &shipment.tracking_id)
        };
        Ok(Json(json!({"payload": {
            "shipmentId": shipment_id,
            "packageDocumentDetail": {
                "packageClientReferenceId": shipment.package_ref,
                "packageDocuments": [{
                    "type": "LABEL",
                    "format": format,
                    "contents": base64::engine::general_purpose::STANDARD.encode(document),
                }],
                "trackingId": shipment.tracking_id,
            },
        }}))
        .into_response())
    })()
    .unwrap_or_else(IntoResponse::into_response);
    respond(&sim, op, &request_id, resp)
}
