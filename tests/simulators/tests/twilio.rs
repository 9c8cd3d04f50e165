//! End-to-end tests of the Twilio Messaging simulator over real HTTP: Basic auth, every
//! validation rule, fault injection, the Message resource, media, and signed webhooks.

mod common;

use std::time::{Duration, Instant};

use base64::Engine as _;
use http::Method;
use inlet_simulators::twilio::signature;
use inlet_simulators::{form_decode, form_encode, request, Fault, Faults, HttpResponse, TwilioSim};
use serde_json::{json, Value};

const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "f00dfeedf00dfeedf00dfeedf00dfeed";
const FROM: &str = "+15005550006";
const TO: &str = "+447700900123";

async fn sim() -> anyhow::Result<TwilioSim> {
    let sim = TwilioSim::start(SID, TOKEN).await?;
    sim.add_number(FROM);
    Ok(sim)
}

fn basic(user: &str, pass: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
    )
}

fn params(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

async fn send_raw(
    url: &str,
    auth: Option<&str>,
    form: &[(String, String)],
) -> anyhow::Result<HttpResponse> {
    let mut headers = vec![("content-type", "application/x-www-form-urlencoded")];
    if let Some(auth) = auth {
        headers.push(("authorization", auth));
    }
    request(Method::POST, url, &headers, form_encode(form)).await
}

async fn send(sim: &TwilioSim, form: &[(&str, &str)]) -> anyhow::Result<HttpResponse> {
    send_raw(&sim.messages_url(), Some(&basic(SID, TOKEN)), &params(form)).await
}

fn error_body(code: u32, message: &str, status: u16) -> Value {
    json!({
        "code": code,
        "message": message,
        "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
        "status": status,
    })
}

async fn assert_rejected(
    sim: &TwilioSim,
    form: &[(&str, &str)],
    code: u32,
    message: &str,
) -> anyhow::Result<()> {
    let response = send(sim, form).await?;
    assert_eq!(response.status, 400, "{form:?} -> {}", response.text());
    assert_eq!(response.json()?, error_body(code, message, 400), "{form:?}");
    Ok(())
}

fn authenticate_body() -> Value {
    error_body(20003, "Authenticate", 401)
}

#[tokio::test]
async fn send_with_valid_basic_auth_returns_201_message_resource() -> anyhow::Result<()> {
    let sim = sim().await?;
    let response = send(
        &sim,
        &[
            ("To", TO),
            ("From", FROM),
            ("Body", "Hello there"),
            ("StatusCallback", "http://127.0.0.1:9/status"),
        ],
    )
    .await?;
    assert_eq!(response.status, 201, "{}", response.text());
    let resource = response.json()?;
    let sid = resource["sid"].as_str().unwrap_or_default().to_string();
    assert!(sid.starts_with("SM") && sid.len() == 34, "{sid}");
    assert!(sid[2..].bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(resource["account_sid"], json!(SID));
    assert_eq!(resource["to"], json!(TO));
    assert_eq!(resource["from"], json!(FROM));
    assert_eq!(resource["body"], json!("Hello there"));
    assert_eq!(resource["status"], json!("queued"));
    assert_eq!(resource["num_segments"], json!("1"));
    assert_eq!(resource["num_media"], json!("0"));
    assert_eq!(resource["direction"], json!("outbound-api"));
    assert_eq!(resource["api_version"], json!("2010-04-01"));
    assert_eq!(resource["error_code"], Value::Null);
    assert_eq!(resource["error_message"], Value::Null);
    assert_eq!(
        resource["uri"],
        json!(format!("/2010-04-01/Accounts/{SID}/Messages/{sid}.json"))
    );
    let date = resource["date_created"].as_str().unwrap_or_default();
    assert!(date.ends_with(" +0000") && date.contains(", "), "{date}");

    let sent = sim.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].sid, sid);
    assert_eq!(
        sent[0].status_callback.as_deref(),
        Some("http://127.0.0.1:9/status")
    );
    assert_eq!(sent[0].resource, resource);

    // The resource can be fetched back.
    let fetched = request(
        Method::GET,
        &format!(
            "{}/2010-04-01/Accounts/{SID}/Messages/{sid}.json",
            sim.base_url()
        ),
        &[("authorization", &basic(SID, TOKEN))],
        "",
    )
    .await?;
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.json()?["sid"], json!(sid));
    Ok(())
}

#[tokio::test]
async fn wrong_auth_token_gets_401_authenticate_body() -> anyhow::Result<()> {
    let sim = sim().await?;
    let form = params(&[("To", TO), ("From", FROM), ("Body", "x")]);
    let response = send_raw(&sim.messages_url(), Some(&basic(SID, "wrong")), &form).await?;
    assert_eq!(response.status, 401);
    assert_eq!(response.json()?, authenticate_body());
    assert!(response.header("www-authenticate").is_some());
    assert!(sim.sent().is_empty());
    Ok(())
}

#[tokio::test]
async fn missing_or_malformed_auth_gets_401_authenticate_body() -> anyhow::Result<()> {
    let sim = sim().await?;
    let form = params(&[("To", TO), ("From", FROM), ("Body", "x")]);
    for auth in [None, Some("Bearer abc"), Some("Basic !!!notbase64")] {
        let response = send_raw(&sim.messages_url(), auth, &form).await?;
        assert_eq!(response.status, 401, "{auth:?}");
        assert_eq!(response.json()?, authenticate_body());
    }
    Ok(())
}

#[tokio::test]
async fn path_account_sid_differing_from_credentials_gets_401() -> anyhow::Result<()> {
    let sim = sim().await?;
    let other = "AC99999999999999999999999999999999";
    let url = format!(
        "{}/2010-04-01/Accounts/{other}/Messages.json",
        sim.base_url()
    );
    let form = params(&[("To", TO), ("From", FROM), ("Body", "x")]);
    let response = send_raw(&url, Some(&basic(SID, TOKEN)), &form).await?;
    assert_eq!(response.status, 401);
    assert_eq!(response.json()?, authenticate_body());
    // Credentials of the other account don't work either.
    let response = send_raw(&url, Some(&basic(other, TOKEN)), &form).await?;
    assert_eq!(response.status, 401);
    Ok(())
}

#[tokio::test]
async fn missing_to_is_21604() -> anyhow::Result<()> {
    let sim = sim().await?;
    assert_rejected(
        &sim,
        &[("From", FROM), ("Body", "x")],
        21604,
        "A 'To' phone number is required.",
    )
    .await?;
    assert_rejected(
        &sim,
        &[("To", ""), ("From", FROM), ("Body", "x")],
        21604,
        "A 'To' phone number is required.",
    )
    .await
}

#[tokio::test]
async fn non_e164_to_is_21211_naming_the_number() -> anyhow::Result<()> {
    let sim = sim().await?;
    for to in [
        "5551234567",
        "+1234567",
        "+1234567890123456",
        "+1 555 123 4567",
        "+1555abc4567",
    ] {
        assert_rejected(
            &sim,
            &[("To", to), ("From", FROM), ("Body", "x")],
            21211,
            &format!("The 'To' number {to} is not a valid phone number."),
        )
        .await?;
    }
    Ok(())
}

#[tokio::test]
async fn neither_from_nor_messaging_service_is_21603() -> anyhow::Result<()> {
    let sim = sim().await?;
    assert_rejected(
        &sim,
        &[("To", TO), ("Body", "x")],
        21603,
        "A 'From' or 'MessagingServiceSid' parameter is required.",
    )
    .await
}

#[tokio::test]
async fn unregistered_from_is_21606_naming_the_number() -> anyhow::Result<()> {
    let sim = sim().await?;
    assert_rejected(
        &sim,
        &[("To", TO), ("From", "+15559990000"), ("Body", "x")],
        21606,
        "The From phone number +15559990000 is not a valid, SMS-capable inbound phone number or short code for your account.",
    )
    .await
}

#[tokio::test]
async fn messaging_service_sid_without_from_is_accepted() -> anyhow::Result<()> {
    let sim = sim().await?;
    let mss = "MG0123456789abcdef0123456789abcdef";
    let response = send(
        &sim,
        &[("To", TO), ("MessagingServiceSid", mss), ("Body", "x")],
    )
    .await?;
    assert_eq!(response.status, 201);
    let resource = response.json()?;
    assert_eq!(resource["messaging_service_sid"], json!(mss));
    assert_eq!(resource["from"], Value::Null);
    assert_eq!(resource["status"], json!("accepted"));
    Ok(())
}

#[tokio::test]
async fn neither_body_nor_media_is_21602_and_media_only_is_accepted() -> anyhow::Result<()> {
    let sim = sim().await?;
    assert_rejected(
        &sim,
        &[("To", TO), ("From", FROM)],
        21602,
        "Message body is required.",
    )
    .await?;
    assert_rejected(
        &sim,
        &[("To", TO), ("From", FROM), ("Body", "")],
        21602,
        "Message body is required.",
    )
    .await?;
    let response = send(
        &sim,
        &[
            ("To", TO),
            ("From", FROM),
            ("MediaUrl", "https://example.com/a.jpg"),
        ],
    )
    .await?;
    assert_eq!(response.status, 201);
    assert_eq!(response.json()?["num_media"], json!("1"));
    assert_eq!(
        sim.sent()[0].media_urls,
        vec!["https://example.com/a.jpg".to_string()]
    );
    Ok(())
}

#[tokio::test]
async fn body_over_1600_chars_is_21617_and_1600_is_accepted() -> anyhow::Result<()> {
    let sim = sim().await?;
    let ok = "a".repeat(1600);
    let response = send(&sim, &[("To", TO), ("From", FROM), ("Body", &ok)]).await?;
    assert_eq!(response.status, 201);
    assert_eq!(response.json()?["num_segments"], json!("11"));
    let too_long = "a".repeat(1601);
    assert_rejected(
        &sim,
        &[("To", TO), ("From", FROM), ("Body", &too_long)],
        21617,
        "The concatenated message body exceeds the 1600 character limit.",
    )
    .await
}

#[tokio::test]
async fn more_than_10_media_urls_is_21623_and_10_is_accepted() -> anyhow::Result<()> {
    let sim = sim().await?;
    let urls: Vec<String> = (0..11)
        .map(|i| format!("https://example.com/{i}.jpg"))
        .collect();
    let mut form: Vec<(&str, &str)> = vec![("To", TO), ("From", FROM), ("Body", "pics")];
    form.extend(urls.iter().take(10).map(|u| ("MediaUrl", u.as_str())));
    assert_eq!(send(&sim, &form).await?.status, 201);
    form.push(("MediaUrl", &urls[10]));
    assert_rejected(
        &sim,
        &form,
        21623,
        "Number of media files exceeds allowed limit.",
    )
    .await
}

#[tokio::test]
async fn unsubscribed_recipient_is_21610() -> anyhow::Result<()> {
    let sim = sim().await?;
    sim.unsubscribe(TO);
    assert_rejected(
        &sim,
        &[("To", TO), ("From", FROM), ("Body", "x")],
        21610,
        "Attempt to send to unsubscribed recipient",
    )
    .await?;
    sim.resubscribe(TO);
    assert_eq!(
        send(&sim, &[("To", TO), ("From", FROM), ("Body", "x")])
            .await?
            .status,
        201
    );
    Ok(())
}

#[tokio::test]
async fn non_form_body_is_treated_as_no_parameters() -> anyhow::Result<()> {
    let sim = sim().await?;
    let response = request(
        Method::POST,
        &sim.messages_url(),
        &[
            ("content-type", "application/json"),
            ("authorization", &basic(SID, TOKEN)),
        ],
        json!({ "To": TO, "From": FROM, "Body": "x" }).to_string(),
    )
    .await?;
    assert_eq!(response.status, 400);
    assert_eq!(response.json()?["code"], json!(21604));
    Ok(())
}

#[tokio::test]
async fn segments_count_ucs2_bodies_at_70_and_67() -> anyhow::Result<()> {
    let sim = sim().await?;
    let body = "ж".repeat(71);
    let response = send(&sim, &[("To", TO), ("From", FROM), ("Body", &body)]).await?;
    assert_eq!(response.json()?["num_segments"], json!("2"));
    Ok(())
}

#[tokio::test]
async fn rate_limit_fault_returns_20429_with_retry_after_header() -> anyhow::Result<()> {
    let sim = sim().await?;
    sim.fail_next(
        1,
        Fault::RateLimit {
            retry_after_secs: 12,
        },
    );
    let form = [("To", TO), ("From", FROM), ("Body", "x")];
    let limited = send(&sim, &form).await?;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.header("retry-after"), Some("12"));
    assert_eq!(limited.json()?, error_body(20429, "Too Many Requests", 429));
    assert!(sim.sent().is_empty());
    assert_eq!(send(&sim, &form).await?.status, 201);
    Ok(())
}

#[tokio::test]
async fn server_error_fault_returns_20500_with_injected_status() -> anyhow::Result<()> {
    let sim = sim().await?;
    sim.fail_next(2, Fault::ServerError(500));
    let form = [("To", TO), ("From", FROM), ("Body", "x")];
    for _ in 0..2 {
        let failed = send(&sim, &form).await?;
        assert_eq!(failed.status, 500);
        assert_eq!(
            failed.json()?,
            error_body(20500, "Internal Server Error", 500)
        );
    }
    assert_eq!(send(&sim, &form).await?.status, 201);
    assert_eq!(sim.sent().len(), 1);
    Ok(())
}

#[tokio::test]
async fn faults_are_not_consumed_by_unauthenticated_calls() -> anyhow::Result<()> {
    let sim = sim().await?;
    sim.fail_next(1, Fault::ServerError(502));
    let form = params(&[("To", TO), ("From", FROM), ("Body", "x")]);
    assert_eq!(
        send_raw(&sim.messages_url(), Some(&basic(SID, "bad")), &form)
            .await?
            .status,
        401
    );
    assert_eq!(sim.pending_faults(), 1);
    let failed = send_raw(&sim.messages_url(), Some(&basic(SID, TOKEN)), &form).await?;
    assert_eq!(failed.status, 502);
    assert_eq!(failed.json()?["code"], json!(20500));
    Ok(())
}

#[tokio::test]
async fn delay_fault_sleeps_then_sends() -> anyhow::Result<()> {
    let sim = sim().await?;
    sim.fail_next(1, Fault::Delay(Duration::from_millis(300)));
    let started = Instant::now();
    let response = send(&sim, &[("To", TO), ("From", FROM), ("Body", "x")]).await?;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(response.status, 201);
    Ok(())
}

#[tokio::test]
async fn down_simulator_answers_503_until_back_up_but_still_serves_media() -> anyhow::Result<()> {
    let sim = sim().await?;
    sim.add_media("img/1.jpg", "image/jpeg", &b"jpeg"[..]);
    sim.set_down(true);
    let form = [("To", TO), ("From", FROM), ("Body", "x")];
    let down = send(&sim, &form).await?;
    assert_eq!(down.status, 503);
    assert_eq!(down.json()?, error_body(20503, "Service Unavailable", 503));
    assert_eq!(
        request(Method::GET, &sim.media_url("img/1.jpg"), &[], "")
            .await?
            .status,
        200
    );
    sim.set_down(false);
    assert_eq!(send(&sim, &form).await?.status, 201);
    Ok(())
}

#[tokio::test]
async fn request_count_counts_api_calls_but_not_media() -> anyhow::Result<()> {
    let sim = sim().await?;
    sim.add_media("a", "text/plain", &b"a"[..]);
    send(&sim, &[("To", TO), ("From", FROM), ("Body", "x")]).await?;
    send(&sim, &[("From", FROM), ("Body", "x")]).await?;
    send_raw(&sim.messages_url(), None, &[]).await?;
    request(Method::GET, &sim.media_url("a"), &[], "").await?;
    assert_eq!(sim.request_count(), 3);
    Ok(())
}

#[tokio::test]
async fn media_is_served_without_auth_and_unknown_media_is_404() -> anyhow::Result<()> {
    let sim = sim().await?;
    sim.add_media("mms/cat.png", "image/png", vec![0x89u8, b'P', b'N', b'G']);
    let got = request(Method::GET, &sim.media_url("mms/cat.png"), &[], "").await?;
    assert_eq!(got.status, 200);
    assert_eq!(got.header("content-type"), Some("image/png"));
    assert_eq!(&got.body[..], &[0x89u8, b'P', b'N', b'G'][..]);
    let missing = request(Method::GET, &sim.media_url("mms/dog.png"), &[], "").await?;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()?["code"], json!(20404));
    Ok(())
}

#[tokio::test]
async fn inbound_sms_builds_real_webhook_fields_with_media() -> anyhow::Result<()> {
    let sim = sim().await?;
    sim.add_media("m/0.jpg", "image/jpeg", &b"jpeg"[..]);
    let media_url = sim.media_url("m/0.jpg");
    let fields = sim.inbound_sms(
        "MM00000000000000000000000000000001",
        TO,
        FROM,
        "see pic",
        &[(&media_url, "image/jpeg")],
    );
    let get = |key: &str| {
        fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(
        get("MessageSid"),
        Some("MM00000000000000000000000000000001")
    );
    assert_eq!(get("SmsSid"), Some("MM00000000000000000000000000000001"));
    assert_eq!(
        get("SmsMessageSid"),
        Some("MM00000000000000000000000000000001")
    );
    assert_eq!(get("AccountSid"), Some(SID));
    assert_eq!(get("MessagingServiceSid"), None);
    assert_eq!(get("From"), Some(TO));
    assert_eq!(get("To"), Some(FROM));
    assert_eq!(get("Body"), Some("see pic"));
    assert_eq!(get("NumMedia"), Some("1"));
    assert_eq!(get("NumSegments"), Some("1"));
    assert_eq!(get("MediaUrl0"), Some(media_url.as_str()));
    assert_eq!(get("MediaContentType0"), Some("image/jpeg"));
    assert_eq!(get("SmsStatus"), Some("received"));
    assert_eq!(get("ApiVersion"), Some("2010-04-01"));
    assert_eq!(get("FromCountry"), Some("GB"));
    assert_eq!(get("ToCountry"), Some("US"));
    Ok(())
}

#[tokio::test]
async fn deliver_signs_over_public_url_and_params() -> anyhow::Result<()> {
    let sim = sim().await?;
    let receiver = common::Receiver::start(200, "<Response/>").await?;
    let url = receiver.url("/webhooks/twilio?channel=sms");
    let fields = sim.inbound_sms(
        "SM11111111111111111111111111111111",
        TO,
        FROM,
        "hi & bye +1",
        &[],
    );
    let (status, body) = sim.deliver(&url, &fields, None).await?;
    assert_eq!((status, body.as_str()), (200, "<Response/>"));
    let (status, _) = sim.deliver(&url, &fields, Some("not-the-token")).await?;
    assert_eq!(status, 200);

    let got = receiver.received();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].path, "/webhooks/twilio?channel=sms");
    assert_eq!(
        got[0].header("content-type").as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    let decoded = form_decode(&got[0].body);
    assert_eq!(decoded, fields);
    let header = got[0].header("x-twilio-signature").unwrap_or_default();
    assert_eq!(header, signature(TOKEN, &url, &decoded));
    let forged = got[1].header("x-twilio-signature").unwrap_or_default();
    assert_ne!(forged, header);
    assert_eq!(forged, signature("not-the-token", &url, &decoded));
    Ok(())
}

#[tokio::test]
async fn deliver_status_posts_signed_callback_to_the_messages_status_callback() -> anyhow::Result<()>
{
    let sim = sim().await?;
    let receiver = common::Receiver::start(204, "").await?;
    let callback = receiver.url("/status/abc");
    let response = send(
        &sim,
        &[
            ("To", TO),
            ("From", FROM),
            ("Body", "x"),
            ("StatusCallback", &callback),
        ],
    )
    .await?;
    let sid = response.json()?["sid"]
        .as_str()
        .unwrap_or_default()
        .to_string();

    let (status, _) = sim
        .deliver_status(&sid, "undelivered", Some("30003"))
        .await?;
    assert_eq!(status, 204);
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].path, "/status/abc");
    let fields = form_decode(&got[0].body);
    let get = |key: &str| {
        fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("MessageSid"), Some(sid.as_str()));
    assert_eq!(get("SmsSid"), Some(sid.as_str()));
    assert_eq!(get("MessageStatus"), Some("undelivered"));
    assert_eq!(get("SmsStatus"), Some("undelivered"));
    assert_eq!(get("ErrorCode"), Some("30003"));
    assert_eq!(get("AccountSid"), Some(SID));
    assert_eq!(get("From"), Some(FROM));
    assert_eq!(get("To"), Some(TO));
    assert_eq!(get("ApiVersion"), Some("2010-04-01"));
    assert_eq!(
        got[0].header("x-twilio-signature"),
        Some(signature(TOKEN, &callback, &fields))
    );
    let resource = sim.message(&sid).unwrap_or_default();
    assert_eq!(resource["status"], json!("undelivered"));
    assert_eq!(resource["error_code"], json!(30003));

    sim.deliver_status(&sid, "delivered", None).await?;
    let fields = form_decode(&receiver.received()[1].body);
    assert!(!fields.iter().any(|(k, _)| k == "ErrorCode"));
    Ok(())
}

#[tokio::test]
async fn deliver_status_fails_without_a_status_callback() -> anyhow::Result<()> {
    let sim = sim().await?;
    let response = send(&sim, &[("To", TO), ("From", FROM), ("Body", "x")]).await?;
    let sid = response.json()?["sid"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(sim.deliver_status(&sid, "delivered", None).await.is_err());
    assert!(sim
        .deliver_status("SMnope", "delivered", None)
        .await
        .is_err());
    Ok(())
}

#[tokio::test]
async fn unknown_api_path_is_20404() -> anyhow::Result<()> {
    let sim = sim().await?;
    let url = format!("{}/2010-04-01/Accounts/{SID}/Calls.json", sim.base_url());
    let response = send_raw(&url, Some(&basic(SID, TOKEN)), &[]).await?;
    assert_eq!(response.status, 404);
    assert_eq!(response.json()?["code"], json!(20404));
    Ok(())
}
