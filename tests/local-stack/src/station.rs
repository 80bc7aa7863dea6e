//! The warehouse floor as a client of the staff API, through the stand-in gateway: pickers take
//! the walk and the orders up, packers open the ship-to (audited), scan, print the packing slip
//! (audited), and mark packed (a retry of each with the same key), print the label, a
//! supervisor voids one, the dock confirms own-carrier parcels; a picker asking for a ship-to
//! and an auditor asking for orders are refused. Every answer to a role without PII rights is searched for the seeded PII values.

use crate::gateway::Gateway;
use serde::Serialize;
use serde_json::{Value, json};
use shared::api::Role;
use shared::orders::Order;

/// What the floor did through the API.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StationFigures {
    pub api_requests: u64,
    pub api_orders_packed: u64,
    pub api_orders_shipped: u64,
    /// PII answers given (ship-tos, packing slips, label documents): the audit log must hold
    /// as many reads.
    pub api_pii_answers: u64,
    pub api_requests_refused_by_role: u64,
    /// Answers to roles without PII rights that carried a seeded PII value: must be 0.
    pub api_pii_leaks: u64,
    /// Answers the floor did not expect (status), by route: must be empty.
    pub api_unexpected: Vec<String>,
}

pub struct Station<'a> {
    gateway: &'a Gateway,
    http: reqwest::Client,
    pii: &'a [String],
    pub figures: StationFigures,
}

/// One answer.
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

impl<'a> Station<'a> {
    pub fn new(gateway: &'a Gateway, pii: &'a [String]) -> Self {
        Self {
            gateway,
            http: reqwest::Client::new(),
            pii,
            figures: StationFigures::default(),
        }
    }

    /// One request as `role` (staff member `<role>-1`), expecting `expected`.
    pub async fn call(
        &mut self,
        role: Role,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<&Value>,
        expected: u16,
    ) -> Result<Answer, String> {
        let url = format!("{}{path}", self.gateway.url());
        let mut req = self
            .http
            .request(method.parse().map_err(|_| "a method")?, url)
            .bearer_auth(self.gateway.token(&format!("{}-1", role.name()), &[role]));
        if let Some(key) = key {
            req = req.header("idempotency-key", key);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| format!("{method} {path}: {e}"))?;
        let status = resp.status().as_u16();
        let body = resp.bytes().await.map_err(|e| e.to_string())?.to_vec();
        self.figures.api_requests += 1;
        if status == 403 {
            self.figures.api_requests_refused_by_role += 1;
        }
        let text = String::from_utf8_lossy(&body);
        let carries_pii = self.pii.iter().any(|v| text.contains(v.as_str()));
        if carries_pii {
            if [Role::Packer, Role::Supervisor].contains(&role) {
                self.figures.api_pii_answers += 1;
            } else {
                self.figures.api_pii_leaks += 1;
            }
        }
        if status != expected {
            // The route's first segments and the status only: a path names orders, never PII.
            let route: Vec<&str> = path.split('/').take(2).collect();
            self.figures.api_unexpected.push(format!(
                "{method} {} as {}: {status}",
                route.join("/"),
                role.name()
            ));
        }
        Ok(Answer { status, body })
    }
}

fn scans(order: &Order) -> Value {
    let scans: Vec<Value> = order
        .lines
        .iter()
        .filter_map(|l| {
            l.sku
                .as_ref()
                .map(|s| json!({"sku": s.as_str(), "quantity": l.quantity_ordered}))
        })
        .collect();
    json!({ "scans": scans })
}

/// Pick, check the ship-to, verify and pack each of `orders` through the API (each packed
/// twice with one key, as a station that retried); the pick list first.
pub async fn pack(
    station: &mut Station<'_>,
    seller: &str,
    orders: &[&Order],
) -> Result<(), String> {
    station
        .call(
            Role::Picker,
            "GET",
            &format!("/pick-list/{seller}?limit=20"),
            None,
            None,
            200,
        )
        .await?;
    for o in orders {
        let base = format!("/orders/{seller}/{}", o.order_id);
        station
            .call(
                Role::Picker,
                "POST",
                &format!("{base}/picking"),
                None,
                None,
                200,
            )
            .await?;
        station
            .call(
                Role::Picker,
                "GET",
                &format!("{base}/ship-to?purpose=packing"),
                None,
                None,
                403,
            )
            .await?;
        station
            .call(
                Role::Packer,
                "GET",
                &format!("{base}/ship-to?purpose=packing"),
                None,
                None,
                200,
            )
            .await?;
        station
            .call(
                Role::Packer,
                "POST",
                &format!("{base}/verify"),
                None,
                Some(&scans(o)),
                200,
            )
            .await?;
        // The slip for the box, made now from the order and its ship-to (audited).
        station
            .call(
                Role::Packer,
                "GET",
                &format!("{base}/packing-slip"),
                None,
                None,
                200,
            )
            .await?;
        let key = format!("station-2-{}", o.order_id);
        for _ in 0..2 {
            station
                .call(
                    Role::Packer,
                    "POST",
                    &format!("{base}/packed"),
                    Some(&key),
                    Some(&scans(o)),
                    202,
                )
                .await?;
        }
        station.figures.api_orders_packed += 1;
    }
    Ok(())
}

/// Print each labeled order's label (one package from the catalog), then void the first.
pub async fn print_and_void(
    station: &mut Station<'_>,
    seller: &str,
    orders: &[&Order],
    package: &str,
) -> Result<Option<String>, String> {
    for o in orders {
        let label = station
            .call(
                Role::Packer,
                "GET",
                &format!(
                    "/orders/{seller}/{}/labels/{package}?purpose=print",
                    o.order_id
                ),
                None,
                None,
                200,
            )
            .await?;
        if !label.body.starts_with(b"^XA") {
            station
                .figures
                .api_unexpected
                .push(format!("label of {} is not ZPL", o.order_id));
        }
    }
    let Some(first) = orders.first() else {
        return Ok(None);
    };
    let void = format!("/orders/{seller}/{}/labels/{package}/void", first.order_id);
    station
        .call(Role::Supervisor, "POST", &void, Some("void-1"), None, 202)
        .await?;
    Ok(Some(first.order_id.to_string()))
}

/// Own-carrier parcels confirmed through the API.
pub async fn ship_own_carrier(
    station: &mut Station<'_>,
    seller: &str,
    orders: &[&Order],
) -> Result<(), String> {
    for (n, o) in orders.iter().enumerate() {
        let body = json!({
            "carrier_code": "UPS", "shipping_method": "UPS Ground",
            "tracking_number": format!("1Z999AA1{n:010}"),
        });
        station
            .call(
                Role::Packer,
                "POST",
                &format!("/orders/{seller}/{}/packages/box-1/shipped", o.order_id),
                Some(&format!("dock-1-{}", o.order_id)),
                Some(&body),
                202,
            )
            .await?;
    }
    // An auditor reads the audit report, not orders.
    station
        .call(
            Role::Auditor,
            "GET",
            &format!("/orders/{seller}"),
            None,
            None,
            403,
        )
        .await?;
    Ok(())
}

/// Orders of `orders` the API shows as shipped.
pub async fn count_shipped(
    station: &mut Station<'_>,
    seller: &str,
    orders: &[&Order],
) -> Result<(), String> {
    for o in orders {
        let a = station
            .call(
                Role::Admin,
                "GET",
                &format!("/orders/{seller}/{}", o.order_id),
                None,
                None,
                200,
            )
            .await?;
        if a.json()["status"] == "shipped" {
            station.figures.api_orders_shipped += 1;
        }
    }
    Ok(())
}
