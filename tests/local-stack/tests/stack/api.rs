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
    // Each kind of movement by the roles whose work it is.
    use Role::*;
    let kinds = [
        (
            json!({"kind": "receive", "sku": SKU, "location": "A-01", "quantity": 1}),
            &[Picker, Supervisor, Admin][..],
        ),
        (
            json!({"kind": "move", "sku": SKU, "from": "A-02", "to": "A-01", "quantity": 1}),
            &[Picker, Supervisor, Admin],
        ),
        (
            json!({"kind": "adjust", "sku": SKU, "location": "A-01", "delta": 1, "reason": "found"}),
            &[Supervisor, Admin],
        ),
        (
            json!({"kind": "return_to_stock", "sku": SKU, "location": "A-01", "quantity": 1}),
            &[Packer, Supervisor, Admin],
        ),
        (
            json!({"kind": "return_to_quarantine", "sku": SKU, "location": "Q-1", "quantity": 1}),
            &[Packer, Supervisor, Admin],
        ),
    ];
    for (body, allowed) in kinds {
        for role in Role::ALL {
            let key = format!("matrix-{}-{}", body["kind"].as_str().unwrap(), role.name());
            let a = call(&api, movement(&seller, &[role], Some(&key), body.clone())).await;
            let expected = if allowed.contains(&role) { 201 } else { 403 };
            assert_eq!(
                a.status, expected,
                "{} as {role:?}: {}",
                body["kind"], a.body
            );
        }
        let path = format!("/stock/{seller}/movements");
        let none = event_with(
            "POST",
            &path,
            &[],
            None,
            &[("idempotency-key", "k")],
            Some(&body),
        );
        assert_eq!(call(&api, none).await.status, 401);
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

/// A staff movement as a station posts it.
fn movement(seller: &str, groups: &[Role], key: Option<&str>, body: Value) -> String {
    let headers: Vec<(&str, &str)> = key.map(|k| ("idempotency-key", k)).into_iter().collect();
    event_with(
        "POST",
        &format!("/stock/{seller}/movements"),
        &[],
        Some(groups),
        &headers,
        Some(&body),
    )
}

fn on_hand(levels: &Value, location: &str) -> u64 {
    levels["locations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["location"] == location)
        .map_or(0, |l| l["on_hand"].as_u64().unwrap())
}

#[tokio::test]
async fn staff_move_stock_through_the_api_once_per_key_by_role_and_amazon_is_told() {
    use Role::*;
    let (t, api, seller) = with_stock("api-stock-moves").await;
    let s = seller.as_str();
    // Received by a picker: in the ledger now, the answer the SKU's new levels.
    let receive = json!({"kind": "receive", "sku": SKU, "location": "A-01", "quantity": 4});
    let a = call(
        &api,
        movement(s, &[Picker], Some("dock-1"), receive.clone()),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.body["outcome"], "applied");
    assert_eq!(a.body["movement"]["actor"], "staff:staff-7");
    assert_eq!(on_hand(&a.body["levels"], "A-01"), 7);
    let first_id = a.body["movement"]["movement_id"].clone();
    // The station retries: the first answer again, nothing received twice.
    let again = call(
        &api,
        movement(s, &[Picker], Some("dock-1"), receive.clone()),
    )
    .await;
    assert_eq!((again.status, &again.body), (201, &a.body));
    let other = json!({"kind": "receive", "sku": SKU, "location": "A-01", "quantity": 5});
    let reused = call(&api, movement(s, &[Picker], Some("dock-1"), other)).await;
    assert_eq!(
        (reused.status, reused.body["type"].as_str()),
        (422, Some("/problems/idempotency-key-reused"))
    );

    let mv = json!({"kind": "move", "sku": SKU, "from": "A-01", "to": "A-02", "quantity": 2});
    let moved = call(&api, movement(s, &[Picker], Some("mv-1"), mv)).await;
    assert_eq!(moved.status, 201, "{}", moved.body);
    assert_eq!(
        (
            on_hand(&moved.body["levels"], "A-01"),
            on_hand(&moved.body["levels"], "A-02")
        ),
        (5, 7)
    );
    let too_many =
        json!({"kind": "move", "sku": SKU, "from": "A-01", "to": "A-02", "quantity": 50});
    let refused = call(&api, movement(s, &[Picker], Some("mv-2"), too_many.clone())).await;
    assert_eq!(
        (refused.status, refused.body["type"].as_str()),
        (409, Some("/problems/not-on-hand")),
        "{}",
        refused.body
    );
    // A refusal frees its key: the station may send the corrected movement under it... and
    // the same refused one again is refused again, not replayed as done.
    let refused_again = call(&api, movement(s, &[Picker], Some("mv-2"), too_many)).await;
    assert_eq!(refused_again.status, 409);

    // A count correction is a supervisor's, with its reason.
    let adjust = json!({"kind": "adjust", "sku": SKU, "location": "A-02", "delta": -1, "reason": "crushed box"});
    let by_picker = call(&api, movement(s, &[Picker], Some("adj-1"), adjust.clone())).await;
    assert_eq!(
        (by_picker.status, by_picker.body["type"].as_str()),
        (403, Some("/problems/forbidden"))
    );
    let adjusted = call(&api, movement(s, &[Supervisor], Some("adj-1"), adjust)).await;
    assert_eq!(adjusted.status, 201, "{}", adjusted.body);
    assert_eq!(adjusted.body["movement"]["reason"], "crushed box");
    assert_eq!(on_hand(&adjusted.body["levels"], "A-02"), 6);

    // Returns are the returns desk's: fit to sell into a sellable location, to inspect into
    // quarantine, each refused into the other kind.
    let ret = json!({"kind": "return_to_quarantine", "sku": SKU, "location": "Q-1", "quantity": 1});
    let by_picker = call(&api, movement(s, &[Picker], Some("ret-1"), ret.clone())).await;
    assert_eq!(by_picker.status, 403);
    let returned = call(&api, movement(s, &[Packer], Some("ret-1"), ret)).await;
    assert_eq!(returned.status, 201, "{}", returned.body);
    assert_eq!(on_hand(&returned.body["levels"], "Q-1"), 2);
    let wrong = json!({"kind": "return_to_stock", "sku": SKU, "location": "Q-1", "quantity": 1});
    let wrong = call(&api, movement(s, &[Packer], Some("ret-2"), wrong)).await;
    assert_eq!(
        (wrong.status, wrong.body["type"].as_str()),
        (422, Some("/problems/wrong-location-kind"))
    );
    let nowhere = json!({"kind": "receive", "sku": SKU, "location": "Z-99", "quantity": 1});
    let nowhere = call(&api, movement(s, &[Admin], Some("rcv-z"), nowhere)).await;
    assert_eq!(
        (nowhere.status, nowhere.body["type"].as_str()),
        (422, Some("/problems/unknown-location"))
    );

    // Bad bodies: each field named, nothing moved.
    let errors = |a: &Answer| {
        assert_eq!(a.status, 400, "{}", a.body);
        a.body["errors"].clone()
    };
    let zero = call(
        &api,
        movement(
            s,
            &[Supervisor],
            Some("bad-1"),
            json!({"kind": "adjust", "sku": SKU, "location": "A-01", "delta": 0, "reason": " "}),
        ),
    )
    .await;
    assert_eq!(
        errors(&zero),
        json!([{"field": "body/delta", "message": "not 0"},
               {"field": "body/reason", "message": "1 to 200 characters"}])
    );
    let unknown = call(
        &api,
        movement(
            s,
            &[Picker],
            Some("bad-2"),
            json!({"kind": "receive", "sku": SKU, "location": "A-01", "quantity": 1, "lot": "L7"}),
        ),
    )
    .await;
    assert_eq!(errors(&unknown)[0]["field"], "body/lot");
    let no_key = call(&api, movement(s, &[Picker], None, receive.clone())).await;
    assert_eq!(errors(&no_key)[0]["field"], "header.idempotency-key");
    let auditor = call(&api, movement(s, &[Auditor], Some("aud-1"), receive)).await;
    assert_eq!(auditor.status, 403);

    // The ledger holds each movement once, by the staff member who made it.
    let ledger = call(
        &api,
        event(
            "GET",
            &format!("/stock/{seller}/ledger"),
            &[("sku", SKU)],
            Some(&[Picker]),
        ),
    )
    .await;
    let staff: Vec<&Value> = ledger.body["movements"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["actor"] == "staff:staff-7")
        .collect();
    let kinds: Vec<&str> = staff.iter().map(|m| m["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["receive", "move", "adjust", "return_to_quarantine"]);
    assert_eq!(staff[0]["movement_id"], first_id);

    // stock-sync finds each applied (the same ids) and tells Amazon what is for sale now.
    let report = t.pump_stock(&t.stock_sync()).await;
    assert_eq!(
        (report.movements_repeated, report.movements_applied),
        (4, 0),
        "{report:?}"
    );
    let levels = call(
        &api,
        event(
            "GET",
            &format!("/stock/{seller}/levels"),
            &[("sku", SKU)],
            Some(&[Picker]),
        ),
    )
    .await;
    assert_eq!(levels.body["available"], 11);
    assert_eq!(levels.body["amazon_quantity"], 11);
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
