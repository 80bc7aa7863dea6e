//! `/_sim`: what the local stack and tests drive from outside the process.

use crate::{Faults, Sim, Stats};
use axum::Json;
use axum::extract::{Path, State as AxState};
use axum::http::StatusCode;
use chrono::Duration;
use serde::Deserialize;
use std::sync::Arc;

pub(super) async fn admin_stats(AxState(sim): AxState<Arc<Sim>>) -> Json<Stats> {
    Json(sim.settled().stats())
}

pub(super) async fn admin_faults(
    AxState(sim): AxState<Arc<Sim>>,
    Json(f): Json<Faults>,
) -> StatusCode {
    sim.lock().set_faults(f);
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
pub(super) struct Advance {
    seconds: i64,
}

pub(super) async fn admin_clock(AxState(sim): AxState<Arc<Sim>>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "now": sim.clock.now() }))
}

pub(super) async fn admin_advance(
    AxState(sim): AxState<Arc<Sim>>,
    Json(a): Json<Advance>,
) -> Json<serde_json::Value> {
    sim.clock.advance(Duration::seconds(a.seconds));
    Json(serde_json::json!({ "now": sim.clock.now() }))
}

pub(super) async fn admin_revoke(
    AxState(sim): AxState<Arc<Sim>>,
    Path(seller): Path<String>,
) -> StatusCode {
    sim.lock().revoke(&seller);
    StatusCode::NO_CONTENT
}

pub(super) async fn admin_expire(AxState(sim): AxState<Arc<Sim>>) -> StatusCode {
    sim.lock().expire_access_tokens();
    StatusCode::NO_CONTENT
}

pub(super) async fn admin_pii_values(AxState(sim): AxState<Arc<Sim>>) -> Json<Vec<String>> {
    Json(sim.lock().pii_values())
}

/// The quantity Amazon holds per SKU of a seller (`null`: the listing has none).
pub(super) async fn admin_listings(
    AxState(sim): AxState<Arc<Sim>>,
    Path(seller_id): Path<String>,
) -> Json<std::collections::BTreeMap<String, Option<u32>>> {
    Json(sim.settled().listing_quantities(&seller_id))
}
