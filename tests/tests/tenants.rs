//! Tenants: one Inlet serving several companies, each isolated. Every cross-tenant access is a
//! 404 (never revealing that the object exists elsewhere); roles and channel permissions are
//! enforced on every path; suspend, export and delete behave as an operator expects.

use http::Method;
use inlet::runtime::Limits;
use inlet_tests::{fixture, Inlet, ADMIN_TOKEN};
use serde_json::{json, Value};

async fn call(
    inlet: &Inlet,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> anyhow::Result<(u16, Value)> {
    inlet.api_as(token, method, path, body).await
}

struct World {
    inlet: Inlet,
    acme: String,
    globex: String,
    acme_case: String,
}

async fn world() -> anyhow::Result<World> {
    world_with(|_| {}).await
}

async fn world_with(adjust: impl FnOnce(&mut inlet::config::Config)) -> anyhow::Result<World> {
    let inlet = Inlet::start_with(Vec::new(), Limits::default(), adjust).await?;
    let auth = format!("Bearer {ADMIN_TOKEN}");
    let r = inlet_simulators::request(
        Method::POST,
        &inlet.url("/api/v1/plugins"),
        &[("authorization", &auth)],
        fixture("misbehave-v1.wasm"),
    )
    .await?;
    anyhow::ensure!(r.status == 200, "install: {}", r.text());
    let mut tokens = Vec::new();
    for (id, region) in [("acme", "EU"), ("globex", "US")] {
        let (s, t) = call(
            &inlet,
            ADMIN_TOKEN,
            Method::POST,
            "/tenants",
            Some(json!({"id": id, "name": id, "region": region})),
        )
        .await?;
        anyhow::ensure!(s == 201, "tenant: {t}");
        let (s, tok) = call(
            &inlet,
            ADMIN_TOKEN,
            Method::POST,
            &format!("/tenants/{id}/tokens"),
            Some(json!({"role": "admin"})),
        )
        .await?;
        anyhow::ensure!(s == 201, "token: {tok}");
        let token = tok["token"].as_str().unwrap_or_default().to_string();
        inlet.provision(id)?;
        let channel = json!({"id": format!("{id}-chat"), "plugin": "misbehave", "default_skill": "support", "default_script": "welcome"});
        let (s, c) = call(&inlet, &token, Method::POST, "/channels", Some(channel)).await?;
        anyhow::ensure!(s == 201, "channel: {c}");
        let r = inlet_simulators::request(
            Method::POST,
            &inlet.webhook(&format!("{id}-chat")),
            &[],
            format!("hello from {id}"),
        )
        .await?;
        anyhow::ensure!(r.status == 200, "webhook: {}", r.text());
        tokens.push(token);
    }
    let (_, list) = call(&inlet, &tokens[0], Method::GET, "/cases", None).await?;
    let acme_case = list["cases"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let globex = tokens.pop().unwrap_or_default();
    let acme = tokens.pop().unwrap_or_default();
    Ok(World {
        inlet,
        acme,
        globex,
        acme_case,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_cross_tenant_access_is_a_404() -> anyhow::Result<()> {
    let w = world().await?;
    let (_, mine) = call(&w.inlet, &w.globex, Method::GET, "/cases", None).await?;
    assert_eq!(mine["cases"].as_array().map(Vec::len), Some(1));
    assert_ne!(
        mine["cases"][0]["id"],
        w.acme_case.as_str(),
        "globex sees only its own case"
    );
    let c = &w.acme_case;
    let (_, view) = call(&w.inlet, &w.acme, Method::GET, &format!("/cases/{c}"), None).await?;
    let contact = view["case"]["contact"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let probes: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, format!("/cases/{c}"), None),
        (
            Method::POST,
            format!("/cases/{c}/replies"),
            Some(json!({"content": {"text": "x"}})),
        ),
        (
            Method::POST,
            format!("/cases/{c}/status"),
            Some(json!({"status": "resolved"})),
        ),
        (
            Method::POST,
            format!("/cases/{c}/assign"),
            Some(json!({"agent": null})),
        ),
        (
            Method::POST,
            format!("/cases/{c}/notes"),
            Some(json!({"text": "peek"})),
        ),
        (
            Method::POST,
            format!("/cases/{c}/tags"),
            Some(json!({"add": ["x"]})),
        ),
        (Method::POST, format!("/cases/{c}/messages/1/retry"), None),
        (Method::GET, format!("/contacts/{contact}"), None),
        (
            Method::POST,
            format!("/contacts/{contact}/merge"),
            Some(json!({"into": contact})),
        ),
        (Method::GET, "/channels/acme-chat".into(), None),
        (Method::DELETE, "/channels/acme-chat".into(), None),
        (
            Method::POST,
            "/channels/acme-chat/messages".into(),
            Some(json!({"conversation": "x", "text": "y"})),
        ),
    ];
    for (method, path, body) in probes {
        let (status, err) = call(&w.inlet, &w.globex, method.clone(), &path, body.clone()).await?;
        assert_eq!(
            status, 404,
            "{method} {path} must not reveal acme's object: {err}"
        );
        // Exactly what an object that exists nowhere gets.
        let nowhere = path
            .replace(c.as_str(), "case_nowhere")
            .replace(contact.as_str(), "ct_nowhere")
            .replace("acme-chat", "nowhere-chat");
        let (s2, err2) = call(&w.inlet, &w.globex, method.clone(), &nowhere, body).await?;
        assert_eq!(
            (status, &err["error"]["code"]),
            (s2, &err2["error"]["code"]),
            "{method} {path}"
        );
    }
    // Collections never mix tenants.
    for path in ["/channels", "/agents", "/skills", "/outbox", "/events"] {
        let (status, body) = call(&w.inlet, &w.globex, Method::GET, path, None).await?;
        assert_eq!(status, 200, "{path}: {body}");
        assert!(!body.to_string().contains("acme"), "{path} leaks: {body}");
    }
    let (_, hits) = call(&w.inlet, &w.globex, Method::GET, "/search?q=hello", None).await?;
    assert!(!hits.to_string().contains("acme"), "{hits}");
    // The acme case is untouched.
    let (status, view) = call(&w.inlet, &w.acme, Method::GET, &format!("/cases/{c}"), None).await?;
    assert_eq!(status, 200);
    assert_eq!(view["case"]["status"], "new");
    assert_eq!(view["notes"], json!([]));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_and_channel_permissions_are_enforced() -> anyhow::Result<()> {
    let w = world().await?;
    // Tenant admins cannot act as the operator.
    let (s, _) = call(&w.inlet, &w.acme, Method::GET, "/tenants", None).await?;
    assert_eq!(s, 403);
    // ... though they may upload private plugins: garbage is refused as such.
    let (s, err) = call(&w.inlet, &w.acme, Method::POST, "/plugins", Some(json!({}))).await?;
    assert_eq!(s, 422, "{err}");
    // An agent permitted on no channel sees nothing.
    call(
        &w.inlet,
        &w.acme,
        Method::POST,
        "/agents",
        Some(json!({"id": "ann", "name": "Ann", "channels": []})),
    )
    .await?;
    call(
        &w.inlet,
        &w.acme,
        Method::POST,
        "/agents",
        Some(json!({"id": "bo", "name": "Bo", "channels": ["acme-chat"]})),
    )
    .await?;
    let (_, ann) = call(
        &w.inlet,
        &w.acme,
        Method::POST,
        "/tokens",
        Some(json!({"role": "agent", "agent": "ann"})),
    )
    .await?;
    let (_, bo) = call(
        &w.inlet,
        &w.acme,
        Method::POST,
        "/tokens",
        Some(json!({"role": "agent", "agent": "bo"})),
    )
    .await?;
    let ann = ann["token"].as_str().unwrap_or_default().to_string();
    let bo = bo["token"].as_str().unwrap_or_default().to_string();
    let (_, list) = call(&w.inlet, &ann, Method::GET, "/cases", None).await?;
    assert_eq!(list["cases"], json!([]));
    let (s, _) = call(
        &w.inlet,
        &ann,
        Method::GET,
        &format!("/cases/{}", w.acme_case),
        None,
    )
    .await?;
    assert_eq!(s, 404);
    let (s, _) = call(
        &w.inlet,
        &ann,
        Method::POST,
        &format!("/cases/{}/replies", w.acme_case),
        Some(json!({"content": {"text": "x"}})),
    )
    .await?;
    assert_eq!(s, 404);
    // The permitted agent works the case, but cannot do admin work or assign others.
    let (s, _) = call(
        &w.inlet,
        &bo,
        Method::GET,
        &format!("/cases/{}", w.acme_case),
        None,
    )
    .await?;
    assert_eq!(s, 200);
    let (s, _) = call(
        &w.inlet,
        &bo,
        Method::POST,
        &format!("/cases/{}/assign", w.acme_case),
        Some(json!({"agent": "ann"})),
    )
    .await?;
    assert_eq!(s, 403);
    let (s, taken) = call(
        &w.inlet,
        &bo,
        Method::POST,
        &format!("/cases/{}/assign", w.acme_case),
        Some(json!({"agent": "bo"})),
    )
    .await?;
    assert_eq!(s, 200, "{taken}");
    for (method, path) in [
        (Method::POST, "/plugins"),
        (Method::POST, "/channels"),
        (Method::POST, "/agents"),
        (Method::POST, "/tokens"),
        (Method::GET, "/channels"),
        (Method::GET, "/events"),
    ] {
        let (s, _) = call(&w.inlet, &bo, method.clone(), path, Some(json!({}))).await?;
        assert_eq!(s, 403, "agent {method} {path}");
    }
    let (s, _) = call(
        &w.inlet,
        "inl_not_a_real_token",
        Method::GET,
        "/cases",
        None,
    )
    .await?;
    assert_eq!(s, 401);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspended_tenants_webhooks_get_503_and_store_nothing() -> anyhow::Result<()> {
    let w = world().await?;
    let (s, _) = call(
        &w.inlet,
        ADMIN_TOKEN,
        Method::POST,
        "/tenants/acme/suspend",
        None,
    )
    .await?;
    assert_eq!(s, 200);
    let r = inlet_simulators::request(
        Method::POST,
        &w.inlet.webhook("acme-chat"),
        &[],
        "while suspended",
    )
    .await?;
    assert_eq!(r.status, 503);
    assert!(r.text().contains("suspended"));
    call(
        &w.inlet,
        ADMIN_TOKEN,
        Method::POST,
        "/tenants/acme/resume",
        None,
    )
    .await?;
    let (_, view) = call(
        &w.inlet,
        &w.acme,
        Method::GET,
        &format!("/cases/{}", w.acme_case),
        None,
    )
    .await?;
    assert_eq!(
        view["messages"].as_array().map(Vec::len),
        Some(1),
        "nothing stored while suspended"
    );
    let r = inlet_simulators::request(
        Method::POST,
        &w.inlet.webhook("acme-chat"),
        &[],
        "after resume",
    )
    .await?;
    assert_eq!(r.status, 200);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_then_delete_leaves_nothing_of_the_tenant() -> anyhow::Result<()> {
    let w = world().await?;
    let auth = format!("Bearer {ADMIN_TOKEN}");
    let r = inlet_simulators::request(
        Method::GET,
        &w.inlet.url("/api/v1/tenants/acme/export"),
        &[("authorization", &auth)],
        "",
    )
    .await?;
    assert_eq!(r.status, 200);
    let lines: Vec<Value> = r
        .text()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["value"]["id"] == w.acme_case.as_str()),
        "the case is exported"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["value"]["text"] == "hello from acme"),
        "messages are exported"
    );
    assert!(!r.text().contains("globex"), "only acme's data");

    let (s, _) = call(&w.inlet, ADMIN_TOKEN, Method::DELETE, "/tenants/acme", None).await?;
    assert_eq!(s, 200);
    let store = w.inlet.running.app.inbox.store().clone();
    let left = store.scan(b"T\0acme\0", None, 10)?;
    assert!(left.is_empty(), "tenant data remains: {left:?}");
    let everything = store.scan(b"", None, usize::MAX)?;
    for (k, v) in &everything {
        let text = format!(
            "{} {}",
            String::from_utf8_lossy(k),
            String::from_utf8_lossy(v)
        );
        assert!(
            !text.contains("acme"),
            "a record of the deleted tenant remains: {text}"
        );
    }
    let (s, _) = call(&w.inlet, &w.acme, Method::GET, "/cases", None).await?;
    assert_eq!(s, 401, "its tokens are gone");
    let r = inlet_simulators::request(Method::POST, &w.inlet.webhook("acme-chat"), &[], "anyone?")
        .await?;
    assert_eq!(r.status, 404);
    let (_, still) = call(&w.inlet, &w.globex, Method::GET, "/cases", None).await?;
    assert_eq!(
        still["cases"].as_array().map(Vec::len),
        Some(1),
        "other tenants are untouched"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_region_restricted_plugin_is_refused_outside_its_regions() -> anyhow::Result<()> {
    let w = world().await?;
    let auth = format!("Bearer {ADMIN_TOKEN}");
    let r = inlet_simulators::request(
        Method::POST,
        &w.inlet.url("/api/v1/plugins"),
        &[("authorization", &auth)],
        fixture("misbehave-regional.wasm"),
    )
    .await?;
    assert_eq!(r.status, 200, "{}", r.text());
    let channel = |id: &str| json!({"id": id, "plugin": "regional", "default_skill": "support", "default_script": "welcome"});
    let (s, err) = call(
        &w.inlet,
        &w.globex,
        Method::POST,
        "/channels",
        Some(channel("globex-line")),
    )
    .await?;
    assert_eq!(s, 422, "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("EU, AU, JP"),
        "{err}"
    );
    let (s, ok) = call(
        &w.inlet,
        &w.acme,
        Method::POST,
        "/channels",
        Some(channel("acme-line")),
    )
    .await?;
    assert_eq!(s, 201, "EU tenant may: {ok}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenants_private_plugin_is_invisible_to_every_other_tenant() -> anyhow::Result<()> {
    let w = world().await?;
    let auth = format!("Bearer {}", w.acme);
    let r = inlet_simulators::request(
        Method::POST,
        &w.inlet.url("/api/v1/plugins"),
        &[("authorization", &auth)],
        fixture("misbehave-regional.wasm"),
    )
    .await?;
    assert_eq!(r.status, 200, "{}", r.text());
    let keys = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["key"].as_str().map(str::to_string))
            .collect()
    };
    let (_, mine) = call(&w.inlet, &w.acme, Method::GET, "/plugins", None).await?;
    assert!(keys(&mine).contains(&"acme/regional".to_string()), "{mine}");
    let (_, theirs) = call(&w.inlet, &w.globex, Method::GET, "/plugins", None).await?;
    assert!(!theirs.to_string().contains("regional"), "{theirs}");
    for name in ["regional", "acme/regional"] {
        let (s, _) = call(
            &w.inlet,
            &w.globex,
            Method::GET,
            &format!("/plugins/{}", name.replace('/', "%2F")),
            None,
        )
        .await?;
        assert_eq!(s, 404);
        let body = json!({"id": format!("g-{}", name.replace('/', "-")), "plugin": name, "default_skill": "support", "default_script": "welcome"});
        let (s, err) = call(&w.inlet, &w.globex, Method::POST, "/channels", Some(body)).await?;
        assert_eq!(s, 404, "globex must not use acme's plugin `{name}`: {err}");
    }
    let body = json!({"id": "acme-own", "plugin": "regional", "default_skill": "support", "default_script": "welcome"});
    let (s, created) = call(&w.inlet, &w.acme, Method::POST, "/channels", Some(body)).await?;
    assert_eq!(s, 201, "{created}");
    assert_eq!(created["plugin"], "acme/regional");
    let r = inlet_simulators::request(Method::POST, &w.inlet.webhook("acme-own"), &[], "via byoc")
        .await?;
    assert_eq!(r.status, 200);
    let (_, all) = call(&w.inlet, ADMIN_TOKEN, Method::GET, "/plugins", None).await?;
    assert!(
        keys(&all).contains(&"acme/regional".to_string()),
        "the operator sees every plugin"
    );
    call(&w.inlet, ADMIN_TOKEN, Method::DELETE, "/tenants/acme", None).await?;
    let (_, all) = call(&w.inlet, ADMIN_TOKEN, Method::GET, "/plugins", None).await?;
    assert!(
        !keys(&all).contains(&"acme/regional".to_string()),
        "deleted with its tenant: {all}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_tenants_webhook_flood_is_rate_limited_and_another_tenant_is_untouched(
) -> anyhow::Result<()> {
    let w = world_with(|c| {
        c.tenant_limits.webhooks = inlet::ratelimit::Rate {
            per_second: 5.0,
            burst: 10.0,
        };
    })
    .await?;
    let (mut accepted, mut limited) = (0, 0);
    for i in 0..40 {
        let r = inlet_simulators::request(
            Method::POST,
            &w.inlet.webhook("acme-chat"),
            &[],
            format!("flood {i}"),
        )
        .await?;
        match r.status {
            200 => accepted += 1,
            429 => {
                limited += 1;
                assert!(r.header("retry-after").is_some(), "429 says when to retry");
                assert!(r.text().contains("tenant_rate_limited"));
            }
            other => anyhow::bail!("unexpected {other}: {}", r.text()),
        }
    }
    assert!(limited > 0, "the flood was limited");
    assert!(accepted >= 9, "the burst went through: {accepted}");
    // Nothing of a refused webhook was stored.
    let (_, events) = call(&w.inlet, &w.acme, Method::GET, "/events?limit=1000", None).await?;
    assert_eq!(
        events.as_array().map(Vec::len),
        Some(accepted + 1),
        "world() sent one before the flood"
    );
    // The other tenant is not affected by acme's empty bucket.
    for i in 0..5 {
        let r = inlet_simulators::request(
            Method::POST,
            &w.inlet.webhook("globex-chat"),
            &[],
            format!("calm {i}"),
        )
        .await?;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_memory_and_cpu_limits_apply_per_tenant() -> anyhow::Result<()> {
    let w = world().await?;
    let (s, t) = call(
        &w.inlet,
        ADMIN_TOKEN,
        Method::PATCH,
        "/tenants/acme",
        Some(json!({"plugin_memory_mb": 16, "plugin_cpu_ms": 150})),
    )
    .await?;
    assert_eq!(s, 200, "{t}");
    let (s, _) = call(
        &w.inlet,
        ADMIN_TOKEN,
        Method::PATCH,
        "/tenants/acme",
        Some(json!({"plugin_memory_mb": 0})),
    )
    .await?;
    assert_eq!(s, 422, "out of range");
    let stopped = |channel: &str, body: &'static str| {
        let url = w.inlet.webhook(channel);
        async move {
            let r = inlet_simulators::request(Method::POST, &url, &[], body).await?;
            anyhow::ensure!(r.status == 500, "{}", r.text());
            anyhow::Ok(r.text())
        }
    };
    let acme = stopped("acme-chat", "alloc").await?;
    assert!(
        acme.contains("plugin_memory") && acme.contains("16 MiB"),
        "{acme}"
    );
    let globex = stopped("globex-chat", "alloc").await?;
    assert!(
        globex.contains(&format!("{} MiB", Limits::default().memory_mb)),
        "{globex}"
    );
    let acme = stopped("acme-chat", "loop").await?;
    assert!(
        acme.contains("plugin_deadline") && acme.contains("150ms"),
        "{acme}"
    );
    // Both channels keep serving.
    for c in ["acme-chat", "globex-chat"] {
        let r = inlet_simulators::request(Method::POST, &w.inlet.webhook(c), &[], "fine").await?;
        assert_eq!(r.status, 200);
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catalogue_plugin_can_be_offered_to_chosen_tenants_only() -> anyhow::Result<()> {
    let w = world().await?;
    let (s, info) = call(
        &w.inlet,
        ADMIN_TOKEN,
        Method::POST,
        "/plugins/telegram/availability",
        Some(json!({"tenants": ["acme"]})),
    )
    .await?;
    assert_eq!(s, 200, "{info}");
    assert_eq!(info["available_to"], json!(["acme"]));
    let (_, theirs) = call(&w.inlet, &w.globex, Method::GET, "/plugins", None).await?;
    assert!(!theirs.to_string().contains("\"telegram\""), "{theirs}");
    let tg = |id: &str| json!({"id": id, "plugin": "telegram", "config": {"bot_token": "1:x", "webhook_secret": "s"}, "default_skill": "support", "default_script": "welcome"});
    let (s, _) = call(
        &w.inlet,
        &w.globex,
        Method::POST,
        "/channels",
        Some(tg("globex-tg")),
    )
    .await?;
    assert_eq!(s, 404);
    let (s, c) = call(
        &w.inlet,
        &w.acme,
        Method::POST,
        "/channels",
        Some(tg("acme-tg")),
    )
    .await?;
    assert_eq!(s, 201, "{c}");
    let (s, _) = call(
        &w.inlet,
        ADMIN_TOKEN,
        Method::POST,
        "/plugins/telegram/availability",
        Some(json!({"tenants": ["nobody"]})),
    )
    .await?;
    assert_eq!(s, 404, "unknown tenants are refused");
    let (s, _) = call(
        &w.inlet,
        ADMIN_TOKEN,
        Method::POST,
        "/plugins/telegram/availability",
        Some(json!({"tenants": null})),
    )
    .await?;
    assert_eq!(s, 200);
    let (s, _) = call(
        &w.inlet,
        &w.globex,
        Method::POST,
        "/channels",
        Some(tg("globex-tg")),
    )
    .await?;
    assert_eq!(s, 201, "offered to everyone again");
    let (s, _) = call(
        &w.inlet,
        &w.acme,
        Method::POST,
        "/plugins/telegram/availability",
        Some(json!({"tenants": null})),
    )
    .await?;
    assert_eq!(s, 403, "only the operator decides");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_its_storage_quota_a_tenants_webhooks_get_507_and_store_nothing() -> anyhow::Result<()>
{
    let w = world().await?;
    let (_, before) = call(&w.inlet, ADMIN_TOKEN, Method::GET, "/tenants/acme", None).await?;
    let used = before["storage_used_bytes"].as_u64().unwrap_or(0);
    assert!(used > 0, "the first webhook counted: {before}");
    let (s, t) = call(
        &w.inlet,
        ADMIN_TOKEN,
        Method::PATCH,
        "/tenants/acme",
        Some(json!({"storage_quota_kb": 1})),
    )
    .await?;
    assert_eq!(s, 200, "{t}");
    let r = inlet_simulators::request(
        Method::POST,
        &w.inlet.webhook("acme-chat"),
        &[],
        "over quota",
    )
    .await?;
    assert_eq!(r.status, 507, "{}", r.text());
    assert!(r.text().contains("storage_quota_exceeded"));
    let (_, events) = call(&w.inlet, &w.acme, Method::GET, "/events", None).await?;
    assert_eq!(
        events.as_array().map(Vec::len),
        Some(1),
        "nothing stored over quota"
    );
    let r = inlet_simulators::request(
        Method::POST,
        &w.inlet.webhook("globex-chat"),
        &[],
        "unaffected",
    )
    .await?;
    assert_eq!(r.status, 200, "other tenants are unaffected");
    call(
        &w.inlet,
        ADMIN_TOKEN,
        Method::PATCH,
        "/tenants/acme",
        Some(json!({"storage_quota_kb": null})),
    )
    .await?;
    let r = inlet_simulators::request(
        Method::POST,
        &w.inlet.webhook("acme-chat"),
        &[],
        "quota lifted",
    )
    .await?;
    assert_eq!(r.status, 200);
    Ok(())
}
