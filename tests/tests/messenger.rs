//! Facebook Messenger end to end: the compiled Messenger plugin in the real host against the
//! Send API simulator, which checks the Page token, validates bodies with Meta's limits,
//! enforces the 24-hour window and the 7-day `HUMAN_AGENT` window itself, and signs its
//! webhooks with the app secret.

use std::time::{Duration, Instant};

use http::Method;
use inlet::runtime::Limits;
use inlet_simulators::messenger::now_ms;
use inlet_simulators::{Fault, Faults, MessengerSim};
use inlet_tests::{messenger_channel, Inlet};
use serde_json::{json, Value};

const TOKEN: &str = "EAAB-page-access-token-e2e";
const APP_SECRET: &str = "meta-app-secret-messenger";
const VERIFY: &str = "verify-messenger";
const PAGE_ID: &str = "1477413399174235";
const CUSTOMER: &str = "6712934056201763";
const DAY_MS: u64 = 24 * 3_600_000;

async fn setup() -> anyhow::Result<(MessengerSim, Inlet)> {
    let sim = MessengerSim::start(TOKEN, APP_SECRET, PAGE_ID).await?;
    let inlet = Inlet::start(
        vec![messenger_channel("fb", &sim, APP_SECRET, VERIFY)],
        Limits::default(),
    )
    .await?;
    Ok((sim, inlet))
}

async fn deliver(sim: &MessengerSim, inlet: &Inlet, notification: &Value) -> anyhow::Result<()> {
    let (status, body) = sim
        .deliver(&inlet.webhook("fb"), notification, None)
        .await?;
    anyhow::ensure!(status == 200, "webhook answered {status}: {body}");
    Ok(())
}

/// The customer wrote `ago_ms` ago (Meta delivers the webhook now); returns the case.
async fn customer_wrote(
    sim: &MessengerSim,
    inlet: &Inlet,
    text: &str,
    ago_ms: u64,
) -> anyhow::Result<String> {
    deliver(
        sim,
        inlet,
        &sim.text_message_at(CUSTOMER, text, now_ms() - ago_ms),
    )
    .await?;
    let list = inlet.cases().await?;
    anyhow::ensure!(list.len() == 1, "one case expected: {list:?}");
    Ok(list[0]["id"].as_str().unwrap_or_default().to_string())
}

/// A live agent allowed on the channel; returns their token.
async fn agent_token(inlet: &Inlet) -> anyhow::Result<String> {
    let (status, body) = inlet
        .api(
            Method::POST,
            "/agents",
            Some(json!({"id": "mo", "name": "Mo", "channels": ["fb"], "skills": []})),
        )
        .await?;
    anyhow::ensure!(status == 200 || status == 201, "agent: {status} {body}");
    let (status, token) = inlet
        .api(
            Method::POST,
            "/tokens",
            Some(json!({"role": "agent", "agent": "mo"})),
        )
        .await?;
    anyhow::ensure!(status == 201, "token: {status} {token}");
    Ok(token["token"].as_str().unwrap_or_default().to_string())
}

fn choices(n: usize) -> Value {
    (1..=n)
        .map(|i| json!({"id": format!("opt-{i}"), "title": format!("Option {i}")}))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_verification_handshake_echoes_the_challenge_only_for_the_right_token(
) -> anyhow::Result<()> {
    let (sim, inlet) = setup().await?;
    let r = sim
        .verify_webhook(&inlet.webhook("fb"), VERIFY, "838123456")
        .await?;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), "838123456");
    let r = sim
        .verify_webhook(&inlet.webhook("fb"), "wrong-token", "838123456")
        .await?;
    assert_eq!(r.status, 401, "{}", r.text());
    assert!(!r.text().contains("838123456"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_text_opens_a_case_once_and_a_bad_signature_stores_nothing() -> anyhow::Result<()>
{
    let (sim, inlet) = setup().await?;
    let forged = sim.text_message(CUSTOMER, "forged");
    let (status, body) = sim
        .deliver(&inlet.webhook("fb"), &forged, Some("not-the-app-secret"))
        .await?;
    assert_eq!(status, 401, "{body}");
    assert!(
        body.contains("X-Hub-Signature-256 does not match"),
        "{body}"
    );
    let r = inlet_simulators::request(
        Method::POST,
        &inlet.webhook("fb"),
        &[("content-type", "application/json")],
        forged.to_string(),
    )
    .await?;
    assert_eq!(r.status, 401, "{}", r.text());
    assert!(inlet.events("fb").await?.is_empty());
    assert!(inlet.cases().await?.is_empty());

    let written = now_ms() - 90_000;
    let note = sim.text_message_at(CUSTOMER, "Wo bleibt mein Paket? 📦", written);
    deliver(&sim, &inlet, &note).await?;
    deliver(&sim, &inlet, &note).await?;
    // The Page's own echo is not a customer message.
    deliver(&sim, &inlet, &sim.echo(CUSTOMER, "we said this")).await?;
    let list = inlet.cases().await?;
    assert_eq!(list.len(), 1, "{list:?}");
    let case = list[0]["id"].as_str().unwrap_or_default();
    let (_, view) = inlet
        .api(Method::GET, &format!("/cases/{case}"), None)
        .await?;
    assert_eq!(view["messages"].as_array().map(Vec::len), Some(1), "{view}");
    assert_eq!(view["messages"][0]["text"], "Wo bleibt mein Paket? 📦");
    assert_eq!(
        view["messages"][0]["provider_id"],
        note["entry"][0]["messaging"][0]["message"]["mid"]
    );
    // The window runs from when the customer wrote, not from when the webhook arrived.
    let closes = view["window"]["closes_ms"].as_u64().unwrap_or_default();
    assert_eq!(closes, written + DAY_MS, "{}", view["window"]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_goes_out_as_response_and_the_read_watermark_marks_it_read() -> anyhow::Result<()> {
    let (sim, inlet) = setup().await?;
    let case = customer_wrote(&sim, &inlet, "hello", 60_000).await?;
    let (status, body) = inlet
        .reply(&case, json!({"text": "Hi! How can I help?"}))
        .await?;
    assert_eq!(status, 202, "{body}");
    let view = inlet
        .wait_for_case(&case, "the reply to be sent", |v| {
            v["messages"][1]["status"] == "sent"
        })
        .await?;
    let sent = sim.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].psid, CUSTOMER);
    assert_eq!(sent[0].messaging_type, "RESPONSE");
    assert_eq!(sent[0].tag, None);
    assert_eq!(sent[0].message, json!({"text": "Hi! How can I help?"}));
    assert_eq!(view["messages"][1]["provider_id"], sent[0].mid);

    deliver(&sim, &inlet, &sim.delivery(CUSTOMER, &[&sent[0].mid])).await?;
    inlet
        .wait_for_case(&case, "delivered", |v| {
            v["messages"][1]["status"] == "delivered"
        })
        .await?;
    deliver(&sim, &inlet, &sim.read(CUSTOMER)).await?;
    inlet
        .wait_for_case(&case, "read", |v| v["messages"][1]["status"] == "read")
        .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quick_replies_go_out_natively_and_more_than_13_as_numbered_text() -> anyhow::Result<()> {
    let (sim, inlet) = setup().await?;
    let case = customer_wrote(&sim, &inlet, "which plans are there?", 60_000).await?;
    let (status, body) = inlet
        .reply(
            &case,
            json!({"text": "Pick one", "quick_replies": choices(13)}),
        )
        .await?;
    assert_eq!(status, 202, "{body}");
    let (status, body) = inlet
        .reply(
            &case,
            json!({"text": "Or one of these", "quick_replies": choices(14)}),
        )
        .await?;
    assert_eq!(status, 202, "{body}");
    let view = inlet
        .wait_for_case(&case, "both replies to be sent", |v| {
            v["messages"][2]["status"] == "sent"
        })
        .await?;
    let sent = sim.sent();
    assert_eq!(sent.len(), 2);
    let quick = &sent[0].message["quick_replies"];
    assert_eq!(quick.as_array().map(Vec::len), Some(13));
    assert_eq!(
        quick[12],
        json!({"content_type": "text", "title": "Option 13", "payload": "opt-13"})
    );
    assert!(sent[1].message.get("quick_replies").is_none());
    let text = sent[1].message["text"].as_str().unwrap_or_default();
    assert!(text.starts_with("Or one of these"), "{text}");
    assert!(text.contains("14. Option 14"), "{text}");
    assert_eq!(
        view["messages"][2]["delivery_notes"],
        json!(["choices sent as numbered text"])
    );

    // The customer taps a native quick reply: the tap selects that option.
    deliver(
        &sim,
        &inlet,
        &sim.quick_reply(CUSTOMER, "Option 2", "opt-2"),
    )
    .await?;
    let view = inlet
        .wait_for_case(&case, "the tap", |v| {
            v["messages"].as_array().map(Vec::len) == Some(4)
        })
        .await?;
    assert_eq!(view["messages"][3]["postback"], "opt-2");
    assert_eq!(view["messages"][3]["text"], "Option 2");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bots_time_picker_is_quick_replies_up_to_13_slots_and_numbered_text_beyond(
) -> anyhow::Result<()> {
    let (sim, inlet) = setup().await?;
    let case = customer_wrote(&sim, &inlet, "when can I come in?", 60_000).await?;
    let picker = |n: u64| {
        let slots: Vec<Value> = (0..n)
            .map(|i| json!({"id": format!("s{i}"), "start_ms": 1_795_525_200_000u64 + i * 1_800_000, "duration_minutes": 30}))
            .collect();
        json!({"rich": {"type": "time-picker", "title": "Pick a time", "slots": slots, "time_zone": "Europe/Berlin"}})
    };
    for n in [13, 14] {
        let (status, body) = inlet.reply(&case, picker(n)).await?;
        assert_eq!(status, 202, "{body}");
    }
    inlet
        .wait_for_case(&case, "both pickers to be sent", |v| {
            v["messages"][2]["status"] == "sent"
        })
        .await?;
    let sent = sim.sent();
    assert_eq!(sent.len(), 2, "the 14-slot picker was adapted, not refused");
    let quick = sent[0].message["quick_replies"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(quick.len(), 13);
    assert_eq!(
        quick[0]["title"], "Tue 24 Nov 14:00",
        "local time in the picker's zone"
    );
    let text = sent[1].message["text"].as_str().unwrap_or_default();
    assert!(sent[1].message.get("quick_replies").is_none(), "{text}");
    assert!(text.contains("14. Tue 24 Nov, 20:30–21:00"), "{text}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postback_from_a_list_maps_back_to_the_option_id() -> anyhow::Result<()> {
    let (sim, inlet) = setup().await?;
    let case = customer_wrote(&sim, &inlet, "I want to upgrade", 60_000).await?;
    let list = json!({"text": "Which plan?", "rich": {"type": "list-picker", "title": "Plans",
        "button_label": "Choose", "multi_select": false,
        "sections": [{"title": null, "items": choices(4)}]}});
    let (status, body) = inlet.reply(&case, list).await?;
    assert_eq!(status, 202, "{body}");
    inlet
        .wait_for_case(&case, "the list to be sent", |v| {
            v["messages"][1]["status"] == "sent"
        })
        .await?;
    let sent = sim.sent();
    // The text, then a generic template with one postback button per row.
    assert_eq!(sent.len(), 2, "{sent:?}");
    let payload = &sent[1].message["attachment"]["payload"];
    assert_eq!(payload["template_type"], "generic");
    assert_eq!(payload["elements"].as_array().map(Vec::len), Some(4));
    let button = &payload["elements"][2]["buttons"][0];
    assert_eq!(button["type"], "postback");
    let tapped = button["payload"].as_str().unwrap_or_default();
    deliver(&sim, &inlet, &sim.postback(CUSTOMER, "Choose", tapped)).await?;
    let view = inlet
        .wait_for_case(&case, "the postback", |v| {
            v["messages"].as_array().map(Vec::len) == Some(3)
        })
        .await?;
    assert_eq!(view["messages"][2]["choices"], json!(["opt-3"]), "{view}");
    assert_eq!(inlet.cases().await?.len(), 1, "same case");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_days_on_an_agent_answers_with_the_human_agent_tag_and_a_bot_is_refused(
) -> anyhow::Result<()> {
    let (sim, inlet) = setup().await?;
    let token = agent_token(&inlet).await?;
    let case = customer_wrote(&sim, &inlet, "my order never came", 3 * DAY_MS).await?;
    let (_, view) = inlet
        .api(Method::GET, &format!("/cases/{case}"), None)
        .await?;
    assert_eq!(view["window"]["open"], false, "{}", view["window"]);
    assert_eq!(view["window"]["human_agent_tag"], "HUMAN_AGENT");
    assert_eq!(view["window"]["templates_only"], false);

    let (status, body) = inlet
        .reply(&case, json!({"text": "Automated follow-up"}))
        .await?;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "channel_policy");
    assert_eq!(
        body["error"]["message"],
        "the 24-hour messaging window closed: the customer last wrote 3 days ago; a human agent \
         may still answer (the 168-hour window for human agents is open)"
    );

    let (status, body) = inlet
        .reply_as(&token, &case, json!({"text": "Sorry! Resending today."}))
        .await?;
    assert_eq!(status, 202, "{body}");
    inlet
        .wait_for_case(&case, "the agent's reply to be sent", |v| {
            v["messages"][1]["status"] == "sent"
        })
        .await?;
    let sent = sim.sent();
    assert_eq!(sent.len(), 1, "only the agent's reply reached Messenger");
    assert_eq!(sent[0].messaging_type, "MESSAGE_TAG");
    assert_eq!(sent[0].tag.as_deref(), Some("HUMAN_AGENT"));
    assert_eq!(sent[0].message["text"], "Sorry! Resending today.");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_days_on_even_an_agent_is_refused() -> anyhow::Result<()> {
    let (sim, inlet) = setup().await?;
    let token = agent_token(&inlet).await?;
    let case = customer_wrote(&sim, &inlet, "hello?", 8 * DAY_MS).await?;
    let (status, body) = inlet
        .reply_as(&token, &case, json!({"text": "Still there?"}))
        .await?;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        body["error"]["message"],
        "the 24-hour messaging window closed: the customer last wrote 8 days ago, and the \
         168-hour window for human agents closed too"
    );
    assert!(sim.sent().is_empty());
    assert_eq!(sim.request_count(), 0, "nothing was even tried");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messenger_conversations_cannot_be_started_by_the_business() -> anyhow::Result<()> {
    let (sim, inlet) = setup().await?;
    let (status, body) = inlet
        .api(
            Method::POST,
            "/conversations",
            Some(json!({"channel": "fb", "to": CUSTOMER, "content": {"text": "Hello!"}})),
        )
        .await?;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        body["error"]["message"],
        "this channel allows no proactive outbound: the customer must write first"
    );
    assert!(sim.sent().is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_refusal_fails_with_metas_reason_and_can_be_retried() -> anyhow::Result<()> {
    let (sim, inlet) = setup().await?;
    let case = customer_wrote(&sim, &inlet, "hi", 60_000).await?;
    sim.make_unavailable(CUSTOMER, true);
    let (status, body) = inlet.reply(&case, json!({"text": "Hello?"})).await?;
    assert_eq!(status, 202, "{body}");
    let view = inlet
        .wait_for_case(&case, "the send to fail", |v| {
            v["messages"][1]["status"] == "failed"
        })
        .await?;
    let failure = view["messages"][1]["failure"].as_str().unwrap_or_default();
    assert!(failure.contains("permanent"), "{failure}");
    assert!(
        failure.contains("This person isn't available right now"),
        "{failure}"
    );
    assert!(failure.contains("provider code 551"), "{failure}");
    assert_eq!(sim.request_count(), 1, "a permanent error is not retried");

    sim.make_unavailable(CUSTOMER, false);
    let (status, body) = inlet
        .api(
            Method::POST,
            &format!("/cases/{case}/messages/2/retry"),
            None,
        )
        .await?;
    assert_eq!(status, 202, "{body}");
    let view = inlet
        .wait_for_case(&case, "the retried send", |v| {
            v["messages"][1]["status"] == "sent"
        })
        .await?;
    assert_eq!(view["messages"][1]["provider_id"], sim.sent()[0].mid);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_613_rate_limit_is_retried_and_delivered() -> anyhow::Result<()> {
    let (sim, inlet) = setup().await?;
    let case = customer_wrote(&sim, &inlet, "anyone?", 60_000).await?;
    sim.fail_next(
        1,
        Fault::RateLimit {
            retry_after_secs: 1,
        },
    );
    let (status, body) = inlet.reply(&case, json!({"text": "Yes, here."})).await?;
    assert_eq!(status, 202, "{body}");
    let started = Instant::now();
    loop {
        let (_, outbox) = inlet.api(Method::GET, "/outbox", None).await?;
        if outbox[0]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("rate limited") && e.contains("613"))
        {
            break;
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(20),
            "no rate-limit error recorded: {outbox}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let view = inlet
        .wait_for_case(&case, "delivery after 613", |v| {
            v["messages"][1]["status"] == "sent"
        })
        .await?;
    assert!(view["messages"][1]["failure"].is_null(), "{view}");
    assert_eq!(sim.pending_faults(), 0, "the 613 was really answered");
    assert_eq!(sim.request_count(), 2, "one refused call, one accepted");
    assert_eq!(sim.sent().len(), 1);
    Ok(())
}
