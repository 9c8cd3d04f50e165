//! Telegram end to end: the compiled Telegram plugin in the real host against the Bot API
//! simulator, which checks the bot token and validates every request as Telegram does.

use http::Method;
use inlet::runtime::Limits;
use inlet_simulators::{Fault, Faults, TelegramSim};
use inlet_tests::{channel, Inlet};
use serde_json::{json, Value};

const TOKEN: &str = "123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";
const SECRET: &str = "webhook-secret_42";
const CHAT: i64 = 777001;

async fn setup(limits: Limits) -> anyhow::Result<(TelegramSim, Inlet)> {
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
        limits,
    )
    .await?;
    Ok((sim, inlet))
}

fn event(e: &Value) -> &Value {
    &e["event"]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_message_becomes_one_event_and_a_redelivery_stores_nothing_new() -> anyhow::Result<()>
{
    let (sim, inlet) = setup(Limits::default()).await?;
    let update = sim.update_text(1001, CHAT, CHAT, "Ada", "Hello, my parcel is late");
    let (status, _) = sim
        .deliver(&inlet.webhook("tg"), Some(SECRET), &update)
        .await?;
    assert_eq!(status, 200);
    let (status, _) = sim
        .deliver(&inlet.webhook("tg"), Some(SECRET), &update)
        .await?;
    assert_eq!(status, 200, "a redelivery is acknowledged");
    let events = inlet.events("tg").await?;
    assert_eq!(events.len(), 1, "{events:?}");
    let e = event(&events[0]);
    assert_eq!(e["type"], "message");
    assert_eq!(e["text"], "Hello, my parcel is late");
    assert_eq!(e["conversation"], CHAT.to_string());
    assert_eq!(e["contact"]["display_name"], "Ada");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_or_missing_secret_token_gets_401_and_emits_no_event() -> anyhow::Result<()> {
    let (sim, inlet) = setup(Limits::default()).await?;
    let update = sim.update_text(1, CHAT, CHAT, "Eve", "let me in");
    let (status, body) = sim
        .deliver(&inlet.webhook("tg"), Some("not-the-secret"), &update)
        .await?;
    assert_eq!(status, 401, "{body}");
    let err: Value = serde_json::from_str(&body)?;
    assert_eq!(err["error"]["code"], "unauthorized");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("does not match"),
        "{body}"
    );
    let (status, _) = sim.deliver(&inlet.webhook("tg"), None, &update).await?;
    assert_eq!(status, 401);
    assert!(inlet.events("tg").await?.is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_is_a_400_and_an_unknown_channel_a_404() -> anyhow::Result<()> {
    let (_sim, inlet) = setup(Limits::default()).await?;
    let headers = [
        ("x-telegram-bot-api-secret-token", SECRET),
        ("content-type", "application/json"),
    ];
    let r = inlet_simulators::request(
        Method::POST,
        &inlet.webhook("tg"),
        &headers,
        "{\"update_id\": ",
    )
    .await?;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("malformed JSON"), "{}", r.text());
    let r = inlet_simulators::request(Method::POST, &inlet.webhook("nope"), &headers, "{}").await?;
    assert_eq!(r.status, 404);
    assert!(inlet.events("tg").await?.is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn photos_and_documents_are_resolved_with_get_file_without_leaking_the_token(
) -> anyhow::Result<()> {
    let (sim, inlet) = setup(Limits::default()).await?;
    sim.add_file("PHOTO-1", "photos/file_7.jpg", vec![0u8; 2048]);
    sim.add_file("DOC-1", "documents/invoice.pdf", vec![1u8; 4096]);
    let photo = sim.update_photo(2001, CHAT, CHAT, "PHOTO-1", Some("the damage"));
    assert_eq!(
        sim.deliver(&inlet.webhook("tg"), Some(SECRET), &photo)
            .await?
            .0,
        200
    );
    let doc = sim.update_document(
        2002,
        CHAT,
        CHAT,
        "DOC-1",
        "invoice.pdf",
        "application/pdf",
        None,
    );
    assert_eq!(
        sim.deliver(&inlet.webhook("tg"), Some(SECRET), &doc)
            .await?
            .0,
        200
    );
    let events = inlet.events("tg").await?;
    assert_eq!(events.len(), 2);
    let image = &event(&events[0])["attachments"][0];
    assert_eq!(image["kind"], "image");
    assert_eq!(image["provider_ref"], "PHOTO-1");
    assert_eq!(image["size_bytes"], 2048);
    assert_eq!(image["filename"], "file_7.jpg");
    assert_eq!(event(&events[0])["text"], "the damage");
    let file = &event(&events[1])["attachments"][0];
    assert_eq!(file["kind"], "file");
    assert_eq!(file["mime_type"], "application/pdf");
    assert_eq!(file["filename"], "invoice.pdf");
    let all = serde_json::to_string(&events)?;
    assert!(
        !all.contains(TOKEN),
        "the bot token must never reach the inbox"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_button_tap_becomes_a_postback_and_is_acknowledged() -> anyhow::Result<()> {
    let (sim, inlet) = setup(Limits::default()).await?;
    let tap = sim.update_callback(3001, CHAT, CHAT, "cbq-1", "track_order", 10);
    assert_eq!(
        sim.deliver(&inlet.webhook("tg"), Some(SECRET), &tap)
            .await?
            .0,
        200
    );
    let events = inlet.events("tg").await?;
    let e = event(&events[0]);
    assert_eq!(e["type"], "postback");
    assert_eq!(e["payload"], "track_order");
    assert_eq!(e["label"], "Option track_order");
    assert_eq!(sim.answered_callbacks(), vec!["cbq-1".to_string()]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_message_refers_to_the_original() -> anyhow::Result<()> {
    let (sim, inlet) = setup(Limits::default()).await?;
    let original = sim.update_text(4001, CHAT, CHAT, "Ada", "helo");
    sim.deliver(&inlet.webhook("tg"), Some(SECRET), &original)
        .await?;
    let message_id = original["message"]["message_id"]
        .as_i64()
        .unwrap_or_default();
    let edit = sim.update_edited_text(4002, CHAT, CHAT, message_id, "hello");
    assert_eq!(
        sim.deliver(&inlet.webhook("tg"), Some(SECRET), &edit)
            .await?
            .0,
        200
    );
    let events = inlet.events("tg").await?;
    assert_eq!(events.len(), 2);
    let e = event(&events[1]);
    assert_eq!(e["type"], "edit");
    assert_eq!(e["text"], "hello");
    assert_eq!(e["message_ref"], event(&events[0])["provider_id"]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sending_text_with_buttons_and_a_reply_reaches_the_bot_api() -> anyhow::Result<()> {
    let (sim, inlet) = setup(Limits::default()).await?;
    let inbound = sim.update_text(5001, CHAT, CHAT, "Ada", "where is it?");
    sim.deliver(&inlet.webhook("tg"), Some(SECRET), &inbound)
        .await?;
    let reply_to = event(&inlet.events("tg").await?[0])["provider_id"].clone();
    let (status, sent) = inlet
        .api(
            Method::POST,
            "/channels/tg/messages",
            Some(json!({
                "conversation": CHAT.to_string(),
                "text": "It ships today. Anything else?",
                "reply_to": reply_to,
                "buttons": [{"id": "track", "title": "Track parcel", "description": null, "image_url": null, "url": null}],
                "quick_replies": [
                    {"id": "yes", "title": "Yes", "description": null, "image_url": null, "url": null},
                    {"id": "no", "title": "No", "description": null, "image_url": null, "url": null}
                ]
            })),
        )
        .await?;
    assert_eq!(status, 200, "{sent}");
    let calls = sim.sent();
    assert_eq!(calls.len(), 1);
    let body = &calls[0].body;
    assert_eq!(calls[0].method, "sendMessage");
    assert_eq!(body["text"], "It ships today. Anything else?");
    assert_eq!(
        body["reply_markup"]["inline_keyboard"][0][0]["callback_data"],
        "track"
    );
    assert_eq!(body["reply_markup"]["inline_keyboard"][1][1]["text"], "No");
    let original_id = reply_to
        .as_str()
        .and_then(|s| s.rsplit(':').next())
        .unwrap_or_default();
    assert_eq!(
        body["reply_parameters"]["message_id"].to_string(),
        original_id
    );
    assert_eq!(
        sent["provider_id"],
        format!("{CHAT}:{}", calls[0].message_id)
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sending_a_photo_uses_send_photo_with_the_text_as_caption() -> anyhow::Result<()> {
    let (sim, inlet) = setup(Limits::default()).await?;
    let (status, body) = inlet
        .api(
            Method::POST,
            "/channels/tg/messages",
            Some(json!({
                "conversation": CHAT.to_string(),
                "text": "Your label",
                "attachments": [{"kind": "image", "url": "https://cdn.example.com/label.png", "provider_ref": null,
                                 "mime_type": "image/png", "filename": null, "size_bytes": null, "caption": null}]
            })),
        )
        .await?;
    assert_eq!(status, 200, "{body}");
    let calls = sim.sent();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].method, "sendPhoto");
    assert_eq!(calls[0].body["photo"], "https://cdn.example.com/label.png");
    assert_eq!(calls[0].body["caption"], "Your label");
    Ok(())
}

async fn send_text(inlet: &Inlet, chat: i64) -> anyhow::Result<(u16, Value)> {
    inlet
        .api(
            Method::POST,
            "/channels/tg/messages",
            Some(json!({"conversation": chat.to_string(), "text": "hello"})),
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telegram_429_maps_to_rate_limited_with_retry_after() -> anyhow::Result<()> {
    let (sim, inlet) = setup(Limits::default()).await?;
    sim.fail_next(
        1,
        Fault::RateLimit {
            retry_after_secs: 7,
        },
    );
    let (status, body) = send_text(&inlet, CHAT).await?;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "rate_limited");
    assert_eq!(body["error"]["details"]["provider_code"], "429");
    let r = inlet_simulators::request(
        Method::POST,
        &inlet.url("/api/v1/channels/tg/messages"),
        &[
            (
                "authorization",
                &format!("Bearer {}", inlet_tests::ADMIN_TOKEN),
            ),
            ("content-type", "application/json"),
        ],
        json!({"conversation": CHAT.to_string(), "text": "again"}).to_string(),
    )
    .await?;
    assert_eq!(r.status, 200, "the fault was used up: {}", r.text());
    sim.fail_next(
        1,
        Fault::RateLimit {
            retry_after_secs: 7,
        },
    );
    let r = inlet_simulators::request(
        Method::POST,
        &inlet.url("/api/v1/channels/tg/messages"),
        &[
            (
                "authorization",
                &format!("Bearer {}", inlet_tests::ADMIN_TOKEN),
            ),
            ("content-type", "application/json"),
        ],
        json!({"conversation": CHAT.to_string(), "text": "again"}).to_string(),
    )
    .await?;
    assert_eq!(r.header("retry-after"), Some("7"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_bot_is_a_permanent_error_and_5xx_is_transient() -> anyhow::Result<()> {
    let (sim, inlet) = setup(Limits::default()).await?;
    sim.block_chat(CHAT);
    let (status, body) = send_text(&inlet, CHAT).await?;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "permanent");
    assert_eq!(body["error"]["details"]["provider_code"], "403");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("bot was blocked by the user"));
    sim.unblock_chat(CHAT);
    sim.fail_next(1, Fault::ServerError(502));
    let (status, body) = send_text(&inlet, CHAT).await?;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "transient");
    let (status, body) = send_text(&inlet, 424242).await?;
    assert_eq!(status, 400, "unknown chat: {body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("chat not found"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_provider_times_out_as_a_transient_error() -> anyhow::Result<()> {
    let limits = Limits {
        http_timeout_ms: 300,
        ..Limits::default()
    };
    let (sim, inlet) = setup(limits).await?;
    sim.fail_next(1, Fault::Delay(std::time::Duration::from_secs(2)));
    let (status, body) = send_text(&inlet, CHAT).await?;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("timeout"),
        "{body}"
    );
    Ok(())
}
