//! End-to-end ingest: signed Telegram webhooks → plugin → durable inbox message, against a
//! plain hyper hello-world server on the same machine as the ceiling. Same load generator,
//! same connection count, same duration, same process.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

const SECRET: &str = "bench-secret";
const CONNECTIONS: usize = 16;
const DURATION: Duration = Duration::from_secs(5);

struct Figures {
    rps: f64,
    p50_us: f64,
    p99_us: f64,
    errors: usize,
}

async fn load(
    url: String,
    body_for: Arc<dyn Fn(u64) -> Option<String> + Send + Sync>,
) -> anyhow::Result<Figures> {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let deadline = Instant::now() + DURATION;
    let mut tasks = Vec::new();
    for c in 0..CONNECTIONS as u64 {
        let (client, url, body_for) = (client.clone(), url.clone(), body_for.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0usize;
            let mut i = 0u64;
            while Instant::now() < deadline {
                i += 1;
                let n = c * 10_000_000 + i;
                let mut req =
                    http::Request::post(&url).header("x-telegram-bot-api-secret-token", SECRET);
                let body = match body_for(n) {
                    Some(b) => {
                        req = req.header("content-type", "application/json");
                        b
                    }
                    None => String::new(),
                };
                let Ok(req) = req.body(Full::new(Bytes::from(body))) else {
                    continue;
                };
                let started = Instant::now();
                match client.request(req).await {
                    Ok(resp) => {
                        let ok = resp.status().is_success();
                        let _ = resp.into_body().collect().await;
                        if ok {
                            lat.push(started.elapsed().as_secs_f64() * 1e6);
                        } else {
                            errors += 1;
                        }
                    }
                    Err(_) => errors += 1,
                }
            }
            (lat, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (lat, e) = t.await?;
        all.extend(lat);
        errors += e;
    }
    all.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0.0)
    };
    Ok(Figures {
        rps: all.len() as f64 / DURATION.as_secs_f64(),
        p50_us: pct(0.50),
        p99_us: pct(0.99),
        errors,
    })
}

async fn hello_world() -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(|_req| async {
                    Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from_static(
                        b"hello",
                    ))))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Ok(format!("http://{addr}/"))
}

pub async fn run() -> anyhow::Result<()> {
    println!("ingest: {CONNECTIONS} keep-alive connections for {DURATION:?} each, loopback, same process\n");
    let dir = tempfile::tempdir()?;
    let config = inlet::config::Config {
        data_dir: dir.path().to_path_buf(),
        listen: "127.0.0.1:0".into(),
        admin_token: Some("bench-operator-token-0000".into()),
        // Measure ingest itself, not the per-tenant rate limit.
        tenant_limits: inlet::config::TenantLimits {
            webhooks: inlet::ratelimit::Rate {
                per_second: 0.0,
                burst: 0.0,
            },
            api: inlet::ratelimit::Rate {
                per_second: 0.0,
                burst: 0.0,
            },
        },
        ..inlet::config::Config::default()
    };
    let running = inlet::app::start(config).await?;
    inlet::scripts::ensure_channel_defaults(
        &running.app.inbox,
        inlet::app::DEFAULT_TENANT,
        "support",
        "welcome",
    )?;
    running
        .app
        .create_channel(
            inlet::app::DEFAULT_TENANT,
            inlet::app::ChannelInput {
                id: "tg".into(),
                plugin: "telegram".into(),
                name: None,
                config: [
                    ("bot_token".to_string(), "1:x".to_string()),
                    ("webhook_secret".to_string(), SECRET.to_string()),
                ]
                .into(),
                egress: Vec::new(),
                public_url: None,
                default_skill: "support".into(),
                default_script: "welcome".into(),
                plugin_version: None,
            },
        )
        .await?;
    let hello = hello_world().await?;
    let ceiling = load(hello, Arc::new(|_| None)).await?;
    let webhook = format!("{}/webhooks/tg", running.base_url());
    let inlet_figs = load(
        webhook,
        Arc::new(|n| {
            // 1000 customers, each writing repeatedly: cases grow, as in real traffic.
            let chat = (n % 1000) as i64 + 1;
            Some(
                serde_json::json!({
                    "update_id": n,
                    "message": {"message_id": n, "date": 1_700_000_000u64, "chat": {"id": chat, "type": "private"},
                                "from": {"id": chat, "is_bot": false, "first_name": "Load"},
                                "text": "Hello, where is my order? It was due yesterday."}
                })
                .to_string(),
            )
        }),
    )
    .await?;
    println!("                          req/s      p50        p99     errors");
    println!(
        "hyper hello-world     {:>9.0} {:>8.0}µs {:>8.0}µs  {}",
        ceiling.rps, ceiling.p50_us, ceiling.p99_us, ceiling.errors
    );
    println!(
        "inlet durable ingest  {:>9.0} {:>8.0}µs {:>8.0}µs  {}",
        inlet_figs.rps, inlet_figs.p50_us, inlet_figs.p99_us, inlet_figs.errors
    );
    println!(
        "ratio inlet/ceiling   {:>9.3}",
        inlet_figs.rps / ceiling.rps.max(1.0)
    );
    println!("(durability: each request's events are one atomic sled batch; the 2xx waits for a group-commit flush shared by concurrent requests)\n");
    Ok(())
}
