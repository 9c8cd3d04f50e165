//! Twilio SMS end to end: the compiled Twilio plugin in the real host against the Twilio API
//! simulator, which checks Basic auth, validates every form field and signs its webhooks.

use http::Method;
use inlet::runtime::Limits;
use inlet_simulators::{Fault, Faults, TwilioSim};
use inlet_tests::{channel, Inlet};
use serde_json::{json, Value};

const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "twilio-auth-token-secret";
const OURS: &str = "+14155550100";
const CUSTOMER: &str = "+14155550199";

async fn setup() -> anyhow::Result<(TwilioSim, Inlet)> {
    let sim = TwilioSim::start(SID, TOKEN).await?;
    sim.add_number(OURS);
    let base = sim.base_url();
    let inlet = Inlet::start(
        vec![channel(
            "sms",
            "twilio-sms",
            &[
                ("account_sid", SID),
                ("auth_token", TOKEN),
                ("from_number", OURS),
                ("api_base", &base),
            ],
            &[&base],
        )],
        Limits::default(),
    )
    .await?;
    Ok((sim, inlet))
}

fn event(e: &Value) -> &Value {
    &e["event"]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_inbound_sms_becomes_an_event_and_twiml_is_answered() -> anyhow::Result<()> {
    let (sim, inlet) = setup().await?;
    let params = sim.inbound_sms(
        "SM11111111111111111111111111111111",
        CUSTOMER,
        OURS,
        "Is my order shipped?",
        &[],
    );
    let (status, body) = sim.deliver(&inlet.webhook("sms"), &params, None).await?;
    assert_eq!(status, 200);
    assert!(body.contains("<Response>"), "TwiML answer: {body}");
    // Twilio retries on timeouts: the same MessageSid is stored once.
    assert_eq!(
        sim.deliver(&inlet.webhook("sms"), &params, None).await?.0,
        200
    );
    let events = inlet.events("sms").await?;
    assert_eq!(events.len(), 1);
    let e = event(&events[0]);
    assert_eq!(e["type"], "message");
    assert_eq!(e["text"], "Is my order shipped?");
    assert_eq!(e["conversation"], CUSTOMER);
    assert_eq!(e["provider_id"], "SM11111111111111111111111111111111");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_mms_media_become_attachments() -> anyhow::Result<()> {
    let (sim, inlet) = setup().await?;
    sim.add_media("img1", "image/jpeg", vec![0u8; 100]);
    let url = sim.media_url("img1");
    let params = sim.inbound_sms(
        "MM22222222222222222222222222222222",
        CUSTOMER,
        OURS,
        "see photo",
        &[(&url, "image/jpeg")],
    );
    assert_eq!(
        sim.deliver(&inlet.webhook("sms"), &params, None).await?.0,
        200
    );
    let events = inlet.events("sms").await?;
    let a = &event(&events[0])["attachments"][0];
    assert_eq!(a["kind"], "image");
    assert_eq!(a["url"], url);
    assert_eq!(a["mime_type"], "image/jpeg");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_signature_gets_401_and_emits_no_event() -> anyhow::Result<()> {
    let (sim, inlet) = setup().await?;
    let params = sim.inbound_sms(
        "SM33333333333333333333333333333333",
        CUSTOMER,
        OURS,
        "forged",
        &[],
    );
    // Signed with the wrong auth token.
    let (status, body) = sim
        .deliver(&inlet.webhook("sms"), &params, Some("not-the-token"))
        .await?;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("X-Twilio-Signature does not match"), "{body}");
    // Twilio signs the full URL including its query: the host rebuilds it from the channel's
    // public URL plus the query it received, so a webhook configured with a query verifies.
    let with_query = format!("{}?extra=1", inlet.webhook("sms"));
    assert_eq!(sim.deliver(&with_query, &params, None).await?.0, 200);
    // A signature computed for another URL (host) must not verify.
    let elsewhere = inlet.webhook("sms").replace("127.0.0.1", "localhost");
    let signed_elsewhere = inlet_simulators::twilio::signature(TOKEN, &elsewhere, &params);
    let r = inlet_simulators::request(
        Method::POST,
        &inlet.webhook("sms"),
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("x-twilio-signature", &signed_elsewhere),
        ],
        inlet_simulators::form_encode(&params),
    )
    .await?;
    assert_eq!(r.status, 401);
    // A missing header is refused too.
    let r = inlet_simulators::request(
        Method::POST,
        &inlet.webhook("sms"),
        &[("content-type", "application/x-www-form-urlencoded")],
        inlet_simulators::form_encode(&params),
    )
    .await?;
    assert_eq!(r.status, 401);
    assert!(r.text().contains("missing X-Twilio-Signature"));
    let events = inlet.events("sms").await?;
    assert_eq!(
        events.len(),
        1,
        "only the correctly signed delivery is stored: {events:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sent_sms_gets_delivery_receipts_through_signed_status_callbacks() -> anyhow::Result<()> {
    let (sim, inlet) = setup().await?;
    let (status, sent) = inlet
        .api(
            Method::POST,
            "/channels/sms/messages",
            Some(json!({"conversation": CUSTOMER, "text": "Your order shipped."})),
        )
        .await?;
    assert_eq!(status, 200, "{sent}");
    let sms = sim.sent();
    assert_eq!(sms.len(), 1);
    assert_eq!(sms[0].to, CUSTOMER);
    assert_eq!(sms[0].from.as_deref(), Some(OURS));
    assert_eq!(sms[0].body, "Your order shipped.");
    assert_eq!(
        sms[0].status_callback.as_deref(),
        Some(inlet.webhook("sms").as_str())
    );
    assert_eq!(sent["provider_id"], sms[0].sid);
    assert_eq!(sent["status"], "queued");

    assert_eq!(sim.deliver_status(&sms[0].sid, "sent", None).await?.0, 200);
    assert_eq!(
        sim.deliver_status(&sms[0].sid, "delivered", None).await?.0,
        200
    );
    let events = inlet.events("sms").await?;
    let statuses: Vec<&Value> = events.iter().map(|e| &event(e)["status"]).collect();
    assert_eq!(statuses, vec!["sent", "delivered"]);
    assert_eq!(event(&events[1])["message_ref"], sms[0].sid);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_delivery_carries_twilios_error_code() -> anyhow::Result<()> {
    let (sim, inlet) = setup().await?;
    let (status, _) = inlet
        .api(
            Method::POST,
            "/channels/sms/messages",
            Some(json!({"conversation": CUSTOMER, "text": "hi"})),
        )
        .await?;
    assert_eq!(status, 200);
    let sid = sim.sent()[0].sid.clone();
    assert_eq!(
        sim.deliver_status(&sid, "undelivered", Some("30003"))
            .await?
            .0,
        200
    );
    let events = inlet.events("sms").await?;
    let e = event(&events[0]);
    assert_eq!(e["type"], "receipt");
    assert_eq!(e["status"], "failed");
    assert_eq!(e["error"]["provider_code"], "30003");
    Ok(())
}

async fn send(inlet: &Inlet, to: &str, text: &str) -> anyhow::Result<(u16, Value)> {
    inlet
        .api(
            Method::POST,
            "/channels/sms/messages",
            Some(json!({"conversation": to, "text": text})),
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twilio_error_codes_map_to_retryable_or_permanent() -> anyhow::Result<()> {
    let (sim, inlet) = setup().await?;
    sim.unsubscribe(CUSTOMER);
    let (status, body) = send(&inlet, CUSTOMER, "promo").await?;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "permanent");
    assert_eq!(body["error"]["details"]["provider_code"], "21610");

    let (status, body) = send(&inlet, "12345", "hi").await?;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["details"]["provider_code"], "21211");

    let (status, body) = send(&inlet, "+14155550123", &"x".repeat(1601)).await?;
    assert_eq!(
        body["error"]["details"]["provider_code"], "21617",
        "{status} {body}"
    );

    sim.fail_next(
        1,
        Fault::RateLimit {
            retry_after_secs: 3,
        },
    );
    let (status, body) = send(&inlet, "+14155550123", "hi").await?;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "rate_limited");

    sim.fail_next(1, Fault::ServerError(500));
    let (status, body) = send(&inlet, "+14155550123", "hi").await?;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "transient");

    let (status, body) = send(&inlet, "+14155550123", "finally").await?;
    assert_eq!(status, 200, "{body}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_twilio_credentials_are_reported_as_unauthorized() -> anyhow::Result<()> {
    let sim = TwilioSim::start(SID, TOKEN).await?;
    sim.add_number(OURS);
    let base = sim.base_url();
    let inlet = Inlet::start(
        vec![channel(
            "sms",
            "twilio-sms",
            &[
                ("account_sid", SID),
                ("auth_token", "stale-token"),
                ("from_number", OURS),
                ("api_base", &base),
            ],
            &[&base],
        )],
        Limits::default(),
    )
    .await?;
    let (status, body) = send(&inlet, CUSTOMER, "hi").await?;
    assert_eq!(status, 502, "the provider refused our credentials: {body}");
    assert_eq!(body["error"]["code"], "provider_unauthorized");
    assert_eq!(body["error"]["details"]["provider_code"], "20003");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_split_into_two_sms_fails_when_twilio_reports_its_first_segment_undelivered(
) -> anyhow::Result<()> {
    let (sim, inlet) = setup().await?;
    let params = sim.inbound_sms(
        "SM22222222222222222222222222222222",
        CUSTOMER,
        OURS,
        "Please send me the full return policy",
        &[],
    );
    assert_eq!(
        sim.deliver(&inlet.webhook("sms"), &params, None).await?.0,
        200
    );
    let cases = inlet.cases().await?;
    let case = cases[0]["id"].as_str().unwrap_or_default().to_string();
    // 2,400 characters: more than one SMS body (1,600), so two messages at a word boundary.
    let policy = "Returns are free within thirty days of delivery. ".repeat(48);
    let (status, body) = inlet.reply(&case, json!({ "text": policy })).await?;
    assert_eq!(status, 202, "{body}");
    let view = inlet
        .wait_for_case(&case, "both parts to be sent", |v| {
            v["messages"][1]["status"] == "queued" && v["messages"][1]["provider_id"].is_string()
        })
        .await?;
    let sent = sim.sent();
    assert_eq!(sent.len(), 2, "two SMS");
    assert_eq!(view["messages"][1]["provider_id"], sent[1].sid);

    // The first segment never arrives: the message is failed, with Twilio's code.
    assert_eq!(
        sim.deliver_status(&sent[0].sid, "undelivered", Some("30003"))
            .await?
            .0,
        200
    );
    let view = inlet
        .wait_for_case(&case, "the failure to show", |v| {
            v["messages"][1]["status"] == "failed"
        })
        .await?;
    let failure = view["messages"][1]["failure"].as_str().unwrap_or_default();
    assert!(failure.contains("30003"), "{failure}");
    // A later "delivered" for the second segment does not hide the failure.
    assert_eq!(
        sim.deliver_status(&sent[1].sid, "delivered", None).await?.0,
        200
    );
    let (_, view) = inlet
        .api(Method::GET, &format!("/cases/{case}"), None)
        .await?;
    assert_eq!(view["messages"][1]["status"], "failed");
    Ok(())
}
