//! Crash safety: kill -9 the server during sustained ingest, restart it on the same data, and
//! check that every webhook that got a 2xx is in the inbox exactly once.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::Method;
use serde_json::{json, Value};

const TOKEN: &str = "crash-test-operator-token";
const SECRET: &str = "crash-secret";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(18080)
}

fn start(config: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_inlet"))
        .args(["serve", "--config"])
        .arg(config)
        .env("INLET_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start inlet")
}

async fn wait_healthy(base: &str) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        if let Ok(r) =
            inlet_simulators::request(Method::GET, &format!("{base}/healthz"), &[], "").await
        {
            if r.status == 200 {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("inlet did not become healthy at {base}");
}

fn update(chat: i64, n: i64) -> Value {
    json!({
        "update_id": chat * 1_000_000 + n,
        "message": {
            "message_id": n, "date": 1_700_000_000,
            "chat": {"id": chat, "type": "private"},
            "from": {"id": chat, "is_bot": false, "first_name": "Load"},
            "text": format!("message {n} from {chat}")
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_webhook_survives_kill_minus_nine_exactly_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let config = dir.path().join("inlet.toml");
    std::fs::write(
        &config,
        format!(
            r#"
data_dir = "{data}"
listen = "127.0.0.1:{port}"
admin_token = "{TOKEN}"
[tenant_limits.webhooks]
per_second = 0.0
burst = 0.0
[[channels]]
id = "tg"
plugin = "telegram"
default_skill = "support"
default_script = "welcome"
config = {{ bot_token = "1:crash", webhook_secret = "{SECRET}" }}
"#,
            data = dir.path().join("data").display()
        ),
    )
    .expect("write config");

    let mut server = start(&config);
    wait_healthy(&base).await;

    // Sustained ingest from 4 senders; remember what was acknowledged.
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut senders = Vec::new();
    for chat in 1..=4i64 {
        let (acked, stop, url) = (acked.clone(), stop.clone(), format!("{base}/webhooks/tg"));
        senders.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) && n < 100_000 {
                n += 1;
                let headers = [
                    ("content-type", "application/json"),
                    ("x-telegram-bot-api-secret-token", SECRET),
                ];
                match inlet_simulators::request(
                    Method::POST,
                    &url,
                    &headers,
                    update(chat, n).to_string(),
                )
                .await
                {
                    Ok(r) if (200..300).contains(&r.status) => {
                        acked
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push(format!("{chat}:{n}"));
                    }
                    Ok(_) | Err(_) => {
                        if stop.load(std::sync::atomic::Ordering::SeqCst) {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.kill().expect("kill -9"); // SIGKILL: no shutdown code runs
    let _ = server.wait();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for s in senders {
        let _ = s.await;
    }
    let acked: Vec<String> = acked.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert!(
        acked.len() > 20,
        "the load generator got through: {}",
        acked.len()
    );

    let mut server = start(&config);
    wait_healthy(&base).await;
    let auth = format!("Bearer {TOKEN}");
    let mut stored: HashMap<String, usize> = HashMap::new();
    let mut after = 0u64;
    loop {
        let r = inlet_simulators::request(
            Method::GET,
            &format!("{base}/api/v1/events?after={after}&limit=1000"),
            &[("authorization", &auth)],
            "",
        )
        .await
        .expect("events");
        assert_eq!(r.status, 200, "{}", r.text());
        let page: Vec<Value> = serde_json::from_slice(&r.body).expect("json");
        let Some(last) = page.last() else { break };
        after = last["seq"].as_u64().unwrap_or(u64::MAX);
        for e in &page {
            if let Some(id) = e["event"]["provider_id"].as_str() {
                *stored.entry(id.to_string()).or_default() += 1;
            }
        }
    }
    let _ = server.kill();
    let _ = server.wait();
    let missing: Vec<&String> = acked
        .iter()
        .filter(|id| !stored.contains_key(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged webhooks lost, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    let dupes: Vec<(&String, &usize)> = stored.iter().filter(|(_, n)| **n > 1).collect();
    assert!(dupes.is_empty(), "stored more than once: {dupes:?}");
    eprintln!(
        "crash test: {} acknowledged, {} stored (unacknowledged in-flight ones may be stored too)",
        acked.len(),
        stored.len()
    );
}
