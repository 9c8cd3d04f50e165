//! Staged rollout and roll-back of a plugin version: stage it, pin one channel to it (canary),
//! activate it for everyone, roll back, unpin; a bad pin changes nothing.

use http::Method;
use inlet::runtime::Limits;
use inlet_tests::{fixture, Inlet, ADMIN_TOKEN};
use serde_json::json;

async fn upload(
    inlet: &Inlet,
    file: &str,
    activate: bool,
) -> anyhow::Result<(u16, serde_json::Value)> {
    let auth = format!("Bearer {ADMIN_TOKEN}");
    let q = if activate { "" } else { "?activate=false" };
    let r = inlet_simulators::request(
        Method::POST,
        &inlet.url(&format!("/api/v1/plugins{q}")),
        &[("authorization", &auth)],
        fixture(file),
    )
    .await?;
    Ok((
        r.status,
        serde_json::from_slice(&r.body).unwrap_or_default(),
    ))
}

async fn answer(inlet: &Inlet, channel: &str) -> anyhow::Result<String> {
    let r = inlet_simulators::request(Method::POST, &inlet.webhook(channel), &[], "ping").await?;
    anyhow::ensure!(r.status == 200, "{}", r.text());
    Ok(r.text().split(':').next().unwrap_or_default().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staged_version_goes_to_a_canary_then_everyone_and_can_be_rolled_back(
) -> anyhow::Result<()> {
    let inlet = Inlet::start(Vec::new(), Limits::default()).await?;
    assert_eq!(upload(&inlet, "misbehave-v1.wasm", true).await?.0, 200);
    for id in ["canary", "rest"] {
        let body = json!({"id": id, "plugin": "misbehave", "default_skill": "support", "default_script": "welcome"});
        let (s, c) = inlet.api(Method::POST, "/channels", Some(body)).await?;
        assert_eq!(s, 201, "{c}");
    }
    // Staged: nobody runs it yet.
    let (s, staged) = upload(&inlet, "misbehave-v2.wasm", false).await?;
    assert_eq!(s, 200, "{staged}");
    assert_eq!(staged["activated"], false);
    assert_eq!(answer(&inlet, "canary").await?, "1.0.0");
    assert_eq!(answer(&inlet, "rest").await?, "1.0.0");
    let (_, info) = inlet.api(Method::GET, "/plugins/misbehave", None).await?;
    assert_eq!(info["version"], "1.0.0");
    assert_eq!(info["versions"], json!(["1.0.0", "2.0.0"]));

    // Canary: one channel pinned to 2.0.0.
    let (s, pinned) = inlet
        .api(
            Method::PATCH,
            "/channels/canary",
            Some(json!({"plugin_version": "2.0.0"})),
        )
        .await?;
    assert_eq!(s, 200, "{pinned}");
    assert_eq!(pinned["version"], "2.0.0");
    assert_eq!(answer(&inlet, "canary").await?, "2.0.0");
    assert_eq!(answer(&inlet, "rest").await?, "1.0.0");

    // A pin to a version that is not loaded is refused; the channel keeps running as it was.
    let (s, err) = inlet
        .api(
            Method::PATCH,
            "/channels/canary",
            Some(json!({"plugin_version": "9.9.9"})),
        )
        .await?;
    assert_eq!(s, 422, "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("no loaded version 9.9.9"),
        "{err}"
    );
    assert_eq!(answer(&inlet, "canary").await?, "2.0.0");

    // Roll out to everyone, then roll back; the pinned canary is not moved by either.
    let (s, r) = inlet
        .api(
            Method::POST,
            "/plugins/misbehave/activate",
            Some(json!({"version": "2.0.0"})),
        )
        .await?;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["channels_checked"], json!(["rest"]));
    assert_eq!(answer(&inlet, "rest").await?, "2.0.0");
    let (s, r) = inlet
        .api(
            Method::POST,
            "/plugins/misbehave/activate",
            Some(json!({"version": "1.0.0"})),
        )
        .await?;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["replaced"], "2.0.0");
    assert_eq!(answer(&inlet, "rest").await?, "1.0.0");
    assert_eq!(answer(&inlet, "canary").await?, "2.0.0");

    // Unpinned, the canary follows the active version again.
    let (s, _) = inlet
        .api(
            Method::PATCH,
            "/channels/canary",
            Some(json!({"plugin_version": null})),
        )
        .await?;
    assert_eq!(s, 200);
    assert_eq!(answer(&inlet, "canary").await?, "1.0.0");
    let (s, _) = inlet
        .api(
            Method::POST,
            "/plugins/misbehave/activate",
            Some(json!({"version": "3.0.0"})),
        )
        .await?;
    assert_eq!(s, 422);
    Ok(())
}
