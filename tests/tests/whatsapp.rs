//! WhatsApp end to end: the compiled WhatsApp plugin in the real host against the Cloud API
//! simulator, which checks the bearer token, validates bodies with Meta's limits, enforces the
//! 24-hour customer-service window and signs its webhooks with the app secret.

use std::time::{Duration, Instant};

use http::Method;
use inlet::runtime::Limits;
use inlet_simulators::{Fault, Faults, WhatsAppSim};
use inlet_tests::{channel, Inlet};
use serde_json::{json, Value};

const TOKEN: &str = "EAAG-inlet-e2e-access-token";
const APP_SECRET: &str = "meta-app-secret-e2e";
const VERIFY: &str = "verify-me-please";
const NUMBER_ID: &str = "106540352242922";
const CUSTOMER: &str = "16315551181";

async fn setup() -> anyhow::Result<(WhatsAppSim, Inlet)> {
    let sim = WhatsAppSim::start(TOKEN, APP_SECRET, NUMBER_ID).await?;
    let base = sim.base_url();
    let inlet = Inlet::start(
        vec![channel(
            "wa",
            "whatsapp",
            &[
                ("access_token", TOKEN),
                ("app_secret", APP_SECRET),
                ("verify_token", VERIFY),
                ("phone_number_id", NUMBER_ID),
                ("api_base", &base),
                ("api_version", "v21.0"),
            ],
            &[&base],
        )],
        Limits::default(),
    )
    .await?;
    Ok((sim, inlet))
}

async fn deliver(sim: &WhatsAppSim, inlet: &Inlet, notification: &Value) -> anyhow::Result<()> {
    let (status, body) = sim
        .deliver(&inlet.webhook("wa"), notification, None)
        .await?;
    anyhow::ensure!(status == 200, "webhook answered {status}: {body}");
    Ok(())
}

/// The customer writes; returns the id of the case it landed in.
async fn customer_says(sim: &WhatsAppSim, inlet: &Inlet, text: &str) -> anyhow::Result<String> {
    deliver(
        sim,
        inlet,
        &sim.text_message(CUSTOMER, "Ada Lovelace", text),
    )
    .await?;
    let cases = inlet.cases().await?;
    anyhow::ensure!(cases.len() == 1, "one case expected: {cases:?}");
    Ok(cases[0]["id"].as_str().unwrap_or_default().to_string())
}

async fn reply(inlet: &Inlet, case: &str, content: Value) -> anyhow::Result<()> {
    let (status, body) = inlet.reply(case, content).await?;
    anyhow::ensure!(status == 202, "reply: {status} {body}");
    Ok(())
}

fn choice(id: &str, title: &str) -> Value {
    json!({"id": id, "title": title, "description": null, "image_url": null, "url": null})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metas_verification_handshake_echoes_the_challenge_only_for_the_right_token(
) -> anyhow::Result<()> {
    let (sim, inlet) = setup().await?;
    let r = sim
        .verify_webhook(&inlet.webhook("wa"), VERIFY, "1158201444")
        .await?;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), "1158201444");
    assert!(r
        .header("content-type")
        .unwrap_or_default()
        .starts_with("text/plain"));
    let r = sim
        .verify_webhook(&inlet.webhook("wa"), "guessed-token", "1158201444")
        .await?;
    assert_eq!(r.status, 401, "{}", r.text());
    assert!(!r.text().contains("1158201444"));
    assert!(inlet.events("wa").await?.is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_message_opens_a_case_once_even_when_meta_redelivers() -> anyhow::Result<()> {
    let (sim, inlet) = setup().await?;
    let note = sim.text_message(CUSTOMER, "Zoë Müller", "Wo bleibt mein Paket? 📦");
    deliver(&sim, &inlet, &note).await?;
    deliver(&sim, &inlet, &note).await?;
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
        note["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    );
    assert_eq!(view["contact"]["display_name"], "Zoë Müller");
    let events = inlet.events("wa").await?;
    assert_eq!(events[0]["event"]["conversation"], CUSTOMER);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_or_missing_signature_is_401_and_nothing_is_stored() -> anyhow::Result<()> {
    let (sim, inlet) = setup().await?;
    let note = sim.text_message(CUSTOMER, "Eve", "forged");
    let (status, body) = sim
        .deliver(&inlet.webhook("wa"), &note, Some("not-the-app-secret"))
        .await?;
    assert_eq!(status, 401, "{body}");
    assert!(
        body.contains("X-Hub-Signature-256 does not match"),
        "{body}"
    );
    let r = inlet_simulators::request(
        Method::POST,
        &inlet.webhook("wa"),
        &[("content-type", "application/json")],
        note.to_string(),
    )
    .await?;
    assert_eq!(r.status, 401);
    assert!(
        r.text().contains("missing X-Hub-Signature-256"),
        "{}",
        r.text()
    );
    // Unparseable JSON with a bad signature is still a 401: nothing is parsed before the check.
    let r = inlet_simulators::request(
        Method::POST,
        &inlet.webhook("wa"),
        &[("x-hub-signature-256", "sha256=00")],
        "{not json",
    )
    .await?;
    assert_eq!(r.status, 401);
    assert!(inlet.events("wa").await?.is_empty());
    assert!(inlet.cases().await?.is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_reply_with_buttons_reaches_whatsapp_and_the_tap_is_a_postback_on_the_case(
) -> anyhow::Result<()> {
    let (sim, inlet) = setup().await?;
    let case = customer_says(&sim, &inlet, "Can I change my delivery date?").await?;
    reply(
        &inlet,
        &case,
        json!({"text": "Sure. Which day suits you?",
               "quick_replies": [choice("mon", "Monday"), choice("tue", "Tuesday")]}),
    )
    .await?;
    let view = inlet
        .wait_for_case(&case, "the reply to be sent", |v| {
            v["messages"][1]["status"] == "sent"
        })
        .await?;
    let sent = sim.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, CUSTOMER);
    assert_eq!(sent[0].kind, "interactive");
    let interactive = &sent[0].body["interactive"];
    assert_eq!(interactive["body"]["text"], "Sure. Which day suits you?");
    assert_eq!(
        interactive["action"]["buttons"][1]["reply"],
        json!({"id": "tue", "title": "Tuesday"})
    );
    assert_eq!(view["messages"][1]["provider_id"], sent[0].id);

    let tap = sim.interactive_reply(
        CUSTOMER,
        "Ada Lovelace",
        &sent[0].id,
        "button_reply",
        "tue",
        "Tuesday",
    );
    deliver(&sim, &inlet, &tap).await?;
    let view = inlet
        .wait_for_case(&case, "the postback", |v| {
            v["messages"].as_array().map(Vec::len) == Some(3)
        })
        .await?;
    assert_eq!(view["messages"][2]["postback"], "tue");
    assert_eq!(view["messages"][2]["text"], "Tuesday");
    assert_eq!(
        inlet.cases().await?.len(),
        1,
        "the tap lands in the same case"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_webhooks_mark_the_reply_delivered_then_read() -> anyhow::Result<()> {
    let (sim, inlet) = setup().await?;
    let case = customer_says(&sim, &inlet, "hello").await?;
    reply(
        &inlet,
        &case,
        json!({"text": "Hi! See https://example.com/help"}),
    )
    .await?;
    inlet
        .wait_for_case(&case, "the reply to be sent", |v| {
            v["messages"][1]["status"] == "sent"
        })
        .await?;
    let sent = sim.sent();
    assert_eq!(
        sent[0].body["text"]["preview_url"], true,
        "a URL gets a preview"
    );
    let wamid = sent[0].id.clone();
    deliver(&sim, &inlet, &sim.status(&wamid, "delivered", None)).await?;
    inlet
        .wait_for_case(&case, "delivered", |v| {
            v["messages"][1]["status"] == "delivered"
        })
        .await?;
    deliver(&sim, &inlet, &sim.status(&wamid, "read", None)).await?;
    // A redelivered receipt changes nothing.
    deliver(&sim, &inlet, &sim.status(&wamid, "read", None)).await?;
    inlet
        .wait_for_case(&case, "read", |v| v["messages"][1]["status"] == "read")
        .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_whatsapp_is_down_or_throttling_the_reply_waits_with_its_error_then_goes_out(
) -> anyhow::Result<()> {
    let (sim, inlet) = setup().await?;
    let case = customer_says(&sim, &inlet, "anyone there?").await?;
    sim.set_down(true);
    reply(&inlet, &case, json!({"text": "Yes, one moment."})).await?;
    let started = Instant::now();
    loop {
        let (_, outbox) = inlet.api(Method::GET, "/outbox", None).await?;
        if outbox[0]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("transient") && e.contains("provider code 2"))
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
    assert_eq!(view["messages"][1]["status"], "queued");
    sim.set_down(false);
    inlet
        .wait_for_case(&case, "delivery after recovery", |v| {
            v["messages"][1]["status"] == "sent"
        })
        .await?;

    sim.fail_next(
        1,
        Fault::RateLimit {
            retry_after_secs: 2,
        },
    );
    reply(&inlet, &case, json!({"text": "Done."})).await?;
    let started = Instant::now();
    loop {
        let (_, outbox) = inlet.api(Method::GET, "/outbox", None).await?;
        if outbox[0]["last_error"].as_str().is_some_and(|e| {
            e.contains("rate limited") && e.contains("130429") && e.contains("2000")
        }) {
            break;
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(20),
            "no rate-limit error recorded: {outbox}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let view = inlet
        .wait_for_case(&case, "delivery after 429", |v| {
            v["messages"][2]["status"] == "sent"
        })
        .await?;
    assert!(view["messages"][2]["failure"].is_null(), "{view}");
    assert_eq!(sim.pending_faults(), 0, "the 429 was really hit");
    assert_eq!(sim.sent().len(), 2);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whatsapp_reply_after_the_24_hour_window_is_refused_with_a_clear_error(
) -> anyhow::Result<()> {
    let (sim, inlet) = setup().await?;
    let case = customer_says(&sim, &inlet, "I'll get back to you").await?;
    // A day and more passes without the customer writing.
    sim.close_window(CUSTOMER);
    reply(&inlet, &case, json!({"text": "Did that work out?"})).await?;
    let view = inlet
        .wait_for_case(&case, "the send to fail", |v| {
            v["messages"][1]["status"] == "failed"
        })
        .await?;
    let failure = view["messages"][1]["failure"].as_str().unwrap_or_default();
    assert!(failure.contains("131047"), "{failure}");
    assert!(failure.contains("Re-engagement message"), "{failure}");
    assert!(failure.contains("24 hours"), "{failure}");
    assert!(sim.sent().is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_limit_buttons_are_a_bad_request_naming_the_limit() -> anyhow::Result<()> {
    let (sim, inlet) = setup().await?;
    customer_says(&sim, &inlet, "hi").await?;
    let (status, body) = inlet
        .api(
            Method::POST,
            "/channels/wa/messages",
            Some(json!({"conversation": CUSTOMER, "text": "Pick one",
                        "quick_replies": [choice("a", "A"), choice("b", "B"), choice("c", "C"), choice("d", "D")]})),
        )
        .await?;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("at most 3"),
        "{body}"
    );
    assert!(sim.sent().is_empty(), "nothing reached WhatsApp");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_the_window_an_approved_template_goes_out_and_an_unknown_one_fails(
) -> anyhow::Result<()> {
    let (sim, inlet) = setup().await?;
    sim.register_template("order_update", "en_US", 2);
    let case = customer_says(&sim, &inlet, "where is order 4711?").await?;
    sim.close_window(CUSTOMER);
    let template = |name: &str| {
        json!({"text": "Your order shipped",
               "rich": {"type": "template", "name": name, "language": "en_US",
                        "parameters": ["Ada", "4711"]}})
    };
    reply(&inlet, &case, template("order_update")).await?;
    let view = inlet
        .wait_for_case(&case, "the template to be sent", |v| {
            v["messages"][1]["status"] == "sent"
        })
        .await?;
    let sent = sim.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].kind, "template");
    assert_eq!(sent[0].body["template"]["name"], "order_update");
    assert_eq!(view["messages"][1]["provider_id"], sent[0].id);
    reply(&inlet, &case, template("not_approved")).await?;
    let view = inlet
        .wait_for_case(&case, "the unknown template to fail", |v| {
            v["messages"][2]["status"] == "failed"
        })
        .await?;
    let failure = view["messages"][2]["failure"].as_str().unwrap_or_default();
    assert!(failure.contains("132001"), "{failure}");
    Ok(())
}
