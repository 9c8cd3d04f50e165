//! Crash safety: kill -9 the server during sustained ingest, restart it on the same data, and
//! check that every webhook that got a 2xx is in the inbox exactly once.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::Method;
use inlet_simulators::Faults;
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

/// The outbox survives kill -9: replies queued while the provider is down are all delivered
/// after a restart, each exactly once, in order per conversation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_backlog_survives_kill_minus_nine_and_is_delivered_once_in_order() {
    const CHATS: [i64; 3] = [901, 902, 903];
    const PER_CHAT: usize = 8;
    let sim = inlet_simulators::TelegramSim::start("1:outbox")
        .await
        .expect("sim");
    for chat in CHATS {
        sim.add_chat(chat);
    }
    sim.set_down(true);
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
[[channels]]
id = "tg"
plugin = "telegram"
default_skill = "support"
default_script = "welcome"
egress = ["{sim}"]
config = {{ bot_token = "1:outbox", webhook_secret = "{SECRET}", api_base = "{sim}" }}
"#,
            data = dir.path().join("data").display(),
            sim = sim.base_url(),
        ),
    )
    .expect("write config");
    let auth = format!("Bearer {TOKEN}");
    let api = |method: Method, path: String, body: String| {
        let auth = auth.clone();
        let url = format!("{base}/api/v1{path}");
        async move {
            let r = inlet_simulators::request(
                method,
                &url,
                &[
                    ("authorization", &auth),
                    ("content-type", "application/json"),
                ],
                body,
            )
            .await
            .expect("api call");
            let v: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
            (r.status, v)
        }
    };

    let mut server = start(&config);
    wait_healthy(&base).await;
    for chat in CHATS {
        let r = inlet_simulators::request(
            Method::POST,
            &format!("{base}/webhooks/tg"),
            &[
                ("content-type", "application/json"),
                ("x-telegram-bot-api-secret-token", SECRET),
            ],
            update(chat, 1).to_string(),
        )
        .await
        .expect("webhook");
        assert_eq!(r.status, 200);
    }
    let (_, list) = api(Method::GET, "/cases?channel=tg".into(), String::new()).await;
    let cases: Vec<(i64, String)> = list["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| {
            let chat = c["conversation"].as_str().and_then(|s| s.parse().ok());
            (
                chat.unwrap_or(0),
                c["id"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(cases.len(), CHATS.len());
    // Interleave the conversations so order per conversation is really tested.
    for i in 0..PER_CHAT {
        for (chat, case) in &cases {
            let body = json!({"content": {"text": format!("chat {chat} reply {i}")}}).to_string();
            let (status, v) = api(Method::POST, format!("/cases/{case}/replies"), body).await;
            assert_eq!(status, 202, "{v}");
        }
    }
    // Let delivery fail against the down provider at least once.
    let started = Instant::now();
    while sim.request_count() < CHATS.len() && started.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        sim.request_count() >= CHATS.len(),
        "delivery tried while down"
    );
    assert!(sim.sent().is_empty());
    server.kill().expect("kill -9");
    let _ = server.wait();

    sim.set_down(false);
    let mut server = start(&config);
    wait_healthy(&base).await;
    let expected = CHATS.len() * PER_CHAT;
    let started = Instant::now();
    while sim.sent().len() < expected && started.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A moment more: anything sent twice would show up now.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let _ = server.kill();
    let _ = server.wait();

    let sent = sim.sent();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for m in &sent {
        *seen
            .entry(m.body["text"].as_str().unwrap_or_default().to_string())
            .or_default() += 1;
    }
    assert_eq!(
        sent.len(),
        expected,
        "every queued reply delivered once: {seen:?}"
    );
    assert!(seen.values().all(|n| *n == 1), "duplicates: {seen:?}");
    for chat in CHATS {
        let texts: Vec<String> = sent
            .iter()
            .filter(|m| m.chat_id == chat)
            .map(|m| m.body["text"].as_str().unwrap_or_default().to_string())
            .collect();
        let want: Vec<String> = (0..PER_CHAT)
            .map(|i| format!("chat {chat} reply {i}"))
            .collect();
        assert_eq!(texts, want, "order in chat {chat}");
    }
}
