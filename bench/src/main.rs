//! `inlet-bench`: measures Inlet and prints each figure next to a baseline measured in the
//! same run. `cargo run --release -p inlet-bench -- [runtime|ingest|tenants|routing|listing|all]`.
//!
//! runtime (this file):
//! 1. Telegram `receive` through the WASM plugin vs the same parsing compiled natively.
//! 2. Fresh instance per call vs a reused warm instance (the runtime's default).
//! 3. Hot swap latency (prepare + health check + publish) under no load.
//! 4. Cold start: install the Telegram plugin with an empty vs a warm compile cache.
//!
//! Figures are medians over repeated runs; nothing here asserts a time.

#[path = "../../plugins/telegram/src/wire.rs"]
#[allow(dead_code, clippy::all)]
mod telegram_wire;

use std::sync::Arc;
use std::time::{Duration, Instant};

use inlet::model::HttpRequest;
use inlet::runtime::{ChannelSpec, Limits, PluginSource, Runtime, RuntimeOptions};
use inlet::store::MemoryKv;

const SECRET: &str = "bench-secret";

fn update(i: u64) -> Vec<u8> {
    serde_json::json!({
        "update_id": i,
        "message": {
            "message_id": i, "date": 1_700_000_000u64,
            "chat": {"id": 42, "type": "private"},
            "from": {"id": 42, "is_bot": false, "first_name": "Ada", "username": "ada", "language_code": "en"},
            "text": "Hello, I have a question about my order #12345. When will it arrive?"
        }
    })
    .to_string()
    .into_bytes()
}

fn request(body: Vec<u8>) -> HttpRequest {
    HttpRequest {
        method: "POST".into(),
        url: "http://127.0.0.1:8080/webhooks/tg".into(),
        query: Vec::new(),
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("x-telegram-bot-api-secret-token".into(), SECRET.into()),
        ],
        body,
    }
}

/// The native baseline: what the plugin's `receive` does for a text update, compiled natively
/// (same wire types, same secret check, same event shape).
fn native_receive(req: &HttpRequest) -> usize {
    let given = req
        .headers
        .iter()
        .find(|(k, _)| k == "x-telegram-bot-api-secret-token")
        .map(|(_, v)| v.as_str())
        .unwrap_or_default();
    assert!(inlet_sdk::signature::secrets_equal(given, SECRET));
    let update: telegram_wire::Update = match inlet_sdk::body::json(&req.body) {
        Ok(u) => u,
        Err(_) => return 0,
    };
    let Some(m) = update.message else { return 0 };
    let Some(from) = m.from else { return 0 };
    let event = inlet_sdk::InboundMessage {
        provider_id: format!("{}:{}", m.chat.id, m.message_id),
        conversation: m.chat.id.to_string(),
        contact: inlet_sdk::Contact {
            id: from.id.to_string(),
            display_name: Some(from.first_name),
            handle: from.username,
            locale: from.language_code,
        },
        text: m.text,
        attachments: Vec::new(),
        reply_to: None,
        timestamp_ms: m.date * 1000,
    };
    std::hint::black_box(&event);
    1
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

async fn runtime(
    limits: Limits,
    cache: Option<std::path::PathBuf>,
) -> anyhow::Result<Arc<Runtime>> {
    Runtime::new(
        RuntimeOptions {
            cache_dir: cache,
            limits,
        },
        Arc::new(MemoryKv::default()),
    )
}

async fn telegram_channel(rt: &Arc<Runtime>) -> anyhow::Result<Arc<inlet::runtime::ChannelHandle>> {
    let bytes = inlet::bundled::BUNDLED
        .iter()
        .find(|(n, _)| *n == "telegram")
        .map(|(_, b)| b.to_vec())
        .ok_or_else(|| anyhow::anyhow!("telegram not bundled"))?;
    rt.install(bytes, PluginSource::Bundled).await?;
    let spec = ChannelSpec {
        id: "tg".into(),
        plugin: "telegram".into(),
        config: [
            ("bot_token".to_string(), "1:x".to_string()),
            ("webhook_secret".to_string(), SECRET.to_string()),
        ]
        .into(),
        egress: Vec::new(),
        public_url: None,
        version: None,
        limits: None,
    };
    Ok(rt.add_channel(spec, "http://127.0.0.1:8080").await?)
}

/// Mean µs per receive over `n` sequential calls, median of `rounds`.
async fn plugin_receive_us(
    channel: &Arc<inlet::runtime::ChannelHandle>,
    n: u64,
    rounds: usize,
) -> anyhow::Result<f64> {
    let mut samples = Vec::new();
    for r in 0..rounds {
        let started = Instant::now();
        for i in 0..n {
            let received = channel.receive(request(update(r as u64 * n + i))).await?;
            std::hint::black_box(received);
        }
        samples.push(started.elapsed().as_secs_f64() * 1e6 / n as f64);
    }
    Ok(median(samples))
}

/// Calls per second with `tasks` concurrent callers for `duration`.
async fn throughput(
    channel: &Arc<inlet::runtime::ChannelHandle>,
    tasks: usize,
    duration: Duration,
) -> anyhow::Result<f64> {
    let deadline = Instant::now() + duration;
    let mut handles = Vec::new();
    for t in 0..tasks {
        let channel = channel.clone();
        handles.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < deadline {
                if channel
                    .receive(request(update(t as u64 * 1_000_000 + n)))
                    .await
                    .is_ok()
                {
                    n += 1;
                }
            }
            n
        }));
    }
    let mut total = 0;
    for h in handles {
        total += h.await?;
    }
    Ok(total as f64 / duration.as_secs_f64())
}

mod content;
mod ingest;
mod listing;
mod routing;
mod tenants;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let what = std::env::args().nth(1).unwrap_or_else(|| "all".into());
    match what.as_str() {
        "runtime" => runtime_bench().await,
        "ingest" => ingest::run().await,
        "listing" => listing::run().await,
        "tenants" => tenants::run().await,
        "routing" => routing::run().await,
        "content" => content::run().await,
        "all" => {
            runtime_bench().await?;
            content::run().await?;
            ingest::run().await?;
            tenants::run().await?;
            routing::run().await?;
            listing::run().await
        }
        other => {
            anyhow::bail!(
                "unknown benchmark `{other}`: runtime, content, ingest, tenants, routing, listing or all"
            )
        }
    }
}

async fn runtime_bench() -> anyhow::Result<()> {
    println!("inlet-bench: plugin runtime figures (medians; baselines measured in this run)\n");

    // 1. WASM receive vs native parsing.
    let reused_rt = runtime(Limits::default(), None).await?;
    let reused = telegram_channel(&reused_rt).await?;
    plugin_receive_us(&reused, 200, 1).await?; // warm up
    let wasm_us = plugin_receive_us(&reused, 2000, 5).await?;
    let mut native = Vec::new();
    for r in 0..5u64 {
        let reqs: Vec<HttpRequest> = (0..20_000)
            .map(|i| request(update(r * 20_000 + i)))
            .collect();
        let started = Instant::now();
        for req in &reqs {
            std::hint::black_box(native_receive(req));
        }
        native.push(started.elapsed().as_secs_f64() * 1e6 / reqs.len() as f64);
    }
    let native_us = median(native);
    let mut direct = Vec::new();
    for r in 0..5u64 {
        let reqs: Vec<HttpRequest> = (0..5_000)
            .map(|i| request(update(1_000_000 + r * 5_000 + i)))
            .collect();
        let channel = reused.clone();
        let us = tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let n = reqs.len();
            for req in reqs {
                let _ = std::hint::black_box(channel.receive_blocking(req));
            }
            started.elapsed().as_secs_f64() * 1e6 / n as f64
        })
        .await?;
        direct.push(us);
    }
    let direct_us = median(direct);
    println!("1. Telegram receive (text update), one caller:");
    println!("   wasm plugin, warm instance, via runtime  {wasm_us:>9.2} µs/call  (async API, block_in_place)");
    println!("   wasm plugin, warm instance, direct call  {direct_us:>9.2} µs/call  (same thread)");
    println!("   same parsing compiled natively           {native_us:>9.2} µs/call");
    println!(
        "   ratio direct wasm/native                 {:>9.1}x",
        direct_us / native_us
    );
    println!(
        "   ratio via-runtime wasm/native            {:>9.1}x\n",
        wasm_us / native_us
    );

    // 2. Fresh vs reused instances.
    let fresh_rt = runtime(
        Limits {
            instance_reuse: false,
            ..Limits::default()
        },
        None,
    )
    .await?;
    let fresh = telegram_channel(&fresh_rt).await?;
    plugin_receive_us(&fresh, 100, 1).await?;
    let fresh_us = plugin_receive_us(&fresh, 1000, 5).await?;
    println!("2. Instance strategy (same plugin, same request):");
    println!("   fresh instance per call                  {fresh_us:>9.2} µs/call");
    println!("   reused warm instance                     {wasm_us:>9.2} µs/call");
    println!(
        "   ratio fresh/reused                       {:>9.1}x",
        fresh_us / wasm_us
    );
    let window = Duration::from_secs(2);
    for tasks in [1usize, 2, 4] {
        let f = throughput(&fresh, tasks, window).await?;
        let w = throughput(&reused, tasks, window).await?;
        println!(
            "   {tasks} concurrent callers: fresh {f:>9.0}/s   reused {w:>9.0}/s   ratio {:>5.1}x",
            w / f
        );
    }
    println!();

    // 3. Hot swap latency.
    let misbehave = |name: &str| std::fs::read(format!("{}/{name}", inlet::bundled::FIXTURE_DIR));
    let swap_rt = runtime(Limits::default(), None).await?;
    swap_rt
        .install(misbehave("misbehave-v1.wasm")?, PluginSource::Upload)
        .await?;
    swap_rt
        .add_channel(
            ChannelSpec {
                id: "m".into(),
                plugin: "misbehave".into(),
                config: Default::default(),
                egress: Vec::new(),
                public_url: None,
                version: None,
                limits: None,
            },
            "http://x",
        )
        .await?;
    let (mut total, mut health, mut publish, mut compile) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..6 {
        let file = if i % 2 == 0 {
            "misbehave-v2.wasm"
        } else {
            "misbehave-v1.wasm"
        };
        let bytes = misbehave(file)?;
        let started = Instant::now();
        let report = swap_rt.install(bytes, PluginSource::Upload).await?;
        total.push(started.elapsed().as_secs_f64() * 1e3);
        health.push(report.health_ms);
        publish.push(report.swap_us);
        compile.push(report.compile_ms);
    }
    println!("3. Hot swap (1 channel on the plugin, no cache):");
    println!(
        "   total install+swap                       {:>9.2} ms",
        median(total)
    );
    println!(
        "   of which compile+link+describe           {:>9.2} ms",
        median(compile)
    );
    println!(
        "   of which health check                    {:>9.2} ms",
        median(health)
    );
    println!(
        "   publish (atomic pointer swap)            {:>9.2} µs\n",
        median(publish)
    );

    // 4. Cold start with and without the compile cache.
    let bytes = inlet::bundled::BUNDLED
        .iter()
        .find(|(n, _)| *n == "telegram")
        .map(|(_, b)| b.to_vec())
        .ok_or_else(|| anyhow::anyhow!("telegram not bundled"))?;
    let (mut cold, mut warm) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        let dir = tempfile::tempdir()?;
        let cache = Some(dir.path().to_path_buf());
        let started = Instant::now();
        let rt = runtime(Limits::default(), cache.clone()).await?;
        rt.install(bytes.clone(), PluginSource::Bundled).await?;
        cold.push(started.elapsed().as_secs_f64() * 1e3);
        drop(rt);
        let started = Instant::now();
        let rt = runtime(Limits::default(), cache).await?;
        rt.install(bytes.clone(), PluginSource::Bundled).await?;
        warm.push(started.elapsed().as_secs_f64() * 1e3);
    }
    let (cold, warm) = (median(cold), median(warm));
    println!(
        "4. Cold start (new runtime + install Telegram, {} KiB component):",
        bytes.len() / 1024
    );
    println!("   empty compile cache                      {cold:>9.2} ms");
    println!("   warm compile cache                       {warm:>9.2} ms");
    println!(
        "   ratio                                    {:>9.1}x",
        cold / warm
    );
    Ok(())
}
