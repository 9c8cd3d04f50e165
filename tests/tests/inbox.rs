//! The inbox as agents and supervisors use it, end to end: real webhooks from the Telegram
//! simulator through the compiled plugin into durable cases, replies delivered back through
//! the plugin, status rules, assignment, notes, tags, search, live events.

use std::time::{Duration, Instant};

use http::Method;
use inlet::runtime::Limits;
use inlet_simulators::{Fault, Faults, TelegramSim};
use inlet_tests::{channel, Inlet, ADMIN_TOKEN};
use serde_json::{json, Value};

const TOKEN: &str = "123456:AAH-inbox-test";
const SECRET: &str = "inbox-secret";
const CHAT: i64 = 5550001;

async fn setup() -> anyhow::Result<(TelegramSim, Inlet)> {
    let sim = TelegramSim::start(TOKEN).await?;
    sim.add_chat(CHAT);
    let base = sim.base_url();
    let inlet = Inlet::start(
        vec![channel(
            "tg",
            "telegram",
            &[
                ("bot_token", TOKEN),
                ("webhook_secret", SECRET),
                ("api_base", &base),
            ],
            &[&base],
        )],
        Limits::default(),
    )
    .await?;
    Ok((sim, inlet))
}

async fn customer_says(
    sim: &TelegramSim,
    inlet: &Inlet,
    update_id: i64,
    text: &str,
) -> anyhow::Result<()> {
    let update = sim.update_text(update_id, CHAT, CHAT, "Ada", text);
    let (status, body) = sim
        .deliver(&inlet.webhook("tg"), Some(SECRET), &update)
        .await?;
    anyhow::ensure!(status == 200, "webhook answered {status}: {body}");
    Ok(())
}

async fn cases(inlet: &Inlet, query: &str) -> anyhow::Result<Vec<Value>> {
    let (status, body) = inlet
        .api(Method::GET, &format!("/cases{query}"), None)
        .await?;
    anyhow::ensure!(status == 200, "cases: {status} {body}");
    Ok(body["cases"].as_array().cloned().unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_message_opens_a_case_and_the_agents_reply_reaches_telegram(
) -> anyhow::Result<()> {
    let (sim, inlet) = setup().await?;
    customer_says(&sim, &inlet, 1, "My parcel is late").await?;
    let update = sim.update_text(2, CHAT, CHAT, "Ada", "Order 4711");
    for _ in 0..2 {
        // Telegram redelivers the same update when it gets no 2xx in time.
        assert_eq!(
            sim.deliver(&inlet.webhook("tg"), Some(SECRET), &update)
                .await?
                .0,
            200
        );
    }
    let list = cases(&inlet, "").await?;
    assert_eq!(list.len(), 1, "one conversation, one case: {list:?}");
    let case = list[0]["id"].as_str().unwrap_or_default().to_string();
    assert_eq!(list[0]["status"], "new");
    assert_eq!(list[0]["skill"], "support", "the channel's default skill");
    assert_eq!(list[0]["message_count"], 2);

    let (status, reply) = inlet
        .api(
            Method::POST,
            &format!("/cases/{case}/replies"),
            Some(json!({"content": {"text": "Sorry! It ships today."}})),
        )
        .await?;
    assert_eq!(status, 202, "{reply}");
    assert_eq!(reply["status"], "queued");
    let view = inlet
        .wait_for_case(&case, "the reply to be sent", |v| {
            v["messages"][2]["status"] == "sent"
        })
        .await?;
    let sent = sim.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].body["text"], "Sorry! It ships today.");
    assert_eq!(
        view["messages"][2]["provider_id"],
        format!("{CHAT}:{}", sent[0].message_id)
    );
    assert_eq!(
        view["case"]["status"], "open",
        "answering a new case opens it"
    );
    assert_eq!(view["contact"]["display_name"], "Ada");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_rules_resolved_reopens_closed_never_does() -> anyhow::Result<()> {
    let (sim, inlet) = setup().await?;
    customer_says(&sim, &inlet, 10, "hello").await?;
    let case = cases(&inlet, "").await?[0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let set = |s: &'static str| json!({"status": s});
    let (status, _) = inlet
        .api(
            Method::POST,
            &format!("/cases/{case}/status"),
            Some(set("resolved")),
        )
        .await?;
    assert_eq!(status, 200);
    customer_says(&sim, &inlet, 11, "one more thing").await?;
    let (_, view) = inlet
        .api(Method::GET, &format!("/cases/{case}"), None)
        .await?;
    assert_eq!(
        view["case"]["status"], "open",
        "a resolved case reopens within the window"
    );

    let (status, _) = inlet
        .api(
            Method::POST,
            &format!("/cases/{case}/status"),
            Some(set("closed")),
        )
        .await?;
    assert_eq!(status, 200);
    let (status, err) = inlet
        .api(
            Method::POST,
            &format!("/cases/{case}/status"),
            Some(set("open")),
        )
        .await?;
    assert_eq!(status, 409, "{err}");
    assert!(err["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("never reopened"));
    customer_says(&sim, &inlet, 12, "are you there?").await?;
    let open = cases(&inlet, "").await?;
    assert_eq!(open.len(), 1);
    assert_ne!(
        open[0]["id"],
        case.as_str(),
        "a closed case is never reopened: a new one starts"
    );
    let (status, _) = inlet
        .api(
            Method::POST,
            &format!("/cases/{case}/status"),
            Some(json!({"status": "bogus"})),
        )
        .await?;
    assert_eq!(status, 400);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assignment_notes_tags_filters_and_search() -> anyhow::Result<()> {
    let (sim, inlet) = setup().await?;
    customer_says(&sim, &inlet, 20, "refund for broken kettle").await?;
    let case = cases(&inlet, "").await?[0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let (status, _) = inlet
        .api(
            Method::POST,
            "/agents",
            Some(json!({"id": "bob", "name": "Bob", "channels": ["tg"]})),
        )
        .await?;
    assert_eq!(status, 201);
    let (status, assigned) = inlet
        .api(
            Method::POST,
            &format!("/cases/{case}/assign"),
            Some(json!({"agent": "bob"})),
        )
        .await?;
    assert_eq!(status, 200, "{assigned}");
    assert_eq!(assigned["assignee"], "bob");
    let (status, _) = inlet
        .api(
            Method::POST,
            &format!("/cases/{case}/assign"),
            Some(json!({"agent": "nobody"})),
        )
        .await?;
    assert_eq!(status, 404);
    let (status, _) = inlet
        .api(
            Method::POST,
            &format!("/cases/{case}/notes"),
            Some(json!({"text": "VIP customer"})),
        )
        .await?;
    assert_eq!(status, 201);
    let (status, tagged) = inlet
        .api(
            Method::POST,
            &format!("/cases/{case}/tags"),
            Some(json!({"add": ["refund", "kettle"]})),
        )
        .await?;
    assert_eq!(status, 200);
    assert_eq!(tagged["tags"], json!(["kettle", "refund"]));
    assert_eq!(cases(&inlet, "?assignee=bob&tag=refund").await?.len(), 1);
    assert_eq!(cases(&inlet, "?assignee=alice").await?.len(), 0);
    assert_eq!(
        cases(&inlet, "?status=open").await?.len(),
        1,
        "assigning a new case opens it"
    );
    assert_eq!(cases(&inlet, "?status=new").await?.len(), 0);
    let (_, view) = inlet
        .api(Method::GET, &format!("/cases/{case}"), None)
        .await?;
    assert_eq!(view["notes"][0]["text"], "VIP customer");
    let (status, hits) = inlet
        .api(Method::GET, "/search?q=KETTLE%20refund", None)
        .await?;
    assert_eq!(status, 200);
    assert_eq!(hits.as_array().map(Vec::len), Some(1), "{hits}");
    let (_, none) = inlet.api(Method::GET, "/search?q=toaster", None).await?;
    assert_eq!(none, json!([]));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_orders_by_priority_then_age_with_cursor_pages() -> anyhow::Result<()> {
    let sim = TelegramSim::start(TOKEN).await?;
    let base = sim.base_url();
    let inlet = Inlet::start(
        vec![channel(
            "tg",
            "telegram",
            &[
                ("bot_token", TOKEN),
                ("webhook_secret", SECRET),
                ("api_base", &base),
            ],
            &[&base],
        )],
        Limits::default(),
    )
    .await?;
    for i in 0..7i64 {
        let chat = 9000 + i;
        sim.add_chat(chat);
        let update = sim.update_text(100 + i, chat, chat, "C", &format!("case {i}"));
        assert_eq!(
            sim.deliver(&inlet.webhook("tg"), Some(SECRET), &update)
                .await?
                .0,
            200
        );
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = match &cursor {
            Some(c) => format!("/cases?limit=3&cursor={}", urlencode(c)),
            None => "/cases?limit=3".into(),
        };
        let (status, page) = inlet.api(Method::GET, &q, None).await?;
        assert_eq!(status, 200, "{page}");
        for c in page["cases"].as_array().into_iter().flatten() {
            seen.push(c["subject"].as_str().unwrap_or_default().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let expected: Vec<String> = (0..7).map(|i| format!("case {i}")).collect();
    assert_eq!(
        seen, expected,
        "oldest first at equal priority, every case exactly once"
    );
    let (status, err) = inlet.api(Method::GET, "/cases?limit=x", None).await?;
    assert_eq!(status, 400, "{err}");
    Ok(())
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_send_stays_visible_with_its_error_and_can_be_retried() -> anyhow::Result<()> {
    let (sim, inlet) = setup().await?;
    customer_says(&sim, &inlet, 30, "hi").await?;
    let case = cases(&inlet, "").await?[0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();

    // Permanent: the user blocked the bot.
    sim.block_chat(CHAT);
    inlet
        .api(
            Method::POST,
            &format!("/cases/{case}/replies"),
            Some(json!({"content": {"text": "hello?"}})),
        )
        .await?;
    let view = inlet
        .wait_for_case(&case, "the send to fail", |v| {
            v["messages"][1]["status"] == "failed"
        })
        .await?;
    let failure = view["messages"][1]["failure"].as_str().unwrap_or_default();
    assert!(failure.contains("bot was blocked by the user"), "{failure}");
    sim.unblock_chat(CHAT);
    let (status, _) = inlet
        .api(
            Method::POST,
            &format!("/cases/{case}/messages/2/retry"),
            None,
        )
        .await?;
    assert_eq!(status, 202);
    inlet
        .wait_for_case(&case, "the retried send", |v| {
            v["messages"][1]["status"] == "sent"
        })
        .await?;

    // Transient: the provider is down; the message waits in the outbox with its error.
    sim.set_down(true);
    inlet
        .api(
            Method::POST,
            &format!("/cases/{case}/replies"),
            Some(json!({"content": {"text": "still there?"}})),
        )
        .await?;
    let started = Instant::now();
    loop {
        let (_, outbox) = inlet.api(Method::GET, "/outbox", None).await?;
        if outbox[0]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("transient") && e.contains("provider code 503"))
        {
            break;
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(20),
            "no error recorded: {outbox}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, view) = inlet
        .api(Method::GET, &format!("/cases/{case}"), None)
        .await?;
    assert_eq!(view["messages"][2]["status"], "queued");
    sim.set_down(false);
    inlet
        .wait_for_case(&case, "delivery after recovery", |v| {
            v["messages"][2]["status"] == "sent"
        })
        .await?;
    let (_, outbox) = inlet.api(Method::GET, "/outbox", None).await?;
    assert_eq!(outbox, json!([]));
    // Retry-after is honoured on 429 too: the send still goes through.
    sim.fail_next(
        1,
        Fault::RateLimit {
            retry_after_secs: 1,
        },
    );
    inlet
        .api(
            Method::POST,
            &format!("/cases/{case}/replies"),
            Some(json!({"content": {"text": "third"}})),
        )
        .await?;
    inlet
        .wait_for_case(&case, "delivery after 429", |v| {
            v["messages"][3]["status"] == "sent"
        })
        .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_events_stream_new_cases_and_status_changes() -> anyhow::Result<()> {
    let (sim, inlet) = setup().await?;
    let url = inlet.url("/api/v1/stream");
    let auth = format!("Bearer {ADMIN_TOKEN}");
    // Read the SSE stream with a raw connection.
    let addr = inlet.running.addr;
    let reader = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(addr).await?;
        let path = url
            .split_once(&addr.to_string())
            .map(|(_, p)| p.to_string())
            .unwrap_or_default();
        s.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n\r\n").as_bytes(),
        )
        .await?;
        let mut all = String::new();
        let mut buf = [0u8; 4096];
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            match tokio::time::timeout(Duration::from_millis(200), s.read(&mut buf)).await {
                Ok(Ok(0)) => break,
                Ok(Ok(n)) => all.push_str(&String::from_utf8_lossy(&buf[..n])),
                _ => {}
            }
            if all.contains("event: status-changed") {
                break;
            }
        }
        anyhow::Ok(all)
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    customer_says(&sim, &inlet, 40, "live?").await?;
    let case = cases(&inlet, "").await?[0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    inlet
        .api(
            Method::POST,
            &format!("/cases/{case}/status"),
            Some(json!({"status": "pending"})),
        )
        .await?;
    let stream = reader.await??;
    assert!(stream.contains("text/event-stream"), "{stream}");
    assert!(stream.contains("event: case-created"), "{stream}");
    assert!(stream.contains("event: message-created"), "{stream}");
    assert!(stream.contains("event: status-changed"), "{stream}");
    assert!(stream.contains(&case), "{stream}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_can_be_reconfigured_and_disabled_without_losing_anything() -> anyhow::Result<()>
{
    let (sim, inlet) = setup().await?;
    customer_says(&sim, &inlet, 50, "before").await?;
    // A bad change is refused and the channel keeps running as it was.
    let (status, err) = inlet
        .api(
            Method::PATCH,
            "/channels/tg",
            Some(json!({"config": {"bot_token": TOKEN}})),
        )
        .await?;
    assert_eq!(status, 422, "webhook_secret is required: {err}");
    customer_says(&sim, &inlet, 51, "still works").await?;
    // Secrets shown masked can be sent back masked: they keep their value.
    let (_, view) = inlet.api(Method::GET, "/channels/tg", None).await?;
    let mut config = view["config"].clone();
    config["api_base"] = json!(sim.base_url());
    let (status, err) = inlet
        .api(
            Method::PATCH,
            "/channels/tg",
            Some(json!({"default_skill": "billing"})),
        )
        .await?;
    assert_eq!(status, 422, "billing is no skill yet: {err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("no skill `billing`"),
        "{err}"
    );
    let (status, _) = inlet
        .api(
            Method::POST,
            "/skills",
            Some(json!({"id": "billing", "name": "Billing"})),
        )
        .await?;
    assert_eq!(status, 201);
    let (status, changed) = inlet
        .api(
            Method::PATCH,
            "/channels/tg",
            Some(json!({"config": config, "default_skill": "billing"})),
        )
        .await?;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["default_skill"], "billing");
    customer_says(&sim, &inlet, 52, "after the change").await?;
    // Disabled: webhooks answer 503 and store nothing.
    let (status, _) = inlet
        .api(
            Method::PATCH,
            "/channels/tg",
            Some(json!({"enabled": false})),
        )
        .await?;
    assert_eq!(status, 200);
    let update = sim.update_text(53, CHAT, CHAT, "Ada", "while disabled");
    let (status, body) = sim
        .deliver(&inlet.webhook("tg"), Some(SECRET), &update)
        .await?;
    assert_eq!(status, 503, "{body}");
    inlet
        .api(
            Method::PATCH,
            "/channels/tg",
            Some(json!({"enabled": true})),
        )
        .await?;
    customer_says(&sim, &inlet, 54, "back again").await?;
    let case = cases(&inlet, "").await?[0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let (_, view) = inlet
        .api(Method::GET, &format!("/cases/{case}"), None)
        .await?;
    let texts: Vec<&str> = view["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["text"].as_str())
        .collect();
    assert_eq!(
        texts,
        vec!["before", "still works", "after the change", "back again"]
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contacts_on_two_channels_merge_into_one_profile() -> anyhow::Result<()> {
    let sim = TelegramSim::start(TOKEN).await?;
    sim.add_chat(CHAT);
    sim.add_chat(CHAT + 1);
    let base = sim.base_url();
    let inlet = Inlet::start(
        vec![
            channel(
                "tg",
                "telegram",
                &[
                    ("bot_token", TOKEN),
                    ("webhook_secret", SECRET),
                    ("api_base", &base),
                ],
                &[&base],
            ),
            channel(
                "tg2",
                "telegram",
                &[
                    ("bot_token", TOKEN),
                    ("webhook_secret", SECRET),
                    ("api_base", &base),
                ],
                &[&base],
            ),
        ],
        Limits::default(),
    )
    .await?;
    for (ch, id) in [("tg", 60), ("tg2", 61)] {
        let update = sim.update_text(id, CHAT, CHAT, "Ada", "hi");
        assert_eq!(
            sim.deliver(&inlet.webhook(ch), Some(SECRET), &update)
                .await?
                .0,
            200
        );
    }
    let list = cases(&inlet, "").await?;
    assert_eq!(list.len(), 2, "one case per channel");
    let a = list[0]["contact"].as_str().unwrap_or_default().to_string();
    let b = list[1]["contact"].as_str().unwrap_or_default().to_string();
    assert_ne!(a, b, "one identity per channel");
    let (status, merged) = inlet
        .api(
            Method::POST,
            &format!("/contacts/{a}/merge"),
            Some(json!({"into": b})),
        )
        .await?;
    assert_eq!(status, 200, "{merged}");
    let (_, profile) = inlet
        .api(Method::GET, &format!("/contacts/{b}"), None)
        .await?;
    assert_eq!(
        profile["profile"].as_array().map(Vec::len),
        Some(2),
        "{profile}"
    );
    let (status, _) = inlet
        .api(
            Method::POST,
            &format!("/contacts/{a}/merge"),
            Some(json!({"into": b})),
        )
        .await?;
    assert_eq!(status, 409);
    Ok(())
}
