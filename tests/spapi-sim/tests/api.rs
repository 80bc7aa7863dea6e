//! The simulator over HTTP, as the real client sees it: LWA grants, Amazon's auth failures,
//! paging, usage plans on the simulated clock, fault knobs, and every body checked against the
//! official models (Orders, Shipping, Listings Items, Feeds, the notification schemas).

use base64::Engine;
use chrono::{Duration, SecondsFormat, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use spapi_sim::{Faults, SimConfig, SimHandle, Simulator};
use std::path::PathBuf;

async fn sim(config: SimConfig) -> SimHandle {
    Simulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("simulator starts")
}

async fn token(sim: &SimHandle, config: &SimConfig, seller: usize) -> String {
    let resp = reqwest::Client::new()
        .post(sim.lwa_token_url())
        .form(&[
            ("grant_type", "refresh_token"),
            (
                "refresh_token",
                config.sellers[seller].refresh_token.as_str(),
            ),
            ("client_id", config.app.client_id.as_str()),
            ("client_secret", config.app.client_secret.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 3600);
    body["access_token"].as_str().unwrap().to_owned()
}

fn iso(t: chrono::DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

struct Reply {
    status: StatusCode,
    request_id: Option<String>,
    rate_limit: Option<String>,
    body: Value,
}

async fn call(sim: &SimHandle, token: Option<&str>, path: &str, query: &[(&str, String)]) -> Reply {
    let mut req = reqwest::Client::new()
        .get(format!("{}{path}", sim.base_url()))
        .query(query);
    if let Some(t) = token {
        req = req.header("x-amz-access-token", t);
    }
    reply(req.send().await.unwrap()).await
}

async fn reply(resp: reqwest::Response) -> Reply {
    let header = |n: &str| {
        resp.headers()
            .get(n)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let (request_id, rate_limit) = (header("x-amzn-RequestId"), header("x-amzn-RateLimit-Limit"));
    let status = resp.status();
    let text = resp.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Reply {
        status,
        request_id,
        rate_limit,
        body,
    }
}

fn search_query(after: chrono::DateTime<Utc>, page_size: u32) -> Vec<(&'static str, String)> {
    vec![
        ("lastUpdatedAfter", iso(after)),
        ("marketplaceIds", "ATVPDKIKX0DER".into()),
        ("fulfilledBy", "MERCHANT".into()),
        ("maxResultsPerPage", page_size.to_string()),
        (
            "includedData",
            "BUYER,RECIPIENT,FULFILLMENT,PACKAGES".into(),
        ),
    ]
}

const SEARCH: &str = "/orders/2026-01-01/orders";

/// All pages of one search, following `nextToken`.
async fn all_pages(sim: &SimHandle, token: &str, page_size: u32) -> (Vec<Value>, usize) {
    let mut query = search_query(Utc::now() - Duration::days(30), page_size);
    let (mut orders, mut pages) = (Vec::new(), 0);
    loop {
        let r = call(sim, Some(token), SEARCH, &query).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        pages += 1;
        let page = r.body["orders"].as_array().unwrap();
        assert!(page.len() <= page_size as usize);
        orders.extend(page.iter().cloned());
        match r.body["pagination"]["nextToken"].as_str() {
            Some(next) => {
                query.retain(|(k, _)| *k != "paginationToken");
                query.push(("paginationToken", next.to_owned()));
            }
            None => return (orders, pages),
        }
    }
}

#[tokio::test]
async fn lwa_grants_tokens_only_to_the_app_and_sellers_it_knows() {
    let config = SimConfig::demo(2, 1, 1);
    let sim = sim(config.clone()).await;
    token(&sim, &config, 0).await;
    let http = reqwest::Client::new();
    let post = |form: Vec<(&'static str, String)>| {
        let http = http.clone();
        let url = sim.lwa_token_url();
        async move {
            let r = http.post(url).form(&form).send().await.unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        }
    };
    let app = &config.app;
    let (status, body) = post(vec![
        ("grant_type", "refresh_token".into()),
        ("refresh_token", config.sellers[0].refresh_token.clone()),
        ("client_id", app.client_id.clone()),
        ("client_secret", "wrong".into()),
    ])
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    let (status, body) = post(vec![
        ("grant_type", "refresh_token".into()),
        ("refresh_token", "Atzr|unknown".into()),
        ("client_id", app.client_id.clone()),
        ("client_secret", app.client_secret.clone()),
    ])
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    // A grantless token exists but opens no seller's orders.
    let (status, body) = post(vec![
        ("grant_type", "client_credentials".into()),
        ("scope", "sellingpartnerapi::notifications".into()),
        ("client_id", app.client_id.clone()),
        ("client_secret", app.client_secret.clone()),
    ])
    .await;
    assert_eq!(status, StatusCode::OK);
    let grantless = body["access_token"].as_str().unwrap().to_owned();
    let r = call(
        &sim,
        Some(&grantless),
        SEARCH,
        &search_query(Utc::now() - Duration::days(1), 10),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let (status, body) = post(vec![
        ("grant_type", "password".into()),
        ("client_id", app.client_id.clone()),
        ("client_secret", app.client_secret.clone()),
    ])
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unsupported_grant_type"))
    );
    let stats = sim.stats();
    assert_eq!(stats.count("lwaToken", 200), 2);
    assert_eq!(stats.total("lwaToken"), 5);
}

#[tokio::test]
async fn missing_expired_and_revoked_tokens_get_403_with_the_official_body() {
    let config = SimConfig::demo(2, 5, 2);
    let sim = sim(config.clone()).await;
    let q = search_query(Utc::now() - Duration::days(7), 10);
    let r = call(&sim, None, SEARCH, &q).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.body["errors"][0]["code"], "Unauthorized");
    assert!(r.request_id.is_some());

    let t = token(&sim, &config, 0).await;
    assert_eq!(
        call(&sim, Some(&t), SEARCH, &q).await.status,
        StatusCode::OK
    );
    sim.advance_clock(Duration::seconds(3601));
    let r = call(&sim, Some(&t), SEARCH, &q).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        r.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("expired")
    );

    let t = token(&sim, &config, 1).await;
    sim.revoke_seller(&config.sellers[1].seller_id);
    assert_eq!(
        call(&sim, Some(&t), SEARCH, &q).await.status,
        StatusCode::FORBIDDEN
    );
    let r = reqwest::Client::new()
        .post(sim.lwa_token_url())
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", config.sellers[1].refresh_token.as_str()),
            ("client_id", config.app.client_id.as_str()),
            ("client_secret", config.app.client_secret.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn pages_cover_every_order_once_oldest_first_and_only_the_sellers_own() {
    let config = SimConfig::demo(2, 95, 3);
    let sim = sim(config.clone()).await;
    let t = token(&sim, &config, 1).await;
    let (orders, pages) = all_pages(&sim, &t, 20).await;
    assert_eq!(pages, 5);
    assert_eq!(orders.len(), 95);
    assert_eq!(orders.len(), sim.order_count(&config.sellers[1].seller_id));
    let ids: std::collections::BTreeSet<_> = orders
        .iter()
        .map(|o| o["orderId"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 95, "no order twice");
    let times: Vec<_> = orders
        .iter()
        .map(|o| o["lastUpdatedTime"].as_str().unwrap().to_owned())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "oldest first");

    // Another seller's order is not found with this seller's token.
    let other = token(&sim, &config, 0).await;
    let (theirs, _) = all_pages(&sim, &other, 100).await;
    let foreign = theirs[0]["orderId"].as_str().unwrap();
    let r = call(&sim, Some(&t), &format!("{SEARCH}/{foreign}"), &[]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["errors"][0]["code"], "NotFound");
}

#[tokio::test]
async fn a_window_returns_exactly_the_orders_updated_inside_it() {
    let config = SimConfig::demo(1, 60, 4);
    let sim = sim(config.clone()).await;
    let t = token(&sim, &config, 0).await;
    let (all, _) = all_pages(&sim, &t, 100).await;
    let mid = all[30]["lastUpdatedTime"].as_str().unwrap().to_owned();
    let mut q = search_query(Utc::now() - Duration::days(30), 100);
    q.push(("lastUpdatedBefore", mid.clone()));
    let r = call(&sim, Some(&t), SEARCH, &q).await;
    assert_eq!(r.body["lastUpdatedBefore"], mid.as_str());
    let n = r.body["orders"].as_array().unwrap().len();
    let expected = all
        .iter()
        .filter(|o| o["lastUpdatedTime"].as_str().unwrap() <= mid.as_str())
        .count();
    assert_eq!(n, expected);
}

#[tokio::test]
async fn bad_searches_get_400_invalid_input() {
    let config = SimConfig::demo(1, 5, 5);
    let sim = sim(config.clone()).await;
    let t = token(&sim, &config, 0).await;
    let week_ago = Utc::now() - Duration::days(7);
    let too_fresh = vec![
        ("lastUpdatedAfter", iso(week_ago)),
        ("lastUpdatedBefore", iso(Utc::now() - Duration::seconds(30))),
    ];
    let both = vec![
        ("lastUpdatedAfter", iso(week_ago)),
        ("createdAfter", iso(week_ago)),
    ];
    let neither = vec![("maxResultsPerPage", "10".into())];
    let big_page = vec![
        ("lastUpdatedAfter", iso(week_ago)),
        ("maxResultsPerPage", "101".into()),
    ];
    let bad_date = vec![("lastUpdatedAfter", "last tuesday".into())];
    let bad_data = vec![
        ("lastUpdatedAfter", iso(week_ago)),
        ("includedData", "EVERYTHING".into()),
    ];
    let bad_token = vec![("paginationToken", "forged".into())];
    for q in [
        too_fresh, both, neither, big_page, bad_date, bad_data, bad_token,
    ] {
        let r = call(&sim, Some(&t), SEARCH, &q).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q:?}");
        assert_eq!(r.body["errors"][0]["code"], "InvalidInput", "{q:?}");
    }
}

#[tokio::test]
async fn included_data_decides_what_is_shown() {
    let config = SimConfig::demo(1, 30, 6);
    let sim = sim(config.clone()).await;
    let t = token(&sim, &config, 0).await;
    let (orders, _) = all_pages(&sim, &t, 100).await;
    let with_buyer = orders
        .iter()
        .find(|o| o.get("buyer").is_some())
        .expect("an order with a buyer");
    let id = with_buyer["orderId"].as_str().unwrap();
    let path = format!("{SEARCH}/{id}");
    let full = call(
        &sim,
        Some(&t),
        &path,
        &[("includedData", "BUYER,RECIPIENT,FULFILLMENT".into())],
    )
    .await;
    assert_eq!(full.status, StatusCode::OK);
    assert_eq!(full.body["order"]["buyer"], with_buyer["buyer"]);
    assert!(full.body["order"]["recipient"]["deliveryAddress"]["phone"].is_string());
    let bare = call(&sim, Some(&t), &path, &[]).await;
    let order = &bare.body["order"];
    assert!(order.get("buyer").is_none() && order.get("recipient").is_none());
    assert!(order.get("fulfillment").is_none() && order["orderItems"].is_array());
}

#[tokio::test]
async fn usage_plans_are_token_buckets_on_the_simulated_clock() {
    let config = SimConfig::demo(2, 3, 7);
    let sim = sim(config.clone()).await;
    let t = token(&sim, &config, 0).await;
    let q = search_query(Utc::now() - Duration::days(7), 10);
    for _ in 0..20 {
        let r = call(&sim, Some(&t), SEARCH, &q).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.rate_limit.as_deref(), Some("0.0056"));
    }
    let r = call(&sim, Some(&t), SEARCH, &q).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.body["errors"][0]["code"], "QuotaExceeded");
    assert_eq!(r.rate_limit, None, "Amazon sends no rate header with a 429");
    // Another seller has a bucket of its own.
    let other = token(&sim, &config, 1).await;
    assert_eq!(
        call(&sim, Some(&other), SEARCH, &q).await.status,
        StatusCode::OK
    );
    // One token comes back every 1 / 0.0056 s = 178.6 s.
    sim.advance_clock(Duration::seconds(170));
    assert_eq!(
        call(&sim, Some(&t), SEARCH, &q).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    sim.advance_clock(Duration::seconds(10));
    let q = search_query(Utc::now() - Duration::days(7), 10);
    assert_eq!(
        call(&sim, Some(&t), SEARCH, &q).await.status,
        StatusCode::OK
    );
    assert_eq!(
        call(&sim, Some(&t), SEARCH, &q).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(sim.stats().throttled_by_quota, 3);
}

#[tokio::test]
async fn a_sped_up_clock_runs_simulated_time_faster_than_real_time() {
    let config = SimConfig {
        clock_speed: 600.0,
        ..SimConfig::demo(1, 1, 8)
    };
    let sim = sim(config).await;
    let before = sim.now();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    // At least 600 × 50 ms passed on the simulated clock, whatever the machine's load. The
    // buckets read this clock (see the jump test above for their arithmetic).
    assert!(
        sim.now() - before >= Duration::seconds(30),
        "{}",
        sim.now() - before
    );
}

#[tokio::test]
async fn fault_knobs_inject_throttling_server_errors_and_broken_bodies() {
    let config = SimConfig::demo(1, 10, 9);
    let sim = sim(config.clone()).await;
    let t = token(&sim, &config, 0).await;
    let q = search_query(Utc::now() - Duration::days(7), 10);
    sim.set_faults(Faults {
        throttle_share: 1.0,
        max_faults: Some(2),
        ..Faults::default()
    });
    let statuses = [
        call(&sim, Some(&t), SEARCH, &q).await.status,
        call(&sim, Some(&t), SEARCH, &q).await.status,
        call(&sim, Some(&t), SEARCH, &q).await.status,
    ];
    assert_eq!(
        statuses,
        [
            StatusCode::TOO_MANY_REQUESTS,
            StatusCode::TOO_MANY_REQUESTS,
            StatusCode::OK
        ]
    );
    sim.set_faults(Faults {
        server_error_share: 1.0,
        max_faults: Some(1),
        ..Faults::default()
    });
    let r = call(&sim, Some(&t), SEARCH, &q).await;
    assert!(r.status.is_server_error());
    assert!(r.request_id.is_some());
    sim.set_faults(Faults {
        malformed_share: 1.0,
        max_faults: Some(1),
        ..Faults::default()
    });
    let r = call(&sim, Some(&t), SEARCH, &q).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.is_string(), "the body does not parse as JSON");
    sim.set_faults(Faults {
        latency_ms: 300,
        ..Faults::default()
    });
    let started = std::time::Instant::now();
    assert_eq!(
        call(&sim, Some(&t), SEARCH, &q).await.status,
        StatusCode::OK
    );
    assert!(started.elapsed() >= std::time::Duration::from_millis(300));
    let stats = sim.stats();
    assert_eq!(
        (
            stats.throttled_injected,
            stats.server_errors_injected,
            stats.malformed_injected
        ),
        (2, 1, 1)
    );
    assert_eq!(stats.throttled_by_quota, 0);
}

#[tokio::test]
async fn seeded_pii_values_are_the_ones_served() {
    let config = SimConfig::demo(1, 40, 10);
    let sim = sim(config.clone()).await;
    let t = token(&sim, &config, 0).await;
    let (orders, _) = all_pages(&sim, &t, 100).await;
    let served = serde_json::to_string(&orders).unwrap();
    let values = sim.seeded_pii_values();
    assert!(values.len() > 100, "{}", values.len());
    assert!(values.iter().all(|v| served.contains(v.as_str())));
}

// ---------------------------------------------------------------------------------------------
// Schema: every body the simulator serves is valid against the official model.

fn models_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/spapi-models")
}

/// A draft-4 validator for one definition of the model. Every object is closed
/// (`additionalProperties: false`), so a misspelt or invented field fails too.
fn validator(model: &Value, definition: &str) -> jsonschema::Validator {
    let mut definitions = model["definitions"].clone();
    for def in definitions.as_object_mut().unwrap().values_mut() {
        close_objects(def);
    }
    let schema = json!({
        "definitions": definitions,
        "allOf": [{ "$ref": format!("#/definitions/{definition}") }],
    });
    jsonschema::draft4::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("model compiles")
}

fn close_objects(schema: &mut Value) {
    if let Some(obj) = schema.as_object_mut() {
        if obj.contains_key("properties") && !obj.contains_key("additionalProperties") {
            obj.insert("additionalProperties".into(), Value::Bool(false));
        }
        for v in obj.values_mut() {
            close_objects(v);
        }
    } else if let Some(arr) = schema.as_array_mut() {
        arr.iter_mut().for_each(close_objects);
    }
}

fn assert_valid(v: &jsonschema::Validator, instance: &Value, what: &str) {
    let errors: Vec<String> = v
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .take(10)
        .collect();
    assert!(errors.is_empty(), "{what}: {errors:#?}");
}

#[tokio::test]
async fn responses_validate_against_the_official_orders_model() {
    let path = models_dir().join("orders_2026-01-01.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!(
            "SKIPPED: {} not found (../shared beside the repository)",
            path.display()
        );
        return;
    };
    let model: Value = serde_json::from_str(&text).unwrap();
    let search = validator(&model, "SearchOrdersResponse");
    let get = validator(&model, "GetOrderResponse");
    let errors = validator(&model, "ErrorList");
    // The check is live: a wrong field name fails.
    assert!(!search.is_valid(&json!({"orders": [], "nextToken": "x"})));

    let config = SimConfig::demo(3, 80, 11);
    let sim = sim(config.clone()).await;
    let mut statuses = std::collections::BTreeSet::new();
    for seller in 0..3 {
        let t = token(&sim, &config, seller).await;
        let mut query = search_query(Utc::now() - Duration::days(30), 30);
        query.push(("lastUpdatedBefore", iso(Utc::now() - Duration::minutes(3))));
        loop {
            let r = call(&sim, Some(&t), SEARCH, &query).await;
            assert_eq!(r.status, StatusCode::OK);
            assert_valid(&search, &r.body, "searchOrders");
            for (i, o) in r.body["orders"].as_array().unwrap().iter().enumerate() {
                statuses.insert(
                    o["fulfillment"]["fulfillmentStatus"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                );
                if i >= 9 {
                    continue; // getOrder's burst is 30: sample 9 per page
                }
                let id = o["orderId"].as_str().unwrap();
                let g = call(
                    &sim,
                    Some(&t),
                    &format!("{SEARCH}/{id}"),
                    &[(
                        "includedData",
                        "BUYER,RECIPIENT,FULFILLMENT,PACKAGES".into(),
                    )],
                )
                .await;
                assert_eq!(g.status, StatusCode::OK);
                assert_valid(&get, &g.body, "getOrder");
            }
            match r.body["pagination"]["nextToken"].as_str() {
                Some(next) => query = vec![("paginationToken", next.to_owned())],
                None => break,
            }
        }
    }
    assert!(
        statuses.len() >= 4,
        "a mix of fulfilment states: {statuses:?}"
    );
    for (status, body) in [
        (403, call(&sim, None, SEARCH, &[]).await.body),
        (
            400,
            call(&sim, Some(&token(&sim, &config, 0).await), SEARCH, &[])
                .await
                .body,
        ),
        (
            404,
            call(&sim, None, "/orders/2026-01-01/nowhere/x", &[])
                .await
                .body,
        ),
    ] {
        assert_valid(&errors, &body, &format!("error body {status}"));
    }
}

#[tokio::test]
async fn a_page_token_can_be_sent_again_for_a_day_and_not_after() {
    let config = SimConfig::demo(1, 30, 12);
    let sim = sim(config.clone()).await;
    let t = token(&sim, &config, 0).await;
    let first = call(
        &sim,
        Some(&t),
        SEARCH,
        &search_query(Utc::now() - Duration::days(30), 10),
    )
    .await;
    let next = first.body["pagination"]["nextToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let page = |sim: &SimHandle, t: String, next: String| {
        let sim_url = sim.base_url();
        async move {
            let r = reqwest::Client::new()
                .get(format!("{sim_url}{SEARCH}"))
                .query(&[("paginationToken", next)])
                .header("x-amz-access-token", t)
                .send()
                .await
                .unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        }
    };
    let (s1, b1) = page(&sim, t.clone(), next.clone()).await;
    let (s2, b2) = page(&sim, t.clone(), next.clone()).await;
    assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK));
    assert_eq!(b1["orders"], b2["orders"], "the same page again");
    sim.advance_clock(Duration::hours(25));
    let t = token(&sim, &config, 0).await;
    let (s3, b3) = page(&sim, t, next).await;
    assert_eq!(s3, StatusCode::BAD_REQUEST);
    assert_eq!(b3["errors"][0]["code"], "InvalidInput");
}

// ---------------------------------------------------------------------------------------------
// Notifications: orders change over time and each change publishes an ORDER_CHANGE.

fn without_ids(schema: &mut Value) {
    if let Some(obj) = schema.as_object_mut() {
        obj.remove("$id");
        obj.remove("$schema");
        obj.values_mut().for_each(without_ids);
    } else if let Some(arr) = schema.as_array_mut() {
        arr.iter_mut().for_each(without_ids);
    }
}

/// A notification schema with every object closed; `None` (said) when the models are absent.
fn notification_schema(file: &str) -> Option<jsonschema::Validator> {
    let path = models_dir().join(file);
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!("SKIPPED: {} not found", path.display());
        return None;
    };
    let mut schema: Value = serde_json::from_str(&text).unwrap();
    without_ids(&mut schema);
    close_objects(&mut schema);
    Some(
        jsonschema::draft7::options()
            .should_validate_formats(true)
            .build(&schema)
            .expect("schema compiles"),
    )
}

#[tokio::test]
async fn order_changes_publish_notifications_valid_against_the_official_schema() {
    use spapi_sim::{DeliveryKnobs, OrderEvent};
    let Some(v) = notification_schema("OrderChangeNotification.json") else {
        return;
    };
    assert!(!v.is_valid(&json!({"NotificationType": "ORDER_CHANGE"})));

    let config = SimConfig::demo(1, 5, 21);
    let sim = sim(config.clone()).await;
    let seller = &config.sellers[0].seller_id;
    let placed = sim.place_orders(seller, 3);
    assert_eq!(placed.len(), 3);
    assert_eq!(sim.order_count(seller), 8);
    assert!(sim.change_order(seller, &placed[0], OrderEvent::Cancel));
    assert!(sim.change_order(seller, &placed[1], OrderEvent::Ship));
    assert!(sim.change_order(seller, &placed[1], OrderEvent::Deliver));
    assert!(
        !sim.change_order(seller, &placed[0], OrderEvent::Ship),
        "a canceled order does not ship"
    );
    let d = sim.take_notifications();
    assert_eq!((d.published, d.bodies.len()), (6, 6));
    let statuses: Vec<String> = d
        .bodies
        .iter()
        .map(|b| {
            let n: Value = serde_json::from_str(b).unwrap();
            assert_valid(&v, &n, "ORDER_CHANGE");
            n["Payload"]["OrderChangeNotification"]["Summary"]["OrderStatus"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        statuses,
        [
            "Unshipped",
            "Unshipped",
            "Unshipped",
            "Canceled",
            "Shipped",
            "Shipped"
        ]
    );
    assert!(sim.take_notifications().bodies.is_empty(), "delivered once");

    // Knobs: every one duplicated three times, in a shuffled order; then every one dropped.
    sim.set_delivery(DeliveryKnobs {
        duplicate_share: 1.0,
        copies: 3,
        shuffle: true,
        ..Default::default()
    });
    sim.place_orders(seller, 4);
    let d = sim.take_notifications();
    assert_eq!((d.published, d.duplicated, d.bodies.len()), (4, 8, 12));
    sim.set_delivery(DeliveryKnobs {
        drop_share: 1.0,
        ..Default::default()
    });
    sim.place_orders(seller, 2);
    let d = sim.take_notifications();
    assert_eq!((d.published, d.dropped, d.bodies.len()), (2, 2, 0));
}

// ---------------------------------------------------------------------------------------------
// Shipping v2: rates, purchases once per idempotency key, expiry, refusals, a cut-off answer.

const RATES: &str = "/shipping/v2/shipments/rates";
const SHIPMENTS: &str = "/shipping/v2/shipments";

async fn post(sim: &SimHandle, token: &str, path: &str, body: &Value, key: Option<&str>) -> Reply {
    let mut req = reqwest::Client::new()
        .post(format!("{}{path}", sim.base_url()))
        .header("x-amz-access-token", token)
        .json(body);
    if let Some(k) = key {
        req = req.header("x-amzn-IdempotencyKey", k);
    }
    reply(req.send().await.unwrap()).await
}

/// An unshipped order of seller 0 and its first item: (order id, order item id).
async fn unshipped(sim: &SimHandle, config: &SimConfig, token: &str) -> (String, String) {
    let order_id = sim.orders_in(&config.sellers[0].seller_id, "UNSHIPPED")[0].clone();
    let order = call(sim, Some(token), &format!("{SEARCH}/{order_id}"), &[]).await;
    let item = order.body["order"]["orderItems"][0]["orderItemId"]
        .as_str()
        .unwrap()
        .to_owned();
    (order_id, item)
}

fn rates_request(order_id: &str, item: &str) -> Value {
    json!({
        "shipFrom": {"name": "Dock 3", "addressLine1": "1 Warehouse Way", "city": "Reno",
                     "stateOrRegion": "NV", "postalCode": "89502", "countryCode": "US"},
        "packages": [{
            "dimensions": {"length": 10, "width": 8, "height": 4, "unit": "INCH"},
            "weight": {"unit": "GRAM", "value": 850},
            "insuredValue": {"unit": "USD", "value": 25.0},
            "packageClientReferenceId": "pkg-1",
            "items": [{"itemIdentifier": item, "quantity": 1}]
        }],
        "channelDetails": {"channelType": "AMAZON", "amazonOrderDetails": {"orderId": order_id}}
    })
}

fn purchase_request(rates: &Value, format: &str) -> Value {
    json!({
        "requestToken": rates["payload"]["requestToken"],
        "rateId": rates["payload"]["rates"][0]["rateId"],
        "requestedDocumentSpecification": {
            "format": format, "size": {"width": 4, "length": 6, "unit": "INCH"},
            "dpi": 203, "needFileJoining": false, "requestedDocumentTypes": ["LABEL"]
        }
    })
}

fn shipping_model() -> Option<Value> {
    let path = models_dir().join("shippingV2.json");
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(serde_json::from_str(&text).unwrap()),
        Err(_) => {
            eprintln!("SKIPPED schema checks: {} not found", path.display());
            None
        }
    }
}

#[tokio::test]
async fn rates_and_purchases_validate_against_the_official_shipping_model_and_carry_the_recipient()
{
    let config = SimConfig::demo(1, 40, 21);
    let sim = sim(config.clone()).await;
    let t = token(&sim, &config, 0).await;
    let (order_id, item) = unshipped(&sim, &config, &t).await;
    let model = shipping_model();
    let check = |definition: &str, body: &Value| {
        if let Some(m) = &model {
            assert_valid(&validator(m, definition), body, definition);
        }
    };
    if let Some(m) = &model {
        check("GetRatesRequest", &rates_request(&order_id, &item));
        // The check is live: an invented field fails.
        assert!(
            !validator(m, "GetRatesResponse")
                .is_valid(&json!({"payload": {"requestToken": "x", "rates": [], "price": 1}}))
        );
    }
    let rates = post(&sim, &t, RATES, &rates_request(&order_id, &item), None).await;
    assert_eq!(rates.status, StatusCode::OK, "{}", rates.body);
    assert_eq!(rates.rate_limit.as_deref(), Some("80"));
    check("GetRatesResponse", &rates.body);
    let quoted = rates.body["payload"]["rates"].as_array().unwrap();
    assert!(quoted.len() >= 3);
    let carriers: std::collections::BTreeSet<_> = quoted
        .iter()
        .map(|r| r["carrierId"].as_str().unwrap())
        .collect();
    assert!(carriers.len() >= 3, "{carriers:?}");
    let pii = sim.seeded_pii_values();
    for format in ["PDF", "PNG", "ZPL"] {
        let rates = post(&sim, &t, RATES, &rates_request(&order_id, &item), None).await;
        let request = purchase_request(&rates.body, format);
        check("PurchaseShipmentRequest", &request);
        let bought = post(
            &sim,
            &t,
            SHIPMENTS,
            &request,
            Some(&format!("key-{format}")),
        )
        .await;
        assert_eq!(bought.status, StatusCode::OK, "{}", bought.body);
        check("PurchaseShipmentResponse", &bought.body);
        let detail = &bought.body["payload"]["packageDocumentDetails"][0];
        assert_eq!(detail["packageClientReferenceId"], "pkg-1");
        assert!(detail["trackingId"].as_str().unwrap().starts_with("TBA"));
        let document = &detail["packageDocuments"][0];
        assert_eq!(document["format"], format);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(document["contents"].as_str().unwrap())
            .unwrap();
        let magic: &[u8] = match format {
            "PDF" => b"%PDF-",
            "PNG" => b"\x89PNG",
            _ => b"^XA",
        };
        assert!(bytes.starts_with(magic), "{format}");
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            pii.iter().any(|v| v.len() > 3 && text.contains(v.as_str())),
            "the {format} label names the recipient"
        );
    }
    assert_eq!(sim.stats().labels_bought(&order_id, "pkg-1"), 3);
}

#[tokio::test]
async fn an_idempotency_key_buys_once_even_when_the_answer_was_cut_off() {
    let config = SimConfig::demo(1, 40, 22);
    let sim = sim(config.clone()).await;
    let t = token(&sim, &config, 0).await;
    let (order_id, item) = unshipped(&sim, &config, &t).await;
    let rates = post(&sim, &t, RATES, &rates_request(&order_id, &item), None).await;
    let request = purchase_request(&rates.body, "PDF");
    sim.drop_connection_after_purchases(1);
    let cut = reqwest::Client::new()
        .post(format!("{}{SHIPMENTS}", sim.base_url()))
        .header("x-amz-access-token", &t)
        .header("x-amzn-IdempotencyKey", "pkg-1-attempt")
        .json(&request)
        .send()
        .await;
    let lost = match cut {
        Ok(resp) => resp.bytes().await.is_err(),
        Err(_) => true,
    };
    assert!(lost, "the answer did not come through");
    assert_eq!(
        sim.stats().labels_bought(&order_id, "pkg-1"),
        1,
        "bought all the same"
    );
    let again = post(&sim, &t, SHIPMENTS, &request, Some("pkg-1-attempt")).await;
    let once_more = post(&sim, &t, SHIPMENTS, &request, Some("pkg-1-attempt")).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(
        again.body["payload"]["shipmentId"], once_more.body["payload"]["shipmentId"],
        "the first purchase's answer"
    );
    assert_eq!(sim.stats().labels_bought(&order_id, "pkg-1"), 1);
    // Another key is another purchase.
    post(&sim, &t, SHIPMENTS, &request, Some("another")).await;
    assert_eq!(sim.stats().labels_bought(&order_id, "pkg-1"), 2);
}

#[tokio::test]
async fn expired_rates_canceled_orders_and_unknown_items_are_refused() {
    let config = SimConfig::demo(1, 40, 23);
    let sim = sim(config.clone()).await;
    let t = token(&sim, &config, 0).await;
    let (order_id, item) = unshipped(&sim, &config, &t).await;
    let errors = shipping_model().map(|m| validator(&m, "ErrorList"));
    let refused = |r: &Reply, code: &str| {
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
        assert_eq!(r.body["errors"][0]["code"], code, "{}", r.body);
        if let Some(v) = &errors {
            assert_valid(v, &r.body, code);
        }
    };
    let rates = post(&sim, &t, RATES, &rates_request(&order_id, &item), None).await;
    sim.advance_clock(spapi_sim::RATE_LIFETIME + Duration::seconds(1));
    let late = post(
        &sim,
        &t,
        SHIPMENTS,
        &purchase_request(&rates.body, "ZPL"),
        Some("late"),
    )
    .await;
    refused(&late, "TOKEN_EXPIRED");
    refused(
        &post(
            &sim,
            &t,
            RATES,
            &rates_request(&order_id, "no-such-item"),
            None,
        )
        .await,
        "InvalidInput",
    );
    let mut too_many = rates_request(&order_id, &item);
    too_many["packages"][0]["items"][0]["quantity"] = json!(99);
    refused(
        &post(&sim, &t, RATES, &too_many, None).await,
        "InvalidInput",
    );
    let seller = &config.sellers[0].seller_id;
    assert!(sim.change_order(seller, &order_id, spapi_sim::OrderEvent::Cancel));
    refused(
        &post(&sim, &t, RATES, &rates_request(&order_id, &item), None).await,
        "InvalidInput",
    );
    assert_eq!(sim.stats().label_purchases.values().sum::<u64>(), 0);
}

async fn send(
    sim: &SimHandle,
    method: reqwest::Method,
    token: &str,
    path: &str,
    query: &[(&str, &str)],
) -> Reply {
    let req = reqwest::Client::new()
        .request(method, format!("{}{path}", sim.base_url()))
        .header("x-amz-access-token", token)
        .query(query);
    reply(req.send().await.unwrap()).await
}

#[tokio::test]
async fn tracking_documents_and_cancellation_follow_the_carrier_on_the_simulated_clock() {
    let config = SimConfig::demo(1, 40, 24);
    let sim = sim(config.clone()).await;
    let t = token(&sim, &config, 0).await;
    let (order_id, item) = unshipped(&sim, &config, &t).await;
    let model = shipping_model();
    let check = |definition: &str, body: &Value| {
        if let Some(m) = &model {
            assert_valid(&validator(m, definition), body, definition);
        }
    };
    let buy = |key: &'static str, t: String| {
        let (sim, order_id, item) = (&sim, &order_id, &item);
        async move {
            let t = &t;
            let rates = post(sim, t, RATES, &rates_request(order_id, item), None).await;
            let bought = post(
                sim,
                t,
                SHIPMENTS,
                &purchase_request(&rates.body, "PDF"),
                Some(key),
            )
            .await;
            assert_eq!(bought.status, StatusCode::OK, "{}", bought.body);
            let p = &bought.body["payload"];
            (
                p["shipmentId"].as_str().unwrap().to_owned(),
                p["packageDocumentDetails"][0]["trackingId"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
                rates.body["payload"]["rates"][0]["carrierId"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
        }
    };
    let (shipment, tracking, carrier) = buy("first", t.clone()).await;
    let track = |t: String| {
        let (sim, tracking, carrier) = (&sim, tracking.clone(), carrier.clone());
        async move {
            send(
                sim,
                reqwest::Method::GET,
                &t,
                "/shipping/v2/tracking",
                &[("trackingId", &tracking), ("carrierId", &carrier)],
            )
            .await
        }
    };
    let status = |r: &Reply| {
        r.body["payload"]["summary"]["status"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let fresh = track(t.clone()).await;
    assert_eq!(fresh.status, StatusCode::OK, "{}", fresh.body);
    check("GetTrackingResponse", &fresh.body);
    assert_eq!(status(&fresh), "PreTransit");

    // The document again, in another format, still naming the recipient.
    let docs = send(
        &sim,
        reqwest::Method::GET,
        &t,
        &format!("{SHIPMENTS}/{shipment}/documents"),
        &[("packageClientReferenceId", "pkg-1"), ("format", "ZPL")],
    )
    .await;
    assert_eq!(docs.status, StatusCode::OK, "{}", docs.body);
    check("GetShipmentDocumentsResponse", &docs.body);
    let zpl = base64::engine::general_purpose::STANDARD
        .decode(
            docs.body["payload"]["packageDocumentDetail"]["packageDocuments"][0]["contents"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    assert!(zpl.starts_with(b"^XA"));

    sim.advance_clock(spapi_sim::PICKUP_AFTER + Duration::minutes(1));
    // Access tokens last an hour.
    let t = token(&sim, &config, 0).await;
    let collected = track(t.clone()).await;
    check("GetTrackingResponse", &collected.body);
    assert_eq!(status(&collected), "InTransit");
    assert_eq!(
        collected.body["payload"]["eventHistory"][1]["eventCode"],
        "PickupDone"
    );
    // Collected: too late to void.
    let late = send(
        &sim,
        reqwest::Method::PUT,
        &t,
        &format!("{SHIPMENTS}/{shipment}/cancel"),
        &[],
    )
    .await;
    assert_eq!(late.status, StatusCode::BAD_REQUEST, "{}", late.body);
    check("ErrorList", &late.body);
    sim.advance_clock(Duration::days(6));
    let t = token(&sim, &config, 0).await;
    assert_eq!(status(&track(t.clone()).await), "Delivered");

    // A label voided before collection: once, however often it is asked; never collected.
    let (second, second_tracking, _) = buy("second", t.clone()).await;
    for _ in 0..2 {
        let canceled = send(
            &sim,
            reqwest::Method::PUT,
            &t,
            &format!("{SHIPMENTS}/{second}/cancel"),
            &[],
        )
        .await;
        assert_eq!(canceled.status, StatusCode::OK, "{}", canceled.body);
        check("CancelShipmentResponse", &canceled.body);
    }
    sim.advance_clock(Duration::days(1));
    let t = token(&sim, &config, 0).await;
    let gone = send(
        &sim,
        reqwest::Method::GET,
        &t,
        "/shipping/v2/tracking",
        &[
            ("trackingId", second_tracking.as_str()),
            ("carrierId", carrier.as_str()),
        ],
    )
    .await;
    assert_eq!(status(&gone), "PickupCancelled");
    let stats = sim.stats();
    assert_eq!(stats.labels_bought(&order_id, "pkg-1"), 2);
    assert_eq!(stats.labels_canceled.values().sum::<u64>(), 1);
    assert_eq!(
        stats.duplicate_purchases(),
        0,
        "one live label for the package"
    );

    // A parcel the carrier never collects never gets its first scan.
    sim.never_scan_next_labels(1);
    let (_, left, _) = buy("third", t.clone()).await;
    sim.advance_clock(Duration::days(2));
    let t = token(&sim, &config, 0).await;
    let waiting = send(
        &sim,
        reqwest::Method::GET,
        &t,
        "/shipping/v2/tracking",
        &[
            ("trackingId", left.as_str()),
            ("carrierId", carrier.as_str()),
        ],
    )
    .await;
    assert_eq!(status(&waiting), "PreTransit");
    assert_eq!(
        sim.stats().duplicate_purchases(),
        1,
        "two live labels for one package"
    );
}

fn orders_v0_model() -> Option<Value> {
    let path = models_dir().join("ordersV0.json");
    std::fs::read_to_string(&path)
        .ok()
        .map(|text| serde_json::from_str(&text).unwrap())
}

#[tokio::test]
async fn own_carrier_confirmations_are_validated_as_amazon_does_and_ship_the_order() {
    let config = SimConfig::demo(1, 40, 25);
    let sim = sim(config.clone()).await;
    let t = token(&sim, &config, 0).await;
    let seller = &config.sellers[0].seller_id;
    let (order_id, item) = unshipped(&sim, &config, &t).await;
    let order = call(&sim, Some(&t), &format!("{SEARCH}/{order_id}"), &[]).await;
    let ordered = order.body["order"]["orderItems"][0]["quantityOrdered"]
        .as_u64()
        .unwrap();
    let marketplace = order.body["order"]["salesChannel"]["marketplaceId"].clone();
    let v0 = orders_v0_model();
    let confirm = |package: &str, carrier: &str, item: &str, quantity: u64| {
        json!({
            "marketplaceId": marketplace,
            "packageDetail": {
                "packageReferenceId": package, "carrierCode": carrier, "shippingMethod": "Ground",
                "trackingNumber": "1Z999AA10123456784", "shipDate": iso(sim.now()),
                "orderItems": [{"orderItemId": item, "quantity": quantity}]
            }
        })
    };
    let path = format!("/orders/v0/orders/{order_id}/shipmentConfirmation");
    let refused = async |body: Value, why: &str| {
        if let Some(m) = &v0 {
            // The request is well-formed by the model: Amazon's own checks refuse it.
            assert_valid(&validator(m, "ConfirmShipmentRequest"), &body, why);
        }
        let r = post(&sim, &t, &path, &body, None).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{why}: {}", r.body);
        if let Some(m) = &v0 {
            assert_valid(&validator(m, "ConfirmShipmentErrorResponse"), &r.body, why);
        }
    };
    refused(
        confirm("1", "Speedy Parcels", &item, 1),
        "a carrier code not on Amazon's list",
    )
    .await;
    refused(
        confirm("1", "Other", &item, 1),
        "Other without a carrier name",
    )
    .await;
    refused(
        confirm("pkg-1", "UPS", &item, 1),
        "a reference that is not a number",
    )
    .await;
    refused(
        confirm("1", "UPS", "99999999999999", 1),
        "an unknown order item",
    )
    .await;
    refused(
        confirm("1", "UPS", &item, ordered + 1),
        "more than was ordered",
    )
    .await;
    assert_eq!(sim.stats().confirmations(&order_id, "1"), 0);

    let ok = post(&sim, &t, &path, &confirm("1", "UPS", &item, ordered), None).await;
    assert_eq!(ok.status, StatusCode::NO_CONTENT, "{}", ok.body);
    assert_eq!(ok.rate_limit.as_deref(), Some("2"));
    assert_eq!(sim.stats().confirmations(&order_id, "1"), 1);
    // The order shows the package; a second package for the same units is refused.
    let shipped = call(
        &sim,
        Some(&t),
        &format!("{SEARCH}/{order_id}"),
        &[("includedData", "PACKAGES,FULFILLMENT".to_owned())],
    )
    .await;
    assert_eq!(
        shipped.body["order"]["packages"][0]["trackingNumber"],
        "1Z999AA10123456784"
    );
    assert!(
        sim.orders_in(seller, "SHIPPED").contains(&order_id)
            || ordered > 1
                && sim
                    .orders_in(seller, "PARTIALLY_SHIPPED")
                    .contains(&order_id)
    );
    refused(
        confirm("2", "UPS", &item, 1),
        "units already confirmed in package 1",
    )
    .await;
    // The same package again edits it: counted, not added.
    let again = post(&sim, &t, &path, &confirm("1", "UPS", &item, ordered), None).await;
    assert_eq!(again.status, StatusCode::NO_CONTENT);
    assert_eq!(sim.stats().confirmations(&order_id, "1"), 2);
}

// ---------------------------------------------------------------------------------------------
// Listings Items: the merchant-fulfilled quantity.

const MKT: &str = "ATVPDKIKX0DER";

fn listings_model() -> Option<Value> {
    let path = models_dir().join("listingsItems_2021-08-01.json");
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(serde_json::from_str(&text).unwrap()),
        Err(_) => {
            eprintln!("SKIPPED schema checks: {} not found", path.display());
            None
        }
    }
}

/// One patch a simulated second after the last (the operation's burst is 5).
async fn patch(sim: &SimHandle, token: &str, path: &str, body: &Value) -> Reply {
    sim.advance_clock(Duration::seconds(1));
    let resp = reqwest::Client::new()
        .patch(format!("{}{path}", sim.base_url()))
        .query(&[("marketplaceIds", MKT)])
        .header("x-amz-access-token", token)
        .json(body)
        .send()
        .await
        .unwrap();
    reply(resp).await
}

fn quantity_patch(product_type: &str, quantity: Value) -> Value {
    json!({
        "productType": product_type,
        "patches": [{"op": "merge", "path": "/attributes/fulfillment_availability",
                     "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": quantity}]}]
    })
}

#[tokio::test]
async fn listings_items_get_and_patch_the_default_quantity_validated_as_amazon_does() {
    let config = SimConfig::demo(2, 5, 31);
    let sim = sim(config.clone()).await;
    let t = token(&sim, &config, 0).await;
    let seller = config.sellers[0].seller_id.clone();
    let other = config.sellers[1].seller_id.clone();
    let sku = "SKU-CHAIR1-0";
    let path = format!("/listings/2021-08-01/items/{seller}/{sku}");
    let model = listings_model();
    let check = |definition: &str, body: &Value| {
        if let Some(m) = &model {
            assert_valid(&validator(m, definition), body, definition);
        }
    };
    if let Some(m) = &model {
        check(
            "ListingsItemPatchRequest",
            &quantity_patch("CHAIR", json!(3)),
        );
        assert!(!validator(m, "Item").is_valid(&json!({"sku": "x", "quantity": 1})));
    }
    let got = call(
        &sim,
        Some(&t),
        &path,
        &[
            ("marketplaceIds", MKT.into()),
            ("includedData", "summaries,fulfillmentAvailability".into()),
        ],
    )
    .await;
    assert_eq!(got.status, StatusCode::OK, "{}", got.body);
    assert_eq!(got.rate_limit.as_deref(), Some("5"));
    check("Item", &got.body);
    assert_eq!(got.body["summaries"][0]["productType"], "CHAIR");
    assert_eq!(
        got.body["fulfillmentAvailability"][0]["quantity"],
        json!(spapi_sim::SEEDED_QUANTITY)
    );

    let ok = patch(&sim, &t, &path, &quantity_patch("CHAIR", json!(3))).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    check("ListingsItemSubmissionResponse", &ok.body);
    assert_eq!(ok.body["status"], "ACCEPTED");
    assert_eq!(sim.listing_quantity(&seller, sku), Some(3));

    for bad in [
        quantity_patch("CHAIR", json!(-1)),
        quantity_patch("CHAIR", json!(2.5)),
        quantity_patch("LAMP", json!(4)),
    ] {
        let r = patch(&sim, &t, &path, &bad).await;
        assert_eq!(r.status, StatusCode::OK);
        check("ListingsItemSubmissionResponse", &r.body);
        assert_eq!(r.body["status"], "INVALID", "{}", r.body);
        assert!(!r.body["issues"].as_array().unwrap().is_empty());
    }
    assert_eq!(
        sim.listing_quantity(&seller, sku),
        Some(3),
        "refused patches change nothing"
    );

    sim.edit_listing(
        &seller,
        sku,
        spapi_sim::ListingEdit::RefuseWith(Some("8541".into())),
    );
    let r = patch(&sim, &t, &path, &quantity_patch("CHAIR", json!(1))).await;
    assert_eq!(r.body["issues"][0]["code"], "8541");

    let unknown = format!("/listings/2021-08-01/items/{seller}/NO-SUCH-SKU");
    let r = call(&sim, Some(&t), &unknown, &[("marketplaceIds", MKT.into())]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    check("ErrorList", &r.body);
    let r = patch(&sim, &t, &unknown, &quantity_patch("CHAIR", json!(1))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    check("ErrorList", &r.body);
    let foreign = format!("/listings/2021-08-01/items/{other}/{sku}");
    assert_eq!(
        call(&sim, Some(&t), &foreign, &[("marketplaceIds", MKT.into())])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let r = patch(
        &sim,
        &t,
        &path,
        &json!({"productType": "CHAIR", "patches": [], "extra": 1}),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    check("ErrorList", &r.body);
    assert_eq!(sim.stats().count("patchListingsItem", 200), 5);
}

/// One `searchListingsItems` a simulated second after the last: the bucket (rate 5, burst 5)
/// is full again.
async fn search(sim: &SimHandle, token: &str, seller: &str, query: &[(&str, String)]) -> Reply {
    sim.advance_clock(Duration::seconds(1));
    let path = format!("/listings/2021-08-01/items/{seller}");
    call(sim, Some(token), &path, query).await
}

/// Every page of a search of all the seller's listings, following `nextToken`: the SKUs in the
/// order served, the pages, the `numberOfResults` every page gave.
async fn all_listing_pages(
    sim: &SimHandle,
    token: &str,
    seller: &str,
    page_size: usize,
    check: &dyn Fn(&Value),
) -> (Vec<String>, usize, Vec<u64>) {
    let mut query = vec![
        ("marketplaceIds", MKT.to_owned()),
        ("pageSize", page_size.to_string()),
    ];
    let (mut skus, mut pages, mut totals) = (Vec::new(), 0, Vec::new());
    loop {
        let r = search(sim, token, seller, &query).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        check(&r.body);
        pages += 1;
        totals.push(r.body["numberOfResults"].as_u64().unwrap());
        let items = r.body["items"].as_array().unwrap();
        assert!(!items.is_empty() && items.len() <= page_size);
        skus.extend(items.iter().map(|i| i["sku"].as_str().unwrap().to_owned()));
        match r.body["pagination"]["nextToken"].as_str() {
            Some(next) => {
                query.retain(|(k, _)| *k != "pageToken");
                query.push(("pageToken", next.to_owned()));
            }
            None => return (skus, pages, totals),
        }
    }
}

#[tokio::test]
async fn search_listings_items_finds_skus_pages_every_listing_once_and_is_throttled_after_5() {
    // A clock that moves only when told: at 5 a second, real time would refill the bucket
    // between calls on a slow machine.
    let config = SimConfig {
        clock_speed: 0.0,
        ..SimConfig::demo(2, 5, 32)
    };
    let sim = sim(config.clone()).await;
    let t = token(&sim, &config, 0).await;
    let seller = config.sellers[0].seller_id.clone();
    let other = config.sellers[1].seller_id.clone();
    let model = listings_model();
    let check = |definition: &str, body: &Value| {
        if let Some(m) = &model {
            assert_valid(&validator(m, definition), body, definition);
        }
    };
    if let Some(m) = &model {
        let v = validator(m, "ItemSearchResults");
        assert!(!v.is_valid(&json!({"numberOfResults": 0, "items": [], "extra": 1})));
        assert!(
            !v.is_valid(&json!({"items": []})),
            "numberOfResults is required"
        );
    }
    let listed = sim.listing_quantities(&seller);
    assert!(listed.contains_key("SKU-CHAIR1-0") && listed.contains_key("SKU-CHAIR1-1"));
    sim.edit_listing(
        &seller,
        "SKU-CHAIR1-1",
        spapi_sim::ListingEdit::SetQuantity(Some(7)),
    );
    let by_sku = |identifiers: &str| {
        vec![
            ("marketplaceIds", MKT.to_owned()),
            ("identifiersType", "SKU".to_owned()),
            ("identifiers", identifiers.to_owned()),
            (
                "includedData",
                "summaries,fulfillmentAvailability".to_owned(),
            ),
        ]
    };

    // Three SKUs, one without a listing: the two found, in SKU order, and no pagination.
    let r = search(
        &sim,
        &t,
        &seller,
        &by_sku("SKU-CHAIR1-1,NO-SUCH-SKU,SKU-CHAIR1-0"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.rate_limit.as_deref(), Some("5"));
    check("ItemSearchResults", &r.body);
    assert_eq!(r.body["numberOfResults"], 2);
    assert!(r.body.get("pagination").is_none(), "{}", r.body);
    let items = r.body["items"].as_array().unwrap();
    let skus: Vec<&str> = items.iter().map(|i| i["sku"].as_str().unwrap()).collect();
    assert_eq!(skus, ["SKU-CHAIR1-0", "SKU-CHAIR1-1"]);
    for (item, quantity) in items.iter().zip([spapi_sim::SEEDED_QUANTITY, 7]) {
        assert_eq!(item["summaries"][0]["productType"], "CHAIR");
        assert_eq!(item["summaries"][0]["marketplaceId"], MKT);
        assert_eq!(item["fulfillmentAvailability"][0]["quantity"], quantity);
        assert_eq!(
            item["fulfillmentAvailability"][0]["fulfillmentChannelCode"],
            "DEFAULT"
        );
    }
    // An item is what getListingsItem shows for the SKU.
    let got = call(
        &sim,
        Some(&t),
        &format!("/listings/2021-08-01/items/{seller}/SKU-CHAIR1-0"),
        &[
            ("marketplaceIds", MKT.into()),
            ("includedData", "summaries,fulfillmentAvailability".into()),
        ],
    )
    .await;
    assert_eq!(got.body, items[0]);
    // includedData defaults to summaries.
    let mut plain = by_sku("SKU-CHAIR1-0");
    plain.retain(|(k, _)| *k != "includedData");
    let r = search(&sim, &t, &seller, &plain).await;
    check("ItemSearchResults", &r.body);
    assert!(r.body["items"][0].get("summaries").is_some());
    assert!(r.body["items"][0].get("fulfillmentAvailability").is_none());

    // Refused as bad input.
    let many: Vec<String> = (0..21).map(|i| format!("SKU-{i}")).collect();
    let mut no_type = by_sku("SKU-CHAIR1-0");
    no_type.retain(|(k, _)| *k != "identifiersType");
    let mut asin = by_sku("B0SIMCHAIR1");
    asin[1].1 = "ASIN".into();
    let mut bad_included = by_sku("SKU-CHAIR1-0");
    bad_included[3].1 = "summaries,prices".into();
    let mut refused = vec![by_sku(&many.join(",")), no_type, asin, bad_included];
    for bad in ["0", "21", "ten"] {
        let mut q = by_sku("SKU-CHAIR1-0");
        q.push(("pageSize", bad.into()));
        refused.push(q);
    }
    let mut bad_token = by_sku("SKU-CHAIR1-0");
    bad_token.push(("pageToken", "not a token".into()));
    refused.push(bad_token);
    refused.push(vec![("identifiersType", "SKU".into())]);
    for q in &refused {
        let r = search(&sim, &t, &seller, q).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q:?}: {}", r.body);
        check("ErrorList", &r.body);
        assert_eq!(r.body["errors"][0]["code"], "InvalidInput");
    }
    let r = search(&sim, &t, &seller, &refused[2]).await;
    assert!(
        r.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("SKU only"),
        "{}",
        r.body
    );
    // Twenty SKUs are as many as one search takes.
    let r = search(&sim, &t, &seller, &by_sku(&many[..20].join(","))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["numberOfResults"], 0);

    // No identifiers: every listing of the seller, in SKU order, each once.
    let page_check = |body: &Value| check("ItemSearchResults", body);
    let (skus, pages, totals) = all_listing_pages(&sim, &t, &seller, 4, &page_check).await;
    let expected: Vec<String> = listed.keys().cloned().collect();
    assert_eq!(skus, expected);
    assert_eq!(pages, expected.len().div_ceil(4));
    assert!(totals.iter().all(|n| *n == expected.len() as u64));

    // Amazon pages through the first 1,000 found only; numberOfResults counts them all.
    let t1 = token(&sim, &config, 1).await;
    let have = sim.listing_quantities(&other).len();
    for i in have..1005 {
        let created = sim.edit_listing(
            &other,
            &format!("SKU-ZZ-{i:04}"),
            spapi_sim::ListingEdit::Create {
                product_type: "HOME".into(),
            },
        );
        assert!(created);
    }
    let (skus, pages, totals) = all_listing_pages(&sim, &t1, &other, 20, &|_| {}).await;
    assert_eq!(pages, 50);
    assert_eq!(skus.len(), 1000);
    let every: Vec<String> = sim.listing_quantities(&other).into_keys().collect();
    assert_eq!(skus, every[..1000]);
    assert!(totals.iter().all(|n| *n == 1005));

    // Another seller's listings: 403, as getListingsItem.
    let r = search(&sim, &t, &other, &by_sku("SKU-CHAIR1-0")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    check("ErrorList", &r.body);

    // The burst is 5: a sixth call at once is throttled, the next second serves again.
    sim.advance_clock(Duration::seconds(1));
    let path = format!("/listings/2021-08-01/items/{seller}");
    let query = by_sku("SKU-CHAIR1-0");
    for _ in 0..5 {
        let r = call(&sim, Some(&t), &path, &query).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    let r = call(&sim, Some(&t), &path, &query).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.body["errors"][0]["code"], "QuotaExceeded");
    assert_eq!(
        search(&sim, &t, &seller, &query).await.status,
        StatusCode::OK
    );
    assert_eq!(sim.stats().count("searchListingsItems", 429), 1);
}

// ---------------------------------------------------------------------------------------------
// Feeds 2021-06-30: a JSON_LISTINGS_FEED uploaded, processed over simulated time, reported.

const FEED_DOCUMENTS: &str = "/feeds/2021-06-30/documents";
const FEEDS: &str = "/feeds/2021-06-30/feeds";
const FEED_CONTENT_TYPE: &str = "application/json; charset=UTF-8";

fn feeds_model() -> Option<Value> {
    let path = models_dir().join("feeds_2021-06-30.json");
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(serde_json::from_str(&text).unwrap()),
        Err(_) => {
            eprintln!("SKIPPED schema checks: {} not found", path.display());
            None
        }
    }
}

/// A listings feed of PATCH messages, one per (SKU, product type, DEFAULT quantity), numbered
/// from 1.
fn listings_feed(seller: &str, messages: &[(&str, &str, Value)]) -> Value {
    let messages: Vec<Value> = messages
        .iter()
        .enumerate()
        .map(|(i, (sku, product_type, quantity))| {
            let patch = quantity_patch(product_type, quantity.clone());
            json!({
                "messageId": i + 1, "sku": sku, "operationType": "PATCH",
                "productType": product_type, "patches": patch["patches"],
            })
        })
        .collect();
    json!({"header": {"sellerId": seller, "version": "2.0", "issueLocale": "en_US"},
           "messages": messages})
}

async fn put_document(url: &str, content_type: &str, body: &[u8]) -> StatusCode {
    reqwest::Client::new()
        .put(url)
        .header("content-type", content_type)
        .body(body.to_vec())
        .send()
        .await
        .unwrap()
        .status()
}

/// A feed document made and uploaded with `body`: its id.
async fn uploaded_document(sim: &SimHandle, token: &str, body: &[u8]) -> String {
    let doc = post(
        sim,
        token,
        FEED_DOCUMENTS,
        &json!({"contentType": FEED_CONTENT_TYPE}),
        None,
    )
    .await;
    assert_eq!(doc.status, StatusCode::CREATED, "{}", doc.body);
    let url = doc.body["url"].as_str().unwrap();
    assert_eq!(
        put_document(url, FEED_CONTENT_TYPE, body).await,
        StatusCode::OK
    );
    doc.body["feedDocumentId"].as_str().unwrap().to_owned()
}

fn create_feed_request(document_id: &str) -> Value {
    json!({"feedType": "JSON_LISTINGS_FEED", "marketplaceIds": [MKT],
           "inputFeedDocumentId": document_id})
}

/// The processing report of a finished feed, fetched as a client does: `getFeedDocument`, the
/// URL, gunzip.
async fn feed_report(
    sim: &SimHandle,
    token: &str,
    feed: &Value,
    check: impl Fn(&str, &Value),
) -> Value {
    use std::io::Read;
    let id = feed["resultFeedDocumentId"].as_str().expect("a report");
    let doc = call(sim, Some(token), &format!("{FEED_DOCUMENTS}/{id}"), &[]).await;
    assert_eq!(doc.status, StatusCode::OK, "{}", doc.body);
    assert_eq!(doc.rate_limit.as_deref(), Some("0.0222"));
    check("FeedDocument", &doc.body);
    assert_eq!(doc.body["compressionAlgorithm"], "GZIP");
    let url = doc.body["url"].as_str().unwrap();
    assert!(url.starts_with(&sim.base_url()), "{url}");
    let gz = reqwest::get(url).await.unwrap();
    assert_eq!(gz.status(), StatusCode::OK);
    let gz = gz.bytes().await.unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_string(&mut text)
        .expect("a GZIP report");
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
async fn a_listings_feed_is_uploaded_queued_processed_on_the_simulated_clock_and_reported() {
    use spapi_sim::{
        FEED_DOCUMENT_URL_LIFETIME, FEED_QUEUE_TIME, SEEDED_QUANTITY, feed_done_after,
    };
    let config = SimConfig::demo(2, 5, 41);
    let sim = sim(config.clone()).await;
    let t = token(&sim, &config, 0).await;
    let seller = config.sellers[0].seller_id.clone();
    let model = feeds_model();
    let check = |definition: &str, body: &Value| {
        if let Some(m) = &model {
            assert_valid(&validator(m, definition), body, definition);
        }
    };
    if let Some(m) = &model {
        assert!(!validator(m, "Feed").is_valid(&json!({"feedId": "1", "status": "DONE"})));
    }

    let body = listings_feed(
        &seller,
        &[
            ("SKU-CHAIR1-0", "CHAIR", json!(3)),
            ("SKU-LAMP02-0", "LAMP", json!(0)),
            ("NO-SUCH-SKU", "CHAIR", json!(5)),
            ("SKU-MUG003-0", "CHAIR", json!(7)),
            ("SKU-CHAIR1-1", "CHAIR", json!(2.5)),
        ],
    );
    // The feed schema is draft-07 and compiles as it is. Its objects are not closed: the
    // message's oneOf branches name only the properties they constrain, so closed they would
    // refuse every message.
    let schema_path = models_dir().join("listings-feed-schema-v2.json");
    match std::fs::read_to_string(&schema_path) {
        Ok(text) => {
            let schema: Value = serde_json::from_str(&text).unwrap();
            let v = jsonschema::draft7::new(&schema).expect("feed schema compiles");
            assert!(
                !v.is_valid(&json!({"header": {"sellerId": seller, "version": "2.0"},
                                        "messages": [{"messageId": 1, "sku": "X"}]}))
            );
            assert_valid(&v, &body, "listings feed");
        }
        Err(_) => eprintln!("SKIPPED: {} not found", schema_path.display()),
    }
    let body = serde_json::to_vec(&body).unwrap();

    let doc = post(
        &sim,
        &t,
        FEED_DOCUMENTS,
        &json!({"contentType": FEED_CONTENT_TYPE}),
        None,
    )
    .await;
    assert_eq!(doc.status, StatusCode::CREATED, "{}", doc.body);
    assert_eq!(doc.rate_limit.as_deref(), Some("0.5"));
    check("CreateFeedDocumentResponse", &doc.body);
    let document_id = doc.body["feedDocumentId"].as_str().unwrap().to_owned();
    let url = doc.body["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&format!("{}/", sim.base_url())), "{url}");
    assert_eq!(
        put_document(&url, "text/plain", &body).await,
        StatusCode::FORBIDDEN,
        "a content type other than the declared one"
    );
    let forged = format!("{}0", url.trim_end_matches(|c: char| c.is_ascii_hexdigit()));
    assert_eq!(
        put_document(&forged, FEED_CONTENT_TYPE, &body).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        put_document(&url, FEED_CONTENT_TYPE, &body).await,
        StatusCode::OK
    );
    sim.advance_clock(FEED_DOCUMENT_URL_LIFETIME + Duration::seconds(1));
    assert_eq!(
        put_document(&url, FEED_CONTENT_TYPE, &body).await,
        StatusCode::FORBIDDEN,
        "the URL expired"
    );
    assert_eq!(sim.stats().feed_documents_uploaded, 1);

    let created = post(&sim, &t, FEEDS, &create_feed_request(&document_id), None).await;
    assert_eq!(created.status, StatusCode::ACCEPTED, "{}", created.body);
    assert_eq!(created.rate_limit.as_deref(), Some("0.0083"));
    check("CreateFeedResponse", &created.body);
    let feed_path = format!("{FEEDS}/{}", created.body["feedId"].as_str().unwrap());
    let feed = async || {
        let r = call(&sim, Some(&t), &feed_path, &[]).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.rate_limit.as_deref(), Some("2"));
        check("Feed", &r.body);
        r.body
    };
    let queued = feed().await;
    assert_eq!(queued["processingStatus"], "IN_QUEUE");
    assert_eq!(queued["feedType"], "JSON_LISTINGS_FEED");
    assert_eq!(queued["marketplaceIds"], json!([MKT]));
    assert!(queued.get("processingStartTime").is_none());
    sim.advance_clock(FEED_QUEUE_TIME);
    let running = feed().await;
    assert_eq!(running["processingStatus"], "IN_PROGRESS");
    assert!(running["processingStartTime"].is_string());
    assert!(running.get("resultFeedDocumentId").is_none());
    assert_eq!(
        sim.listing_quantity(&seller, "SKU-CHAIR1-0"),
        Some(SEEDED_QUANTITY),
        "nothing applied before the feed is done"
    );
    sim.advance_clock(feed_done_after(5) - FEED_QUEUE_TIME);
    let done = feed().await;
    assert_eq!(done["processingStatus"], "DONE", "{done}");
    assert!(done["processingEndTime"].is_string());

    let report = feed_report(&sim, &t, &done, check).await;
    assert_eq!(report["header"]["sellerId"], seller.as_str());
    assert_eq!(report["header"]["feedId"], done["feedId"]);
    assert_eq!(
        report["summary"],
        json!({"errors": 3, "warnings": 0, "messagesProcessed": 5, "messagesAccepted": 2,
               "messagesInvalid": 3})
    );
    let issues = report["issues"].as_array().unwrap();
    let ids: Vec<u64> = issues
        .iter()
        .map(|i| i["messageId"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [3, 4, 5], "{report}");
    assert_eq!(issues[0]["code"], "4000003");
    assert_eq!(
        issues[0]["message"],
        "The SKU has no listing for this seller."
    );
    assert_eq!(issues[1]["attributeNames"], json!(["product_type"]));
    assert_eq!(issues[2]["code"], spapi_sim::INVALID_ATTRIBUTE);
    assert!(issues.iter().all(|i| i["severity"] == "ERROR"));
    for (sku, quantity) in [
        ("SKU-CHAIR1-0", 3),
        ("SKU-LAMP02-0", 0),
        ("SKU-MUG003-0", SEEDED_QUANTITY),
        ("SKU-CHAIR1-1", SEEDED_QUANTITY),
    ] {
        assert_eq!(sim.listing_quantity(&seller, sku), Some(quantity), "{sku}");
    }
    assert_eq!((sim.feeds_created(), sim.feed_messages_accepted()), (1, 2));
    assert_eq!(sim.patches_accepted(), 0);
    assert_eq!(
        sim.take_listing_notifications().published,
        2,
        "each accepted message changed a quantity"
    );

    // The input document reads back as uploaded, uncompressed.
    let input = call(
        &sim,
        Some(&t),
        &format!("{FEED_DOCUMENTS}/{document_id}"),
        &[],
    )
    .await;
    assert_eq!(input.status, StatusCode::OK);
    check("FeedDocument", &input.body);
    assert!(input.body.get("compressionAlgorithm").is_none());
    let read = reqwest::get(input.body["url"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(read.bytes().await.unwrap(), body);

    // Unknown, and another seller's, are not found.
    let other = token(&sim, &config, 1).await;
    for (token, path) in [
        (&t, format!("{FEEDS}/1")),
        (&other, feed_path.clone()),
        (&t, format!("{FEED_DOCUMENTS}/amzn1.tortuga.4.na.nothing")),
        (&other, format!("{FEED_DOCUMENTS}/{document_id}")),
    ] {
        let r = call(&sim, Some(token), &path, &[]).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        check("ErrorList", &r.body);
    }
}

#[tokio::test]
async fn a_body_that_is_no_listings_feed_makes_the_feed_fatal_and_changes_nothing() {
    let config = SimConfig::demo(1, 5, 42);
    let sim = sim(config.clone()).await;
    let t = token(&sim, &config, 0).await;
    let seller = config.sellers[0].seller_id.clone();
    let model = feeds_model();
    let check = |definition: &str, body: &Value| {
        if let Some(m) = &model {
            assert_valid(&validator(m, definition), body, definition);
        }
    };
    let wrong_seller = listings_feed("A0SOMEONEELSE", &[("SKU-CHAIR1-0", "CHAIR", json!(1))]);
    let mut old_version = listings_feed(&seller, &[("SKU-CHAIR1-0", "CHAIR", json!(1))]);
    old_version["header"]["version"] = json!("1.0");
    let mut no_messages = listings_feed(&seller, &[]);
    no_messages["messages"] = json!({"messageId": 1});
    for (why, body) in [
        ("not JSON", b"sku,quantity\nSKU-CHAIR1-0,1\n".to_vec()),
        (
            "another seller's",
            serde_json::to_vec(&wrong_seller).unwrap(),
        ),
        ("version 1.0", serde_json::to_vec(&old_version).unwrap()),
        (
            "messages not an array",
            serde_json::to_vec(&no_messages).unwrap(),
        ),
    ] {
        let document_id = uploaded_document(&sim, &t, &body).await;
        let created = post(&sim, &t, FEEDS, &create_feed_request(&document_id), None).await;
        assert_eq!(
            created.status,
            StatusCode::ACCEPTED,
            "{why}: {}",
            created.body
        );
        sim.advance_clock(spapi_sim::feed_done_after(0));
        let path = format!("{FEEDS}/{}", created.body["feedId"].as_str().unwrap());
        let feed = call(&sim, Some(&t), &path, &[]).await;
        check("Feed", &feed.body);
        assert_eq!(feed.body["processingStatus"], "FATAL", "{why}");
        let report = feed_report(&sim, &t, &feed.body, check).await;
        let issues = report["issues"].as_array().unwrap();
        assert_eq!(issues.len(), 1, "{why}: {report}");
        assert_eq!(issues[0]["severity"], "ERROR");
        assert!(issues[0].get("messageId").is_none(), "{why}");
        assert_eq!(report["summary"]["messagesProcessed"], 0, "{why}");
        assert_eq!(report["summary"]["errors"], 1, "{why}");
    }
    assert_eq!(
        sim.listing_quantity(&seller, "SKU-CHAIR1-0"),
        Some(spapi_sim::SEEDED_QUANTITY)
    );
    assert_eq!(sim.feed_messages_accepted(), 0);
    assert_eq!(sim.take_listing_notifications().published, 0);
}

#[tokio::test]
async fn create_feed_refuses_other_feed_types_marketplaces_and_documents_not_uploaded() {
    let config = SimConfig::demo(2, 5, 43);
    let sim = sim(config.clone()).await;
    let t = token(&sim, &config, 0).await;
    let seller = config.sellers[0].seller_id.clone();
    let model = feeds_model();
    let refused = async |path: &str, body: Value, why: &str| {
        let r = post(&sim, &t, path, &body, None).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{why}: {}", r.body);
        assert_eq!(r.body["errors"][0]["code"], "InvalidInput", "{why}");
        if let Some(m) = &model {
            assert_valid(&validator(m, "ErrorList"), &r.body, why);
        }
        r.body["errors"][0]["message"].as_str().unwrap().to_owned()
    };
    refused(
        FEED_DOCUMENTS,
        json!({"contentType": FEED_CONTENT_TYPE, "feedType": "JSON_LISTINGS_FEED"}),
        "a field the model does not have",
    )
    .await;
    let body = serde_json::to_vec(&listings_feed(
        &seller,
        &[("SKU-CHAIR1-0", "CHAIR", json!(1))],
    ))
    .unwrap();
    let uploaded = uploaded_document(&sim, &t, &body).await;
    let mut request = create_feed_request(&uploaded);
    request["feedType"] = json!("POST_INVENTORY_AVAILABILITY_DATA");
    let message = refused(FEEDS, request, "another feed type").await;
    assert!(message.contains("JSON_LISTINGS_FEED"), "{message}");
    let mut request = create_feed_request(&uploaded);
    request["marketplaceIds"] = json!(["A2EUQ1WTGCTBG2"]);
    refused(FEEDS, request, "a marketplace not the seller's").await;
    let mut request = create_feed_request(&uploaded);
    request["priority"] = json!("HIGH");
    refused(FEEDS, request, "a field the model does not have").await;
    refused(
        FEEDS,
        create_feed_request("amzn1.tortuga.4.na.nothing"),
        "an unknown document",
    )
    .await;
    let empty = post(
        &sim,
        &t,
        FEED_DOCUMENTS,
        &json!({"contentType": FEED_CONTENT_TYPE}),
        None,
    )
    .await;
    refused(
        FEEDS,
        create_feed_request(empty.body["feedDocumentId"].as_str().unwrap()),
        "a document never uploaded",
    )
    .await;
    let other = token(&sim, &config, 1).await;
    let r = post(&sim, &other, FEEDS, &create_feed_request(&uploaded), None).await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "another seller's document"
    );
    assert_eq!(sim.feeds_created(), 0);
    // The document is good: the same request with nothing changed is taken.
    let r = post(&sim, &t, FEEDS, &create_feed_request(&uploaded), None).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(sim.feeds_created(), 1);
}

#[tokio::test]
async fn create_feed_is_throttled_after_its_burst_of_15() {
    let config = SimConfig::demo(1, 1, 44);
    let sim = sim(config.clone()).await;
    let t = token(&sim, &config, 0).await;
    // Refused requests take a token too: the plan is all this looks at.
    let request = create_feed_request("amzn1.tortuga.4.na.nothing");
    for _ in 0..15 {
        let r = post(&sim, &t, FEEDS, &request, None).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.rate_limit.as_deref(), Some("0.0083"));
    }
    let r = post(&sim, &t, FEEDS, &request, None).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.body["errors"][0]["code"], "QuotaExceeded");
    // One token back every 1 / 0.0083 s = 120.5 s.
    sim.advance_clock(Duration::seconds(121));
    assert_eq!(
        post(&sim, &t, FEEDS, &request, None).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(sim.stats().count("createFeed", 429), 1);
}

// ---------------------------------------------------------------------------------------------
// LISTINGS_ITEM_MFN_QUANTITY_CHANGE: published when a DEFAULT quantity changes.

#[tokio::test]
async fn quantity_changes_publish_mfn_quantity_notifications_valid_against_the_official_schema() {
    use spapi_sim::{DeliveryKnobs, ListingEdit};
    let Some(v) = notification_schema("ListingsItemMfnQuantityChange.json") else {
        return;
    };
    assert!(!v.is_valid(&json!({"NotificationType": "LISTINGS_ITEM_MFN_QUANTITY_CHANGE"})));

    let config = SimConfig::demo(1, 5, 45);
    let sim = sim(config.clone()).await;
    let t = token(&sim, &config, 0).await;
    let seller = config.sellers[0].seller_id.clone();
    let sku = "SKU-CHAIR1-0";
    let item = format!("/listings/2021-08-01/items/{seller}/{sku}");
    let published = |sim: &SimHandle| -> Vec<Value> {
        sim.take_listing_notifications()
            .bodies
            .iter()
            .map(|b| {
                let n: Value = serde_json::from_str(b).unwrap();
                assert_valid(&v, &n, "LISTINGS_ITEM_MFN_QUANTITY_CHANGE");
                n
            })
            .collect()
    };

    let r = patch(&sim, &t, &item, &quantity_patch("CHAIR", json!(3))).await;
    assert_eq!(r.body["status"], "ACCEPTED", "{}", r.body);
    let n = published(&sim);
    assert_eq!(n.len(), 1);
    assert_eq!(
        n[0]["Payload"],
        json!({"SellerId": seller, "FulfillmentChannelCode": "DEFAULT", "Sku": sku,
               "Quantity": 3})
    );
    assert_eq!(
        n[0]["NotificationMetadata"]["ApplicationId"],
        config.app.client_id.as_str()
    );

    let r = patch(&sim, &t, &item, &quantity_patch("CHAIR", json!(3))).await;
    assert_eq!(r.body["status"], "ACCEPTED");
    assert!(published(&sim).is_empty(), "the same quantity is no change");
    assert_eq!(sim.patches_accepted(), 2);

    assert!(sim.edit_listing(&seller, sku, ListingEdit::SetQuantity(Some(8))));
    let n = published(&sim);
    assert_eq!(n.len(), 1);
    assert_eq!(n[0]["Payload"]["Quantity"], 8);

    let delete = json!({
        "productType": "CHAIR",
        "patches": [{"op": "delete", "path": "/attributes/fulfillment_availability"}]
    });
    let r = patch(&sim, &t, &item, &delete).await;
    assert_eq!(r.body["status"], "ACCEPTED", "{}", r.body);
    assert_eq!(sim.listing_quantity(&seller, sku), None);
    assert!(published(&sim).is_empty(), "no quantity, nothing to carry");

    // The delivery knobs apply as to ORDER_CHANGE, whose outbox is another.
    sim.set_delivery(DeliveryKnobs {
        duplicate_share: 1.0,
        copies: 2,
        ..Default::default()
    });
    assert!(sim.edit_listing(&seller, sku, ListingEdit::SetQuantity(Some(4))));
    let d = sim.take_listing_notifications();
    assert_eq!((d.published, d.duplicated, d.bodies.len()), (1, 1, 2));
    assert!(sim.take_notifications().bodies.is_empty());
}
