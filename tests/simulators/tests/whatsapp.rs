//! The WhatsApp Cloud API simulator over real HTTP: bearer auth with Graph's error shape,
//! Meta's limits, the 24-hour window, templates, faults, and signed webhooks. It must refuse
//! what Meta refuses.

mod common;

use std::time::{Duration, Instant};

use common::Receiver;
use http::Method;
use inlet_simulators::whatsapp::{meta_json, signature};
use inlet_simulators::{request, Fault, Faults, HttpResponse, WhatsAppSim};
use serde_json::{json, Value};

const TOKEN: &str = "EAAG-test-access-token";
const SECRET: &str = "meta-app-secret";
const NUMBER_ID: &str = "106540352242922";
const CUSTOMER: &str = "16315551181";

async fn sim() -> anyhow::Result<WhatsAppSim> {
    let sim = WhatsAppSim::start(TOKEN, SECRET, NUMBER_ID).await?;
    // The customer wrote a moment ago: the window is open.
    sim.text_message(CUSTOMER, "Ada", "hi");
    Ok(sim)
}

async fn send_as(sim: &WhatsAppSim, token: &str, body: &Value) -> anyhow::Result<HttpResponse> {
    let auth = format!("Bearer {token}");
    request(
        Method::POST,
        &sim.messages_url(),
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        body.to_string(),
    )
    .await
}

async fn send(sim: &WhatsAppSim, body: &Value) -> anyhow::Result<HttpResponse> {
    send_as(sim, TOKEN, body).await
}

fn message(kind: &str, part: Value) -> Value {
    json!({"messaging_product": "whatsapp", "recipient_type": "individual",
           "to": CUSTOMER, "type": kind, kind: part})
}

async fn assert_refused(
    sim: &WhatsAppSim,
    body: Value,
    code: u32,
    needle: &str,
) -> anyhow::Result<()> {
    let r = send(sim, &body).await?;
    assert!(r.status >= 400, "{body} was accepted: {}", r.text());
    let err = r.json()?;
    assert_eq!(err["error"]["code"], code, "{body} -> {err}");
    assert_eq!(err["error"]["type"], "OAuthException");
    assert!(err["error"]["fbtrace_id"].is_string());
    let all = err["error"].to_string();
    assert!(all.contains(needle), "{needle:?} not in {all}");
    Ok(())
}

#[tokio::test]
async fn a_text_inside_the_window_is_accepted_and_recorded() -> anyhow::Result<()> {
    let sim = sim().await?;
    let r = send(
        &sim,
        &message("text", json!({"body": "Hello", "preview_url": false})),
    )
    .await?;
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json()?;
    assert_eq!(body["messaging_product"], "whatsapp");
    assert_eq!(body["contacts"][0]["wa_id"], CUSTOMER);
    let id = body["messages"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(id.starts_with("wamid."), "{id}");
    let sent = sim.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (sent[0].id.as_str(), sent[0].kind.as_str()),
        (id.as_str(), "text")
    );
    assert_eq!(sent[0].body["text"]["body"], "Hello");
    Ok(())
}

#[tokio::test]
async fn a_wrong_token_gets_401_with_graphs_oauth_error() -> anyhow::Result<()> {
    let sim = sim().await?;
    let r = send_as(&sim, "stale", &message("text", json!({"body": "x"}))).await?;
    assert_eq!(r.status, 401);
    let err = r.json()?;
    assert_eq!(err["error"]["code"], 190);
    assert_eq!(err["error"]["type"], "OAuthException");
    assert!(err["error"]["message"].is_string() && err["error"]["fbtrace_id"].is_string());
    let r = request(Method::POST, &sim.messages_url(), &[], "{}").await?;
    assert_eq!(r.status, 401, "no token at all");
    assert!(sim.sent().is_empty());
    Ok(())
}

#[tokio::test]
async fn another_phone_number_id_or_a_bad_path_is_refused() -> anyhow::Result<()> {
    let sim = sim().await?;
    let url = sim.messages_url().replace(NUMBER_ID, "999");
    let r = request(
        Method::POST,
        &url,
        &[
            ("authorization", &format!("Bearer {TOKEN}")),
            ("content-type", "application/json"),
        ],
        message("text", json!({"body": "x"})).to_string(),
    )
    .await?;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()?["error"]["code"], 100);
    Ok(())
}

#[tokio::test]
async fn bodies_over_metas_limits_are_refused_naming_the_parameter() -> anyhow::Result<()> {
    let sim = sim().await?;
    assert_refused(
        &sim,
        message("text", json!({"body": "x".repeat(4097)})),
        131009,
        "text['body']",
    )
    .await?;
    assert_refused(
        &sim,
        json!({"to": CUSTOMER, "type": "text", "text": {"body": "x"}}),
        100,
        "messaging_product",
    )
    .await?;
    assert_refused(
        &sim,
        message("text", json!({"body": "x"}))
            .as_object()
            .map(|o| {
                let mut o = o.clone();
                o.insert("to".into(), json!("not-a-number"));
                Value::Object(o)
            })
            .unwrap_or_default(),
        100,
        "'to'",
    )
    .await?;
    let button =
        |id: &str, title: &str| json!({"type": "reply", "reply": {"id": id, "title": title}});
    let buttons = |b: Vec<Value>| {
        message(
            "interactive",
            json!({"type": "button", "body": {"text": "Pick"}, "action": {"buttons": b}}),
        )
    };
    assert_refused(
        &sim,
        buttons(vec![
            button("a", "A"),
            button("b", "B"),
            button("c", "C"),
            button("d", "D"),
        ]),
        131009,
        "1 to 3",
    )
    .await?;
    assert_refused(
        &sim,
        buttons(vec![button("a", "Twenty-one characters")]),
        131009,
        "['title']",
    )
    .await?;
    assert_refused(
        &sim,
        buttons(vec![button(&"i".repeat(257), "A")]),
        131009,
        "['id']",
    )
    .await?;
    assert_refused(
        &sim,
        buttons(vec![button("a", "A"), button("a", "B")]),
        131009,
        "unique",
    )
    .await?;
    assert_refused(&sim, buttons(vec![]), 131009, "1 to 3").await?;
    let row = |id: &str| json!({"id": id, "title": "Row"});
    let list = |sections: Value, label: &str| {
        message(
            "interactive",
            json!({"type": "list", "body": {"text": "Pick"}, "action": {"button": label, "sections": sections}}),
        )
    };
    let eleven: Vec<Value> = (0..11).map(|n| row(&n.to_string())).collect();
    assert_refused(
        &sim,
        list(json!([{"title": "S", "rows": eleven}]), "Options"),
        131009,
        "row count",
    )
    .await?;
    assert_refused(
        &sim,
        list(json!([{"rows": [row("a")]}]), "A label over twenty chars"),
        131009,
        "['button']",
    )
    .await?;
    assert_refused(
        &sim,
        list(
            json!([{"rows": [{"id": "a", "title": "x".repeat(25)}]}]),
            "Options",
        ),
        131009,
        "['title']",
    )
    .await?;
    assert_refused(
        &sim,
        list(
            json!([{"rows": [{"id": "a", "title": "A", "description": "d".repeat(73)}]}]),
            "Options",
        ),
        131009,
        "['description']",
    )
    .await?;
    assert_refused(
        &sim,
        list(
            json!([{"title": "S1", "rows": [row("a")]}, {"rows": [row("b")]}]),
            "Options",
        ),
        131008,
        "sections'][1]['title']",
    )
    .await?;
    let r = send(
        &sim,
        &list(
            json!([{"title": "S1", "rows": [row("a")]}, {"title": "S2", "rows": [row("b")]}]),
            "Options",
        ),
    )
    .await?;
    assert_eq!(r.status, 200, "a valid list: {}", r.text());
    assert_refused(
        &sim,
        message("image", json!({"link": "ftp://x/y.png"})),
        131009,
        "link",
    )
    .await?;
    assert_refused(
        &sim,
        message("image", json!({"link": "https://x/y.png", "id": "1"})),
        100,
        "exactly one",
    )
    .await?;
    assert_refused(
        &sim,
        message("audio", json!({"link": "https://x/a.ogg", "caption": "c"})),
        100,
        "caption",
    )
    .await?;
    assert_refused(
        &sim,
        message(
            "image",
            json!({"link": "https://x/y.png", "caption": "c".repeat(1025)}),
        ),
        131009,
        "caption",
    )
    .await?;
    assert_refused(&sim, message("carousel", json!({})), 100, "carousel").await?;
    assert_eq!(sim.sent().len(), 1, "only the valid list was recorded");
    Ok(())
}

#[tokio::test]
async fn outside_the_24_hour_window_only_templates_are_accepted() -> anyhow::Result<()> {
    let sim = sim().await?;
    sim.register_template("order_update", "en_US", 2);
    sim.close_window(CUSTOMER);
    assert!(!sim.window_open(CUSTOMER));
    assert_refused(
        &sim,
        message("text", json!({"body": "hello again"})),
        131047,
        "24 hours",
    )
    .await?;
    // A number that never wrote has no window either.
    let stranger = message("text", json!({"body": "hi"}))
        .as_object()
        .map(|o| {
            let mut o = o.clone();
            o.insert("to".into(), json!("4915112345678"));
            Value::Object(o)
        })
        .unwrap_or_default();
    assert_refused(&sim, stranger, 131047, "Re-engagement").await?;
    let template = |name: &str, params: Vec<&str>| {
        message(
            "template",
            json!({
                "name": name, "language": {"code": "en_US", "policy": "deterministic"},
                "components": [{"type": "body", "parameters": params.iter().map(|p| json!({"type": "text", "text": p})).collect::<Vec<_>>()}]
            }),
        )
    };
    assert_refused(
        &sim,
        template("no_such_template", vec![]),
        132001,
        "does not exist",
    )
    .await?;
    assert_refused(
        &sim,
        template("order_update", vec!["Ada"]),
        132000,
        "Number of parameters",
    )
    .await?;
    let r = send(&sim, &template("order_update", vec!["Ada", "4711"])).await?;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()?["messages"][0]["message_status"], "accepted");
    // The customer answers: the window opens again.
    sim.text_message(CUSTOMER, "Ada", "thanks");
    assert_eq!(
        send(&sim, &message("text", json!({"body": "you're welcome"})))
            .await?
            .status,
        200
    );
    Ok(())
}

#[tokio::test]
async fn an_unreachable_number_is_131026() -> anyhow::Result<()> {
    let sim = sim().await?;
    sim.make_unreachable(CUSTOMER);
    assert_refused(
        &sim,
        message("text", json!({"body": "x"})),
        131026,
        "not a WhatsApp user",
    )
    .await
}

#[tokio::test]
async fn faults_answer_like_graph_rate_limit_5xx_down_and_slow() -> anyhow::Result<()> {
    let sim = sim().await?;
    let text = message("text", json!({"body": "x"}));
    sim.fail_next(
        1,
        Fault::RateLimit {
            retry_after_secs: 2,
        },
    );
    let r = send(&sim, &text).await?;
    assert_eq!(r.status, 429);
    assert_eq!(r.json()?["error"]["code"], 130429);
    assert_eq!(r.header("retry-after"), Some("2"));
    sim.fail_next(1, Fault::ServerError(500));
    let r = send(&sim, &text).await?;
    assert_eq!(r.status, 500);
    assert_eq!(r.json()?["error"]["is_transient"], true);
    sim.set_down(true);
    let r = send(&sim, &text).await?;
    assert_eq!(
        (r.status, r.json()?["error"]["code"].clone()),
        (503, json!(2))
    );
    sim.set_down(false);
    sim.fail_next(1, Fault::Delay(Duration::from_millis(300)));
    let started = Instant::now();
    assert_eq!(send(&sim, &text).await?.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(sim.pending_faults(), 0);
    assert_eq!(sim.request_count(), 4);
    assert_eq!(sim.sent().len(), 1);
    Ok(())
}

#[tokio::test]
async fn webhooks_are_signed_over_the_escaped_raw_body() -> anyhow::Result<()> {
    let sim = sim().await?;
    let receiver = Receiver::start(200, "").await?;
    let note = sim.text_message(CUSTOMER, "Zoë", "Grüße");
    let (status, _) = sim.deliver(&receiver.url("/hook"), &note, None).await?;
    assert_eq!(status, 200);
    let got = receiver.received();
    let raw = &got[0].body;
    assert_eq!(raw.as_ref(), meta_json(&note).as_bytes());
    assert!(
        std::str::from_utf8(raw)?.contains("Gr\\u00fc\\u00dfe"),
        "non-ASCII is escaped"
    );
    assert_eq!(
        got[0].header("x-hub-signature-256"),
        Some(signature(SECRET, raw))
    );
    assert!(got[0]
        .header("x-hub-signature")
        .unwrap_or_default()
        .starts_with("sha1="));
    let parsed: Value = serde_json::from_slice(raw)?;
    let value = &parsed["entry"][0]["changes"][0]["value"];
    assert_eq!(parsed["object"], "whatsapp_business_account");
    assert_eq!(value["metadata"]["phone_number_id"], NUMBER_ID);
    assert_eq!(value["contacts"][0]["profile"]["name"], "Zoë");
    assert_eq!(value["messages"][0]["text"]["body"], "Grüße");
    assert_eq!(value["messages"][0]["from"], CUSTOMER);
    Ok(())
}

#[tokio::test]
async fn status_and_interactive_reply_notifications_have_metas_shape() -> anyhow::Result<()> {
    let sim = sim().await?;
    let r = send(&sim, &message("text", json!({"body": "x"}))).await?;
    let id = r.json()?["messages"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let read = sim.status(&id, "read", None);
    let s = &read["entry"][0]["changes"][0]["value"]["statuses"][0];
    assert_eq!(
        (s["id"].as_str(), s["status"].as_str()),
        (Some(id.as_str()), Some("read"))
    );
    assert_eq!(s["recipient_id"], CUSTOMER);
    let failed = sim.status(&id, "failed", Some((131047, "Re-engagement message")));
    let e = &failed["entry"][0]["changes"][0]["value"]["statuses"][0]["errors"][0];
    assert_eq!(e["code"], 131047);
    let tap = sim.interactive_reply(CUSTOMER, "Ada", &id, "button_reply", "yes", "Yes");
    let m = &tap["entry"][0]["changes"][0]["value"]["messages"][0];
    assert_eq!(m["type"], "interactive");
    assert_eq!(m["context"]["id"], id);
    assert_eq!(
        m["interactive"]["button_reply"],
        json!({"id": "yes", "title": "Yes"})
    );
    Ok(())
}
