//! Orders v0 `confirmShipment` on the transport ([`ConfirmationsApi`], the
//! `labels::ShipmentConfirmations` port): a package shipped on the operator's own carrier,
//! told to Amazon. Amazon answers 204; a refusal comes back as `ShippingError::Refused` with
//! Amazon's code. Shape from `ordersV0.json` (`ConfirmShipmentRequest`).

use super::Operation;
use super::shipping::shipping_error;
use super::transport::{Method, Request, Transport};
use crate::kernel::{AmazonOrderId, Clock, MarketplaceId, SellerId};
use crate::labels::{OwnCarrierShipment, ShipmentConfirmations, ShippingError};
use async_trait::async_trait;
use chrono::SecondsFormat;
use serde::Serialize;
use std::sync::Arc;

pub struct ConfirmationsApi {
    transport: Arc<Transport>,
    clock: Arc<dyn Clock>,
}

impl ConfirmationsApi {
    pub fn new(transport: Arc<Transport>, clock: Arc<dyn Clock>) -> Self {
        Self { transport, clock }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ConfirmBody<'a> {
    marketplace_id: &'a str,
    package_detail: PackageDetailOut<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PackageDetailOut<'a> {
    package_reference_id: &'a str,
    carrier_code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    carrier_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shipping_method: Option<&'a str>,
    tracking_number: &'a str,
    ship_date: String,
    order_items: Vec<ItemOut<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ItemOut<'a> {
    order_item_id: &'a str,
    quantity: u32,
}

#[async_trait]
impl ShipmentConfirmations for ConfirmationsApi {
    async fn confirm(
        &self,
        seller: &SellerId,
        marketplace: &MarketplaceId,
        order: &AmazonOrderId,
        shipment: &OwnCarrierShipment,
    ) -> Result<(), ShippingError> {
        let op = Operation::ConfirmShipment;
        let body = ConfirmBody {
            marketplace_id: marketplace.as_str(),
            package_detail: PackageDetailOut {
                package_reference_id: &shipment.package_reference_id,
                carrier_code: &shipment.carrier.code,
                carrier_name: shipment.carrier.name.as_deref(),
                shipping_method: shipment.shipping_method.as_deref(),
                tracking_number: &shipment.tracking_number,
                ship_date: shipment
                    .ship_date
                    .to_rfc3339_opts(SecondsFormat::Millis, true),
                order_items: shipment
                    .items
                    .iter()
                    .map(|i| ItemOut {
                        order_item_id: i.order_item_id.as_str(),
                        quantity: i.quantity,
                    })
                    .collect(),
            },
        };
        let call = Request::new(
            op,
            Method::POST,
            format!("/orders/v0/orders/{order}/shipmentConfirmation"),
        )
        .json(&body);
        self.transport
            .call::<()>(seller, &call)
            .await
            .map_err(|e| shipping_error(self.clock.as_ref(), seller, op, e))
    }
}
