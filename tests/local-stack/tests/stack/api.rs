//! The staff API through `api`'s handler as the binary builds it: API Gateway HTTP API events
//! (payload 2.0, the JWT authorizer's verified claims) in, moto's stock table behind, every
//! route walked under every role and without a caller.

use crate::common::{TestStack, stack};
use lambda_http::{Body, Response};
use serde_json::{Value, json};
use shared::api::Role;
use shared::lambda::api::ApiHandler;
use spapi_sim::SimConfig;

const SKU: &str = "SKU-CHAIR1-0";
/// A SKU no path could carry: API Gateway decodes `%2F` and `%23` before the function.
const ODD_SKU: &str = "RED/42#B ?";

/// An HTTP API event as API Gateway sends it, with the caller's groups as its authorizer
/// passes a list claim (`[a b]`); `None`: no verified token.
pub(crate) fn event(
    method: &str,
    path: &str,
    query: &[(&str, &str)],
    groups: Option<&[Role]>,
) -> String {
    event_with(method, path, query, groups, &[], None)
}

/// An HTTP API event with `headers` and a JSON `body`.
pub(crate) fn event_with(
    method: &str,
    path: &str,
    query: &[(&str, &str)],
    groups: Option<&[Role]>,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> String {
    let mut context = json!({
        "accountId": "123456789012", "apiId": "local", "domainName": "api.local",
        "domainPrefix": "api", "requestId": "req-1", "routeKey": "$default", "stage": "$default",
        "time": "02/Dec/2026:05:00:00 +0000", "timeEpoch": 0,
        "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                 "sourceIp": "127.0.0.1", "userAgent": "test"},
    });
    if let Some(groups) = groups {
        let names: Vec<&str> = groups.iter().map(|r| r.name()).collect();
        context["authorizer"] = json!({"jwt": {"claims": {
            "sub": "staff-7", "cognito:groups": format!("[{}]", names.join(" ")),
        }, "scopes": null}});
    }
    let raw_query: Vec<String> = query
        .iter()
        .map(|(k, v)| {
            let v: String = url::form_urlencoded::byte_serialize(v.as_bytes()).collect();
            format!("{k}={v}")
        })
        .collect();
    let mut e = json!({
        "version": "2.0", "routeKey": "$default", "rawPath": path,
        "rawQueryString": raw_query.join("&"), "headers": {"host": "api.local"},
        "requestContext": context, "isBase64Encoded": false,
    });
    for (k, v) in headers {
        e["headers"][*k] = json!(v);
    }
    if let Some(body) = body {
        e["headers"]["content-type"] = json!("application/json");
        e["body"] = json!(body.to_string());
    }
    // As API Gateway sends them: decoded, a repeated one joined with commas.
    let mut params = serde_json::Map::new();
    for (k, v) in query {
        let joined = match params.get(*k).and_then(Value::as_str) {
            Some(before) => format!("{before},{v}"),
            None => (*v).to_owned(),
        };
        params.insert((*k).to_owned(), json!(joined));
    }
    if !params.is_empty() {
        e["queryStringParameters"] = params.into();
    }
    e.to_string()
}

pub(crate) struct Answer {
    pub status: u16,
    pub content_type: String,
    /// A JSON body (`Null` for a document).
    pub body: Value,
    /// The body as sent.
    pub bytes: Vec<u8>,
}

pub(crate) async fn call(h: &ApiHandler, event: String) -> Answer {
    let request = lambda_http::request::from_str(&event).expect("an HTTP API event");
    let r: Response<Body> = h.handle(request).await.expect("an answer");
    let content_type = r.headers()["content-type"].to_str().unwrap().to_owned();
    let (body, bytes) = match r.body() {
        Body::Text(t) => (serde_json::from_str(t).unwrap(), t.as_bytes().to_vec()),
        Body::Binary(b) => (Value::Null, b.clone()),
        Body::Empty => (Value::Null, Vec::new()),
        _ => panic!("an unknown body"),
    };
    Answer {
        status: r.status().as_u16(),
        content_type,
        body,
        bytes,
    }
}

async fn with_stock(test: &str) -> (TestStack, ApiHandler, String) {
    let t = stack(test, SimConfig::demo(1, 5, 81)).await;
    let seller = t.seller(0);
    let h = t.stock_sync();
    let run = |v: Value| {
        let h = &h;
        async move {
            h.command(serde_json::from_value(v).unwrap())
                .await
                .expect("command runs")
        }
    };
    run(
        json!({"command": "set_locations", "seller_id": seller, "locations": {"locations": [
        {"id": "A-01", "kind": "sellable"}, {"id": "A-02", "kind": "sellable"},
        {"id": "Q-1", "kind": "quarantine"}]}}),
    )
    .await;
    let mv = |id: &str, kind: Value| {
        let mut m =
            json!({"movement_id": id, "seller_id": seller, "sku": SKU, "actor": "staff:test"});
        m.as_object_mut()
            .unwrap()
            .extend(kind.as_object().unwrap().clone());
        m
    };
    let mut odd = mv(
        "odd",
        json!({"kind": "receive", "location": "A-01", "quantity": 2}),
    );
    odd["sku"] = json!(ODD_SKU);
    run(json!({"command": "movements", "movements": [odd]})).await;
    run(json!({"command": "movements", "movements": [
        mv("r1", json!({"kind": "receive", "location": "A-02", "quantity": 5})),
        mv("r2", json!({"kind": "receive", "location": "A-01", "quantity": 3})),
        mv("q1", json!({"kind": "return_to_quarantine", "location": "Q-1", "quantity": 1})),
    ]}))
    .await;
    let api = t.api();
    (t, api, seller.as_str().to_owned())
}

#[tokio::test]
async fn every_stock_route_under_every_role_answers_by_the_role_matrix() {
    let (_t, api, seller) = with_stock("api-stock-roles").await;
    let routes = [
        format!("/stock/{seller}/levels"),
        format!("/stock/{seller}/ledger"),
    ];
    let q = [("sku", SKU)];
    for path in &routes {
        for role in Role::ALL {
            let a = call(&api, event("GET", path, &q, Some(&[role]))).await;
            let expected = if role == Role::Auditor { 403 } else { 200 };
            assert_eq!(a.status, expected, "{path} as {role:?}: {}", a.body);
            if expected == 403 {
                assert_eq!(a.content_type, "application/problem+json");
                assert_eq!(a.body["type"], "/problems/forbidden");
            }
        }
        let none = call(&api, event("GET", path, &q, None)).await;
        assert_eq!(
            (none.status, none.content_type.as_str()),
            (401, "application/problem+json")
        );
        // A caller in no group at all is no role.
        let groupless = call(&api, event("GET", path, &q, Some(&[]))).await;
        assert_eq!(groupless.status, 403, "{path}");
    }
}

#[tokio::test]
async fn stock_levels_and_the_ledger_read_what_the_movements_wrote() {
    let (_t, api, seller) = with_stock("api-stock-reads").await;
    let picker = Some(&[Role::Picker][..]);
    let levels_path = format!("/stock/{seller}/levels");
    let levels = call(&api, event("GET", &levels_path, &[("sku", SKU)], picker)).await;
    assert_eq!(levels.status, 200, "{}", levels.body);
    assert_eq!(levels.content_type, "application/json");
    // In walking order; the quarantine's unit is on hand, not for sale.
    assert_eq!(
        levels.body["locations"],
        json!([
            {"location": "A-01", "kind": "sellable", "on_hand": 3},
            {"location": "A-02", "kind": "sellable", "on_hand": 5},
            {"location": "Q-1", "kind": "quarantine", "on_hand": 1},
        ])
    );
    assert_eq!(levels.body["available"], 8);
    assert_eq!(levels.body["reserved"], 0);
    // A SKU holding `/`, `#`, `?` and a space, as a query parameter.
    let odd = call(
        &api,
        event("GET", &levels_path, &[("sku", ODD_SKU)], picker),
    )
    .await;
    assert_eq!(odd.status, 200, "{}", odd.body);
    assert_eq!(
        (&odd.body["sku"], &odd.body["available"]),
        (&json!(ODD_SKU), &json!(2))
    );

    // The ledger page by page, each movement once, oldest first.
    let path = format!("/stock/{seller}/ledger");
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut q = vec![("sku", SKU), ("limit", "2")];
        if let Some(c) = &cursor {
            q.push(("cursor", c.as_str()));
        }
        let page = call(&api, event("GET", &path, &q, picker)).await;
        assert_eq!(page.status, 200, "{}", page.body);
        for m in page.body["movements"].as_array().unwrap() {
            seen.push(m["movement_id"].as_str().unwrap().to_owned());
        }
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, ["r1", "r2", "q1"]);

    // Refusals: problem+json, each naming what was wrong.
    let unknown = call(
        &api,
        event("GET", &levels_path, &[("sku", "NO-SUCH-SKU")], picker),
    )
    .await;
    assert_eq!(
        (unknown.status, unknown.body["type"].as_str()),
        (404, Some("/problems/not-found"))
    );
    let errors = |a: &Answer| {
        assert_eq!(
            (a.status, a.content_type.as_str()),
            (400, "application/problem+json")
        );
        a.body["errors"].clone()
    };
    let extra = call(
        &api,
        event("GET", &path, &[("sku", SKU), ("color", "red")], picker),
    )
    .await;
    assert_eq!(
        errors(&extra),
        json!([{"field": "query.color", "message": "unknown parameter"}])
    );
    let missing = call(&api, event("GET", &path, &[], picker)).await;
    assert_eq!(
        errors(&missing),
        json!([{"field": "query.sku", "message": "required"}])
    );
    let twice = call(
        &api,
        event(
            "GET",
            &path,
            &[("sku", SKU), ("limit", "5000"), ("limit", "2")],
            picker,
        ),
    )
    .await;
    let fields: Vec<String> = errors(&twice)
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect();
    assert!(fields.contains(&"query.limit".to_owned()), "{fields:?}");
    let bad = call(
        &api,
        event(
            "GET",
            &path,
            &[("sku", SKU), ("limit", "0"), ("cursor", "forged")],
            picker,
        ),
    )
    .await;
    let fields: Vec<String> = errors(&bad)
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fields, ["query.limit", "query.cursor"]);
    let post = call(&api, event("POST", &path, &[("sku", SKU)], picker)).await;
    assert_eq!(post.status, 405);
    let nowhere = call(&api, event("GET", "/nowhere", &[], picker)).await;
    assert_eq!(nowhere.status, 404);
}

#[tokio::test]
async fn the_api_serves_the_committed_openapi_document() {
    let (_t, api, _) = with_stock("api-openapi").await;
    let a = call(
        &api,
        event("GET", "/openapi.json", &[], Some(&[Role::Auditor])),
    )
    .await;
    assert_eq!(a.status, 200);
    let committed: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../api/openapi.json"
        ))
        .unwrap(),
    )
    .unwrap();
    assert_eq!(a.body, committed);
    // The sample event (`cargo lambda invoke api --data-file events/api/stock-levels.json`)
    // is an HTTP API event a picker sent: a seller the stack does not hold, so a 404.
    let sample = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../events/api/stock-levels.json"
    ))
    .unwrap();
    let a = call(&api, sample).await;
    assert_eq!(
        (a.status, a.body["type"].as_str()),
        (404, Some("/problems/not-found"))
    );
}
