//! The OpenAPI document and the served routes agree: every route the server has is
//! documented, every documented operation is served, and the served document is the file.

use std::collections::BTreeSet;

use http::Method;
use inlet::runtime::Limits;
use inlet_tests::{Inlet, ADMIN_TOKEN};
use serde_json::Value;

fn documented() -> BTreeSet<(String, String)> {
    let doc: Value = serde_json::from_str(inlet::api::OPENAPI).expect("docs/openapi.json is JSON");
    let mut out = BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().expect("paths") {
        for method in ops.as_object().expect("operations").keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                out.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

#[test]
fn every_served_route_is_documented_and_every_documented_route_is_served() {
    let served: BTreeSet<(String, String)> = inlet::api::ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    let documented = documented();
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty(),
        "served but not in docs/openapi.json: {undocumented:?}"
    );
    assert!(
        unserved.is_empty(),
        "documented but not served: {unserved:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_answers_every_documented_operation_and_serves_the_document(
) -> anyhow::Result<()> {
    let inlet = Inlet::start(Vec::new(), Limits::default()).await?;
    let r =
        inlet_simulators::request(Method::GET, &inlet.url("/api/v1/openapi.json"), &[], "").await?;
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), inlet::api::OPENAPI);
    let auth = format!("Bearer {ADMIN_TOKEN}");
    for (method, path) in documented() {
        let concrete: String = path
            .split('/')
            .map(|s| if s.starts_with('{') { "x1" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        if concrete.ends_with("/stream") {
            continue; // an endless response; covered by the inbox tests
        }
        let m: Method = method.parse()?;
        let r = inlet_simulators::request(
            m,
            &inlet.url(&concrete),
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
            "{}",
        )
        .await?;
        let body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
        assert_ne!(
            body["error"]["code"], "no_route",
            "{method} {concrete} is documented but not routed"
        );
        assert_ne!(
            body["error"]["code"], "method_not_allowed",
            "{method} {concrete}"
        );
    }
    let r = inlet_simulators::request(
        Method::GET,
        &inlet.url("/api/v1/nothing-here"),
        &[("authorization", &auth)],
        "",
    )
    .await?;
    assert_eq!(r.status, 404);
    assert!(r.text().contains("no_route"));
    Ok(())
}
