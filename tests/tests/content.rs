//! Rich content end to end: one message authored once reaches Telegram and SMS in the best form
//! each shows; customers' typed answers map back to the options; proactive conversations follow
//! each channel's policy; saved rich messages; dead letters. Real plugins, real simulators.

use std::time::{Duration, Instant};

use http::Method;
use inlet::runtime::Limits;
use inlet_simulators::{TelegramSim, TwilioSim};
use inlet_tests::{telegram_channel, twilio_channel, Inlet};
use serde_json::{json, Value};

const TG_TOKEN: &str = "123456:AAH-content-test";
const TG_SECRET: &str = "content-secret";
const CHAT: i64 = 7770001;
const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TW_TOKEN: &str = "twilio-auth-token-secret";
const OURS: &str = "+14155550100";
const CUSTOMER: &str = "+14155550199";

struct World {
    tg: TelegramSim,
    sms: TwilioSim,
    inlet: Inlet,
}

async fn setup() -> anyhow::Result<World> {
    let tg = TelegramSim::start(TG_TOKEN).await?;
    tg.add_chat(CHAT);
    let sms = TwilioSim::start(SID, TW_TOKEN).await?;
    sms.add_number(OURS);
    let inlet = Inlet::start(
        vec![
            telegram_channel("tg", &tg, TG_SECRET),
            twilio_channel("sms", &sms, TW_TOKEN, OURS),
        ],
        Limits::default(),
    )
    .await?;
    Ok(World { tg, sms, inlet })
}

impl World {
    async fn telegram_says(&self, update_id: i64, text: &str) -> anyhow::Result<String> {
        let update = self.tg.update_text(update_id, CHAT, CHAT, "Ada", text);
        let (status, body) = self
            .tg
            .deliver(&self.inlet.webhook("tg"), Some(TG_SECRET), &update)
            .await?;
        anyhow::ensure!(status == 200, "webhook answered {status}: {body}");
        self.case_of("tg").await
    }

    async fn sms_says(&self, sid: &str, text: &str) -> anyhow::Result<String> {
        let params = self.sms.inbound_sms(sid, CUSTOMER, OURS, text, &[]);
        let (status, body) = self
            .sms
            .deliver(&self.inlet.webhook("sms"), &params, None)
            .await?;
        anyhow::ensure!(status == 200, "webhook answered {status}: {body}");
        self.case_of("sms").await
    }

    async fn case_of(&self, channel: &str) -> anyhow::Result<String> {
        let (_, list) = self
            .inlet
            .api(Method::GET, &format!("/cases?channel={channel}"), None)
            .await?;
        list["cases"][0]["id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| anyhow::anyhow!("no case on {channel}: {list}"))
    }

    async fn reply(&self, case: &str, body: Value) -> anyhow::Result<(u16, Value)> {
        self.inlet
            .api(Method::POST, &format!("/cases/{case}/replies"), Some(body))
            .await
    }

    async fn wait_for<F: Fn(&Value) -> bool>(
        &self,
        case: &str,
        what: &str,
        f: F,
    ) -> anyhow::Result<Value> {
        let started = Instant::now();
        loop {
            let (_, view) = self
                .inlet
                .api(Method::GET, &format!("/cases/{case}"), None)
                .await?;
            if f(&view) {
                return Ok(view);
            }
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(20),
                "timed out waiting for {what}: {view}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn last_message(view: &Value) -> &Value {
    view["messages"]
        .as_array()
        .and_then(|m| m.last())
        .unwrap_or(&Value::Null)
}

fn choices(n: usize) -> Value {
    (1..=n)
        .map(|i| json!({"id": format!("dept-{i}"), "title": format!("Department {i}")}))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quick_replies_become_telegram_buttons_and_numbered_sms_and_answers_map_back(
) -> anyhow::Result<()> {
    let w = setup().await?;
    let content = json!({"content": {"text": "Which department?", "quick_replies": choices(3)}});

    // Telegram declares inline buttons but no quick replies: the choices become buttons.
    let tg_case = w.telegram_says(1, "I need help").await?;
    let (status, body) = w.reply(&tg_case, content.clone()).await?;
    assert_eq!(status, 202, "{body}");
    w.wait_for(&tg_case, "the Telegram reply", |v| {
        last_message(v)["status"] == "sent"
    })
    .await?;
    let sent = w.tg.sent();
    let keyboard = &sent.last().expect("sent").body["reply_markup"]["inline_keyboard"];
    assert_eq!(keyboard[1][0]["text"], "Department 2");
    assert_eq!(keyboard[1][0]["callback_data"], "dept-2");
    let view = w
        .wait_for(&tg_case, "notes", |v| last_message(v)["status"] == "sent")
        .await?;
    assert_eq!(
        last_message(&view)["delivery_notes"],
        json!(["quick replies sent as buttons"])
    );

    // SMS shows only text: numbered options; the customer answers "2".
    let sms_case = w
        .sms_says("SM10000000000000000000000000000001", "hello")
        .await?;
    let (status, body) = w.reply(&sms_case, content).await?;
    assert_eq!(status, 202, "{body}");
    w.wait_for(&sms_case, "the SMS reply", |v| {
        last_message(v)["provider_id"].is_string()
    })
    .await?;
    let sms = w.sms.sent();
    assert_eq!(
        sms.last().expect("sent").body,
        "Which department?\n\n1. Department 1\n2. Department 2\n3. Department 3\nReply with the number or the name of your choice."
    );
    w.sms_says("SM10000000000000000000000000000002", "2")
        .await?;
    let view = w
        .wait_for(&sms_case, "the answer", |v| {
            last_message(v)["direction"] == "inbound" && last_message(v)["text"] == "2"
        })
        .await?;
    assert_eq!(last_message(&view)["choices"], json!(["dept-2"]));
    w.sms_says("SM10000000000000000000000000000003", "department 3")
        .await?;
    let view = w
        .wait_for(&sms_case, "the typed label", |v| {
            last_message(v)["text"] == "department 3"
        })
        .await?;
    assert_eq!(last_message(&view)["choices"], json!(["dept-3"]));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_adaptive_card_reaches_sms_as_text_and_long_text_as_ordered_parts() -> anyhow::Result<()>
{
    let w = setup().await?;
    let case = w
        .sms_says("SM20000000000000000000000000000001", "status?")
        .await?;
    let card = json!({"type": "AdaptiveCard", "version": "1.5", "body": [
        {"type": "TextBlock", "text": "Order **#123**"},
        {"type": "FactSet", "facts": [{"title": "Status", "value": "Shipped"}]}],
        "actions": [{"type": "Action.Submit", "title": "Track", "data": "track-123"}]});
    let (status, body) = w
        .reply(
            &case,
            json!({"content": {"rich": {"type": "adaptive-card", "json": card.to_string()}}}),
        )
        .await?;
    assert_eq!(status, 202, "{body}");
    // The inbox keeps a plain-text form, derived because the author wrote none.
    assert!(
        body["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("Order #123\nStatus: Shipped")),
        "{body}"
    );
    w.wait_for(&case, "the card", |v| {
        last_message(v)["provider_id"].is_string()
    })
    .await?;
    assert_eq!(
        w.sms.sent().last().expect("sent").body,
        "Order #123\nStatus: Shipped\n\n1. Track\nReply with the number or the name of your choice."
    );

    // 4,000 characters exceed Twilio's 1,600: three messages, in order, nothing cut.
    let words: Vec<String> = (0..500).map(|i| format!("w{i:05}")).collect();
    let long = words.join(" ");
    let (status, _) = w.reply(&case, json!({"content": {"text": long}})).await?;
    assert_eq!(status, 202);
    w.wait_for(&case, "the long text", |v| {
        last_message(v)["provider_id"].is_string()
    })
    .await?;
    let bodies: Vec<String> = w
        .sms
        .sent()
        .iter()
        .skip(1)
        .map(|s| s.body.clone())
        .collect();
    assert_eq!(bodies.len(), 3, "{bodies:?}");
    assert!(bodies.iter().all(|b| b.chars().count() <= 1600));
    assert_eq!(bodies.join(" "), long);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proactive_conversations_follow_each_channels_policy() -> anyhow::Result<()> {
    let w = setup().await?;
    // Telegram bots may only answer: refused, and nothing is created.
    let (status, body) = w
        .inlet
        .api(
            Method::POST,
            "/conversations",
            Some(json!({"channel": "tg", "to": CHAT.to_string(), "content": {"text": "Hi!"}})),
        )
        .await?;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "channel_policy");
    assert!(body["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("no proactive outbound")));
    let (_, list) = w.inlet.api(Method::GET, "/cases", None).await?;
    assert_eq!(list["cases"], json!([]), "a refused message leaves no case");

    // SMS allows it: a pending case, the message delivered.
    let (status, body) = w
        .inlet
        .api(
            Method::POST,
            "/conversations",
            Some(
                json!({"channel": "sms", "to": CUSTOMER, "display_name": "Ana",
                        "content": {"text": "Your appointment is tomorrow at 10:00."}}),
            ),
        )
        .await?;
    assert_eq!(status, 202, "{body}");
    let case = body["case"]["id"].as_str().unwrap_or_default().to_string();
    assert_eq!(
        body["case"]["status"], "pending",
        "waiting for the customer"
    );
    w.wait_for(&case, "the proactive SMS", |v| {
        last_message(v)["provider_id"].is_string()
    })
    .await?;
    let sent = w.sms.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, CUSTOMER);
    // The customer's answer lands in the same case.
    let answered = w
        .sms_says("SM30000000000000000000000000000001", "Thanks, see you")
        .await?;
    assert_eq!(answered, case);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saved_rich_messages_are_offered_where_the_channel_can_show_them() -> anyhow::Result<()> {
    let w = setup().await?;
    let greeting = json!({"id": "greeting", "name": "Greeting",
        "content": {"text": "Hello {{contact.name}}, this is {{agent.name}}. Your order {{order}} is on its way."}});
    let (status, body) = w
        .inlet
        .api(Method::POST, "/rich-messages", Some(greeting))
        .await?;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body["variables"],
        json!(["agent.name", "contact.name", "order"])
    );
    let picker = json!({"id": "pick-dept", "name": "Departments",
        "content": {"rich": {"type": "list-picker", "title": "Departments", "button_label": "Choose",
                    "multi_select": false, "sections": [{"title": null, "items": choices(4)}]}}});
    assert_eq!(
        w.inlet
            .api(Method::POST, "/rich-messages", Some(picker))
            .await?
            .0,
        201
    );
    let bad = json!({"id": "bad", "name": "Bad", "content": {"text": "x", "quick_replies": [{"id": "", "title": "A"}]}});
    let (status, body) = w
        .inlet
        .api(Method::POST, "/rich-messages", Some(bad))
        .await?;
    assert_eq!(status, 422);
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("quick_replies[0].id")),
        "{body}"
    );

    // SMS offers no list picker to anyone: only the greeting is listed.
    let case = w
        .sms_says("SM40000000000000000000000000000001", "hi")
        .await?;
    let (_, offered) = w
        .inlet
        .api(Method::GET, &format!("/cases/{case}/rich-messages"), None)
        .await?;
    let ids: Vec<&str> = offered
        .as_array()
        .map(|a| a.iter().filter_map(|m| m["id"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(ids, ["greeting"]);

    // Sending it needs every variable that is not built in (contact.name, agent.name, ...).
    let (status, body) = w.reply(&case, json!({"rich_message": "greeting"})).await?;
    assert_eq!(status, 422);
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m == "variables without a value: order"),
        "{body}"
    );
    let (status, body) = w
        .reply(
            &case,
            json!({"rich_message": "greeting", "variables": {"order": "#77", "agent.name": "Bo"}}),
        )
        .await?;
    assert_eq!(status, 202, "{body}");
    w.wait_for(&case, "the saved message", |v| {
        last_message(v)["provider_id"].is_string()
    })
    .await?;
    assert_eq!(
        w.sms.sent().last().expect("sent").body,
        "Hello , this is Bo. Your order #77 is on its way."
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_failure_is_a_dead_letter_until_retried() -> anyhow::Result<()> {
    let w = setup().await?;
    let case = w
        .sms_says("SM50000000000000000000000000000001", "STOP?")
        .await?;
    w.sms.unsubscribe(CUSTOMER);
    let (status, _) = w
        .reply(
            &case,
            json!({"content": {"text": "We are sorry to see you go"}}),
        )
        .await?;
    assert_eq!(status, 202);
    let view = w
        .wait_for(&case, "the failure", |v| {
            last_message(v)["status"] == "failed"
        })
        .await?;
    let failed = last_message(&view);
    assert!(
        failed["failure"]
            .as_str()
            .is_some_and(|f| f.contains("21610")),
        "{failed}"
    );
    let (_, dead) = w.inlet.api(Method::GET, "/outbox/dead", None).await?;
    assert_eq!(dead.as_array().map(Vec::len), Some(1), "{dead}");
    assert!(dead[0]["last_error"]
        .as_str()
        .is_some_and(|e| e.contains("21610")));

    w.sms.resubscribe(CUSTOMER);
    let seq = failed["seq"].as_u64().unwrap_or_default();
    let (status, body) = w
        .inlet
        .api(
            Method::POST,
            &format!("/cases/{case}/messages/{seq}/retry"),
            None,
        )
        .await?;
    assert_eq!(status, 202, "{body}");
    w.wait_for(&case, "the retried message", |v| {
        last_message(v)["status"] == "queued" || last_message(v)["status"] == "sent"
    })
    .await?;
    let (_, dead) = w.inlet.api(Method::GET, "/outbox/dead", None).await?;
    assert_eq!(dead, json!([]));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_show_what_each_audience_can_send() -> anyhow::Result<()> {
    let w = setup().await?;
    let (_, tg) = w.inlet.api(Method::GET, "/channels/tg", None).await?;
    let rich = &tg["rich_content"];
    for audience in ["automation", "agent"] {
        for kind in [
            "adaptive-card",
            "formatted-text",
            "rich-link",
            "quick-replies",
            "list-picker",
            "time-picker",
            "form",
        ] {
            assert_eq!(rich[audience][kind], "no", "{audience} {kind}: {rich}");
        }
    }
    Ok(())
}
