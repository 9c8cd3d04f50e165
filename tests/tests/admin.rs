//! The admin API and hot swap as an operator uses them: uploads, the plugins directory,
//! bearer auth, secrets that never come back, bad input that changes nothing.

use std::time::{Duration, Instant};

use http::Method;
use inlet::runtime::Limits;
use inlet_tests::{channel, fixture, Inlet, ADMIN_TOKEN};
use serde_json::{json, Value};

async fn upload(inlet: &Inlet, bytes: Vec<u8>) -> anyhow::Result<(u16, Value)> {
    let auth = format!("Bearer {ADMIN_TOKEN}");
    let r = inlet_simulators::request(
        Method::POST,
        &inlet.url("/api/v1/plugins"),
        &[
            ("authorization", &auth),
            ("content-type", "application/wasm"),
        ],
        bytes,
    )
    .await?;
    Ok((
        r.status,
        serde_json::from_slice(&r.body).unwrap_or(Value::Null),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_api_requires_the_bearer_token() -> anyhow::Result<()> {
    let inlet = Inlet::start(Vec::new(), Limits::default()).await?;
    let r = inlet_simulators::request(Method::GET, &inlet.url("/api/v1/plugins"), &[], "").await?;
    assert_eq!(r.status, 401);
    assert!(r.text().contains("Authorization: Bearer"), "{}", r.text());
    let r = inlet_simulators::request(
        Method::GET,
        &inlet.url("/api/v1/plugins"),
        &[("authorization", "Bearer wrong-token-wrong-token")],
        "",
    )
    .await?;
    assert_eq!(r.status, 401);
    let (status, plugins) = inlet.api(Method::GET, "/plugins", None).await?;
    assert_eq!(status, 200);
    let ids: Vec<&str> = plugins
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["id"].as_str())
        .collect();
    assert_eq!(
        ids,
        vec!["messenger", "telegram", "twilio-sms", "whatsapp"],
        "bundled plugins are loaded"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploading_a_new_version_hot_swaps_and_a_bad_upload_changes_nothing() -> anyhow::Result<()>
{
    let inlet = Inlet::start(Vec::new(), Limits::default()).await?;
    let (status, report) = upload(&inlet, fixture("misbehave-v1.wasm")).await?;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["version"], "1.0.0");
    let (status, created) = inlet
        .api(
            Method::POST,
            "/channels",
            Some(json!({"id": "m", "plugin": "misbehave", "default_skill": "support", "default_script": "welcome"})),
        )
        .await?;
    assert_eq!(status, 201, "{created}");

    let (status, err) = upload(&inlet, b"garbage".to_vec()).await?;
    assert_eq!(status, 422);
    assert_eq!(err["error"]["code"], "invalid_plugin");
    let (status, err) = upload(&inlet, fixture("misbehave-broken.wasm")).await?;
    assert_eq!(status, 422);
    assert_eq!(err["error"]["code"], "health_check_failed");
    let (_, info) = inlet.api(Method::GET, "/plugins/misbehave", None).await?;
    assert_eq!(info["version"], "1.0.0", "the old version keeps serving");

    let (status, report) = upload(&inlet, fixture("misbehave-v2.wasm")).await?;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["replaced"], "1.0.0");
    let r = inlet_simulators::request(Method::POST, &inlet.webhook("m"), &[], "ping").await?;
    assert_eq!(r.text(), "2.0.0:ping");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_dropped_into_the_plugins_directory_is_installed_and_swapped() -> anyhow::Result<()>
{
    let inlet = Inlet::start(Vec::new(), Limits::default()).await?;
    let dir = inlet.plugins_dir();
    std::fs::write(dir.join("misbehave.wasm"), fixture("misbehave-v1.wasm"))?;
    wait_for_version(&inlet, "1.0.0").await?;
    // Replace the file (write elsewhere, then rename: what a careful operator does).
    let tmp = dir.join("misbehave.wasm.partial");
    std::fs::write(&tmp, fixture("misbehave-v2.wasm"))?;
    std::fs::rename(&tmp, dir.join("misbehave.wasm"))?;
    wait_for_version(&inlet, "2.0.0").await?;
    // A broken file is refused; the loaded version stays.
    std::fs::write(dir.join("broken.wasm"), b"not wasm at all")?;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (_, info) = inlet.api(Method::GET, "/plugins/misbehave", None).await?;
    assert_eq!(info["version"], "2.0.0");
    Ok(())
}

async fn wait_for_version(inlet: &Inlet, version: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        let (status, info) = inlet.api(Method::GET, "/plugins/misbehave", None).await?;
        if status == 200 && info["version"] == version {
            return Ok(());
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(20),
            "version {version} never appeared: {info}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_secrets_are_never_returned() -> anyhow::Result<()> {
    let inlet = Inlet::start(
        vec![channel(
            "tg",
            "telegram",
            &[
                ("bot_token", "1:SUPERSECRET"),
                ("webhook_secret", "hush-hush"),
            ],
            &[],
        )],
        Limits::default(),
    )
    .await?;
    let (status, list) = inlet.api(Method::GET, "/channels", None).await?;
    assert_eq!(status, 200);
    let (_, one) = inlet.api(Method::GET, "/channels/tg", None).await?;
    for body in [list.to_string(), one.to_string()] {
        assert!(
            !body.contains("SUPERSECRET") && !body.contains("hush-hush"),
            "{body}"
        );
    }
    assert_eq!(one["config"]["bot_token"], "********");
    assert_eq!(one["config"]["api_base"], "https://api.telegram.org");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_channel_definitions_are_refused_with_the_reason() -> anyhow::Result<()> {
    let inlet = Inlet::start(Vec::new(), Limits::default()).await?;
    let d = |mut v: serde_json::Value| {
        v["default_skill"] = json!("support");
        v["default_script"] = json!("welcome");
        v
    };
    let cases = [
        (
            d(json!({"id": "tg", "plugin": "telegram", "config": {"bot_token": "1:x"}})),
            422,
            "webhook_secret",
        ),
        (
            d(json!({"id": "tg", "plugin": "nope"})),
            404,
            "not installed",
        ),
        (
            d(json!({"id": "Bad Id", "plugin": "telegram"})),
            422,
            "channel id",
        ),
        (
            d(json!({"id": "tg", "plugin": "telegram", "colour": "red"})),
            400,
            "colour",
        ),
        (
            d(
                json!({"id": "tg", "plugin": "telegram", "config": {"bot_token": "1:x", "webhook_secret": "s"}, "egress": ["*"]}),
            ),
            422,
            "wildcards",
        ),
        (
            json!({"id": "tg", "plugin": "telegram", "config": {"bot_token": "1:x", "webhook_secret": "s"}, "default_skill": "", "default_script": "welcome"}),
            422,
            "default_skill",
        ),
        (
            json!({"id": "tg", "plugin": "telegram", "config": {"bot_token": "1:x", "webhook_secret": "s"}}),
            400,
            "default_skill",
        ),
        (
            json!({"id": "tg", "plugin": "telegram", "config": {"bot_token": "1:x", "webhook_secret": "s"}, "default_skill": "ghost", "default_script": "welcome"}),
            422,
            "default_skill: tenant `default` has no skill `ghost`",
        ),
        (
            json!({"id": "tg", "plugin": "telegram", "config": {"bot_token": "1:x", "webhook_secret": "s"}, "default_skill": "support", "default_script": "ghost"}),
            422,
            "default_script: tenant `default` has no script `ghost`",
        ),
    ];
    for (body, status, needle) in cases {
        let (got, err) = inlet
            .api(Method::POST, "/channels", Some(body.clone()))
            .await?;
        assert_eq!(got, status, "{body} -> {err}");
        assert!(
            err["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains(needle),
            "{body} -> {err}"
        );
    }
    let (_, list) = inlet.api(Method::GET, "/channels", None).await?;
    assert_eq!(list, json!([]));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_webhook_is_refused_with_413() -> anyhow::Result<()> {
    let inlet = Inlet::start(
        vec![channel(
            "tg",
            "telegram",
            &[("bot_token", "1:x"), ("webhook_secret", "s")],
            &[],
        )],
        Limits::default(),
    )
    .await?;
    let big = vec![b'x'; 2 * 1024 * 1024];
    let r = inlet_simulators::request(
        Method::POST,
        &inlet.webhook("tg"),
        &[("x-telegram-bot-api-secret-token", "s")],
        big,
    )
    .await?;
    assert_eq!(r.status, 413);
    assert!(r.text().contains("exceeds"), "{}", r.text());
    assert!(inlet.events("tg").await?.is_empty());
    Ok(())
}
