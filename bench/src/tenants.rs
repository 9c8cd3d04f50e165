//! Tenant isolation under load: tenant B's webhook latency alone, then while tenant A floods
//! its own webhooks, with the per-tenant rate limit on (defaults) and off.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use inlet::ratelimit::Rate;

const WINDOW: Duration = Duration::from_secs(3);
const FLOODERS: usize = 12;

async fn start(limit: Option<Rate>) -> anyhow::Result<(inlet::app::Running, tempfile::TempDir)> {
    let dir = tempfile::tempdir()?;
    let mut config = inlet::config::Config {
        data_dir: dir.path().to_path_buf(),
        listen: "127.0.0.1:0".into(),
        admin_token: Some("bench-operator-token-0000".into()),
        ..inlet::config::Config::default()
    };
    if let Some(rate) = limit {
        config.tenant_limits.webhooks = rate;
    }
    let running = inlet::app::start(config).await?;
    let bytes = std::fs::read(format!("{}/misbehave-v1.wasm", inlet::bundled::FIXTURE_DIR))?;
    running
        .app
        .runtime
        .install(bytes, inlet::runtime::PluginSource::Upload)
        .await?;
    for t in ["flooder", "calm"] {
        running.app.inbox.create_tenant(t, t, "EU")?;
        inlet::scripts::ensure_channel_defaults(&running.app.inbox, t, "s", "w")?;
        running
            .app
            .create_channel(
                t,
                inlet::app::ChannelInput {
                    id: format!("{t}-chat"),
                    plugin: "misbehave".into(),
                    name: None,
                    config: Default::default(),
                    egress: Vec::new(),
                    public_url: None,
                    default_skill: "s".into(),
                    default_script: "w".into(),
                    plugin_version: None,
                },
            )
            .await?;
    }
    Ok((running, dir))
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(((v.len() as f64 * p) as usize).min(v.len().saturating_sub(1)))
        .copied()
        .unwrap_or(0.0)
}

/// B's sequential webhook latencies for WINDOW, optionally while A floods.
async fn measure(
    running: &inlet::app::Running,
    flood: bool,
) -> anyhow::Result<(f64, f64, usize, usize, usize)> {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (accepted, limited) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut flooders = Vec::new();
    if flood {
        for f in 0..FLOODERS {
            let (client, stop, accepted, limited) = (
                client.clone(),
                stop.clone(),
                accepted.clone(),
                limited.clone(),
            );
            let url = format!("{}/webhooks/flooder-chat", running.base_url());
            flooders.push(tokio::spawn(async move {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    let Ok(req) =
                        http::Request::post(&url).body(Full::new(Bytes::from(format!("f{f}-{i}"))))
                    else {
                        continue;
                    };
                    if let Ok(resp) = client.request(req).await {
                        match resp.status().as_u16() {
                            200 => accepted.fetch_add(1, Ordering::Relaxed),
                            _ => limited.fetch_add(1, Ordering::Relaxed),
                        };
                        let _ = resp.into_body().collect().await;
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let url = format!("{}/webhooks/calm-chat", running.base_url());
    let mut lat = Vec::new();
    let mut errors = 0;
    let deadline = Instant::now() + WINDOW;
    let mut i = 0u64;
    while Instant::now() < deadline {
        i += 1;
        // A well-behaved tenant: 100 webhooks per second, far below its own limit.
        tokio::time::sleep(Duration::from_millis(10)).await;
        let req =
            http::Request::post(&url).body(Full::new(Bytes::from(format!("calm-{flood}-{i}"))))?;
        let started = Instant::now();
        match client.request(req).await {
            Ok(resp) if resp.status().is_success() => {
                let _ = resp.into_body().collect().await;
                lat.push(started.elapsed().as_secs_f64() * 1e3);
            }
            _ => errors += 1,
        }
    }
    stop.store(true, Ordering::Relaxed);
    for f in flooders {
        let _ = f.await;
    }
    let p50 = pct(&mut lat, 0.5);
    let p99 = pct(&mut lat, 0.99);
    Ok((
        p50,
        p99,
        errors,
        accepted.load(Ordering::Relaxed),
        limited.load(Ordering::Relaxed),
    ))
}

pub async fn run() -> anyhow::Result<()> {
    println!("tenants: tenant `calm` sends 100 webhooks/s one at a time for {WINDOW:?}; tenant `flooder` floods with {FLOODERS} connections\n");
    println!(
        "{:<44} {:>9} {:>9} {:>7} {:>15}",
        "scenario", "calm p50", "calm p99", "errors", "flood ok/429"
    );
    let (limited_rt, _d1) = start(None).await?;
    let alone = measure(&limited_rt, false).await?;
    println!(
        "{:<44} {:>7.2}ms {:>7.2}ms {:>7} {:>15}",
        "calm alone", alone.0, alone.1, alone.2, "-"
    );
    let with_limit = measure(&limited_rt, true).await?;
    println!(
        "{:<44} {:>7.2}ms {:>7.2}ms {:>7} {:>8}/{:<6}",
        "flood, per-tenant limit on (500/s, burst 1000)",
        with_limit.0,
        with_limit.1,
        with_limit.2,
        with_limit.3,
        with_limit.4
    );
    drop(limited_rt);
    let (open_rt, _d2) = start(Some(Rate {
        per_second: 0.0,
        burst: 0.0,
    }))
    .await?;
    let without = measure(&open_rt, true).await?;
    println!(
        "{:<44} {:>7.2}ms {:>7.2}ms {:>7} {:>8}/{:<6}",
        "flood, no per-tenant limit", without.0, without.1, without.2, without.3, without.4
    );
    println!(
        "\ncalm p99 under flood / alone: with limit {:.1}x, without {:.1}x",
        with_limit.1 / alone.1.max(1e-6),
        without.1 / alone.1.max(1e-6)
    );
    Ok(())
}
