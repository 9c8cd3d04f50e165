//! Messaging windows and rich content on WhatsApp, end to end: the host refuses a free-form
//! answer once the 24-hour window has closed (before WhatsApp would), shows the time left on
//! the case, lets approved templates through, starts conversations only with templates, and
//! adapts rich content to WhatsApp's limits per audience.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::Method;
use inlet::runtime::Limits;
use inlet_simulators::WhatsAppSim;
use inlet_tests::{channel, Inlet};
use serde_json::{json, Value};

const TOKEN: &str = "EAAG-inlet-windows-token";
const APP_SECRET: &str = "meta-app-secret-windows";
const NUMBER_ID: &str = "106540352242922";
const CUSTOMER: &str = "16315551181";
const HOUR: u64 = 3600;

async fn setup() -> anyhow::Result<(WhatsAppSim, Inlet)> {
    let sim = WhatsAppSim::start(TOKEN, APP_SECRET, NUMBER_ID).await?;
    sim.register_template("order_update", "en_US", 2);
    let base = sim.base_url();
    let inlet = Inlet::start(
        vec![channel(
            "wa",
            "whatsapp",
            &[
                ("access_token", TOKEN),
                ("app_secret", APP_SECRET),
                ("verify_token", "verify"),
                ("phone_number_id", NUMBER_ID),
                ("api_base", &base),
            ],
            &[&base],
        )],
        Limits::default(),
    )
    .await?;
    Ok((sim, inlet))
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// The customer wrote `ago` seconds ago (Meta delivers the notification now); returns the case.
async fn customer_wrote(
    sim: &WhatsAppSim,
    inlet: &Inlet,
    text: &str,
    ago: u64,
) -> anyhow::Result<String> {
    let note = sim.text_message_at(CUSTOMER, "Ada", text, unix_now() - ago);
    let (status, body) = sim.deliver(&inlet.webhook("wa"), &note, None).await?;
    anyhow::ensure!(status == 200, "webhook answered {status}: {body}");
    let (_, list) = inlet.api(Method::GET, "/cases", None).await?;
    list["cases"][0]["id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow::anyhow!("no case: {list}"))
}

async fn reply(inlet: &Inlet, case: &str, body: Value) -> anyhow::Result<(u16, Value)> {
    inlet
        .api(Method::POST, &format!("/cases/{case}/replies"), Some(body))
        .await
}

async fn wait_sent(sim: &WhatsAppSim, n: usize) -> anyhow::Result<()> {
    let started = Instant::now();
    while sim.sent().len() < n {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(20),
            "timed out waiting for {n} sent messages: {:?}",
            sim.sent()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

fn template() -> Value {
    json!({"rich": {"type": "template", "name": "order_update", "language": "en_US",
                    "parameters": ["4711", "Friday"]}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_the_24_hour_window_only_a_template_is_accepted() -> anyhow::Result<()> {
    let (sim, inlet) = setup().await?;
    let case = customer_wrote(&sim, &inlet, "where is my order?", 25 * HOUR).await?;
    let (_, view) = inlet
        .api(Method::GET, &format!("/cases/{case}"), None)
        .await?;
    assert_eq!(view["window"]["open"], false, "{}", view["window"]);
    assert_eq!(view["window"]["remaining_ms"], 0);
    assert_eq!(view["window"]["templates_only"], true);

    let (status, body) = reply(
        &inlet,
        &case,
        json!({"content": {"text": "Sorry for the wait"}}),
    )
    .await?;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "channel_policy");
    assert_eq!(
        body["error"]["message"],
        "the 24-hour messaging window closed: the customer last wrote 25 hours ago; only an approved template can be sent now"
    );
    let (_, view) = inlet
        .api(Method::GET, &format!("/cases/{case}"), None)
        .await?;
    assert_eq!(
        view["messages"].as_array().map(Vec::len),
        Some(1),
        "nothing queued"
    );

    let (status, body) = reply(&inlet, &case, json!({"content": template()})).await?;
    assert_eq!(status, 202, "{body}");
    wait_sent(&sim, 1).await?;
    let sent = &sim.sent()[0];
    assert_eq!(sent.kind, "template");
    assert_eq!(sent.body["template"]["name"], "order_update");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn within_the_window_the_case_shows_the_time_left() -> anyhow::Result<()> {
    let (sim, inlet) = setup().await?;
    let case = customer_wrote(&sim, &inlet, "hello", 2 * HOUR).await?;
    let (_, view) = inlet
        .api(Method::GET, &format!("/cases/{case}"), None)
        .await?;
    let window = &view["window"];
    assert_eq!(window["open"], true, "{window}");
    let left = window["remaining_ms"].as_u64().unwrap_or_default();
    assert!(
        (21 * HOUR * 1000..=22 * HOUR * 1000).contains(&left),
        "about 22 hours left: {left}"
    );
    let (status, body) = reply(&inlet, &case, json!({"content": {"text": "Hi Ada!"}})).await?;
    assert_eq!(status, 202, "{body}");
    wait_sent(&sim, 1).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whatsapp_conversations_start_only_with_a_template() -> anyhow::Result<()> {
    let (sim, inlet) = setup().await?;
    let (status, body) = inlet
        .api(
            Method::POST,
            "/conversations",
            Some(json!({"channel": "wa", "to": CUSTOMER, "content": {"text": "Hello!"}})),
        )
        .await?;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("only with an approved template")));
    let (status, body) = inlet
        .api(
            Method::POST,
            "/conversations",
            Some(json!({"channel": "wa", "to": CUSTOMER, "content": template()})),
        )
        .await?;
    assert_eq!(status, 202, "{body}");
    wait_sent(&sim, 1).await?;
    assert_eq!(sim.sent()[0].kind, "template");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rich_content_fits_whatsapps_limits_for_each_audience() -> anyhow::Result<()> {
    let (sim, inlet) = setup().await?;
    let case = customer_wrote(&sim, &inlet, "I want to book", 60).await?;
    // Six quick replies: more than WhatsApp's three reply buttons, so a list.
    let options: Vec<Value> = (1..=6)
        .map(|i| json!({"id": format!("opt-{i}"), "title": format!("Option number {i} with a long title")}))
        .collect();
    let (status, body) = reply(
        &inlet,
        &case,
        json!({"content": {"format": "markdown", "formatted": "Pick **one**:", "quick_replies": options}}),
    )
    .await?;
    assert_eq!(status, 202, "{body}");
    wait_sent(&sim, 1).await?;
    let list = &sim.sent()[0].body;
    assert_eq!(list["interactive"]["type"], "list", "{list}");
    assert_eq!(list["interactive"]["body"]["text"], "Pick *one*:");
    let rows = &list["interactive"]["action"]["sections"][0]["rows"];
    assert_eq!(rows.as_array().map(Vec::len), Some(6));
    assert_eq!(rows[0]["title"], "Option number 1 with a…");
    assert_eq!(rows[0]["id"], "opt-1");

    // A time picker: native for bots (the plugin's interactive list), a host-built list of
    // slots in local time for agents (Table B has no time picker for WhatsApp).
    let picker = json!({"rich": {"type": "time-picker", "title": "Pick a time", "time_zone": "Europe/Berlin",
        "location": null, "slots": [{"id": "s1", "start_ms": 1_795_525_200_000u64, "duration_minutes": 30}]}});
    let (status, body) = reply(&inlet, &case, json!({"content": picker})).await?;
    assert_eq!(status, 202, "{body}");
    let (status, body) = inlet
        .api(
            Method::POST,
            "/agents",
            Some(json!({"id": "bo", "name": "Bo", "channels": ["wa"], "skills": []})),
        )
        .await?;
    assert!(status == 200 || status == 201, "{body}");
    let (status, token) = inlet
        .api(
            Method::POST,
            "/tokens",
            Some(json!({"role": "agent", "agent": "bo"})),
        )
        .await?;
    let agent_token = token["token"].as_str().unwrap_or_default().to_string();
    assert_eq!(status, 201, "{token}");
    let (status, body) = inlet
        .api_as(
            &agent_token,
            Method::POST,
            &format!("/cases/{case}/replies"),
            Some(json!({"content": picker})),
        )
        .await?;
    assert_eq!(status, 202, "{body}");
    wait_sent(&sim, 3).await?;
    let sent = sim.sent();
    let bot_rows = &sent[1].body["interactive"]["action"]["sections"][0]["rows"];
    let agent_rows = &sent[2].body["interactive"]["action"]["sections"][0]["rows"];
    assert_eq!(bot_rows[0]["id"], "s1");
    assert_eq!(
        bot_rows[0]["title"], "Tue 24 Nov 14:00",
        "Berlin time, by the plugin"
    );
    assert_eq!(agent_rows[0]["id"], "s1");
    assert_eq!(agent_rows[0]["title"], "Tue 24 Nov, 14:00–14:30");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_that_waited_past_the_window_is_not_sent_and_becomes_a_dead_letter(
) -> anyhow::Result<()> {
    let (sim, inlet) = setup().await?;
    let case = customer_wrote(&sim, &inlet, "hello?", 25 * HOUR).await?;
    // While the channel is stopped the host cannot ask the plugin about its window: the reply
    // is accepted and waits in the outbox.
    let (status, body) = inlet
        .api(
            Method::PATCH,
            "/channels/wa",
            Some(json!({"enabled": false})),
        )
        .await?;
    assert_eq!(status, 200, "{body}");
    let (status, body) = reply(
        &inlet,
        &case,
        json!({"content": {"text": "Sorry for the wait"}}),
    )
    .await?;
    assert_eq!(status, 202, "{body}");
    let (status, body) = inlet
        .api(
            Method::PATCH,
            "/channels/wa",
            Some(json!({"enabled": true})),
        )
        .await?;
    assert_eq!(status, 200, "{body}");
    // Delivery checks the window again before sending: refused, never sent.
    let started = Instant::now();
    let failed = loop {
        let (_, view) = inlet
            .api(Method::GET, &format!("/cases/{case}"), None)
            .await?;
        let last = view["messages"][1].clone();
        if last["status"] == "failed" {
            break last;
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(30),
            "timed out waiting for the refusal: {view}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let failure = failed["failure"].as_str().unwrap_or_default();
    assert!(
        failure.starts_with("not sent: the 24-hour messaging window closed"),
        "{failure}"
    );
    assert!(sim.sent().is_empty(), "nothing reached WhatsApp");
    let (_, dead) = inlet.api(Method::GET, "/outbox/dead", None).await?;
    assert_eq!(dead.as_array().map(Vec::len), Some(1), "{dead}");
    Ok(())
}
