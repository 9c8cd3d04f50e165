//! End-to-end tests of the Telegram Bot API simulator over real HTTP: credentials, every
//! validation rule, fault injection, files, callbacks, update builders and webhook delivery.

mod common;

use std::time::{Duration, Instant};

use http::Method;
use inlet_simulators::{post, request, Fault, Faults, HttpResponse, TelegramSim};
use serde_json::{json, Value};

const TOKEN: &str = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11";
const CHAT: i64 = 777_001;

async fn sim() -> anyhow::Result<TelegramSim> {
    let sim = TelegramSim::start(TOKEN).await?;
    sim.add_chat(CHAT);
    Ok(sim)
}

async fn call_with_token(
    sim: &TelegramSim,
    token: &str,
    method: &str,
    body: &Value,
) -> anyhow::Result<HttpResponse> {
    let url = format!("{}/bot{token}/{method}", sim.base_url());
    request(
        Method::POST,
        &url,
        &[("content-type", "application/json")],
        body.to_string(),
    )
    .await
}

async fn call(sim: &TelegramSim, method: &str, body: &Value) -> anyhow::Result<HttpResponse> {
    call_with_token(sim, TOKEN, method, body).await
}

/// Asserts a 400 with exactly this description and returns nothing else.
async fn assert_bad_request(
    sim: &TelegramSim,
    method: &str,
    body: Value,
    description: &str,
) -> anyhow::Result<()> {
    let response = call(sim, method, &body).await?;
    assert_eq!(response.status, 400, "body {}", response.text());
    assert_eq!(
        response.json()?,
        json!({ "ok": false, "error_code": 400, "description": description }),
        "request {body}"
    );
    Ok(())
}

fn keyboard(buttons: Value) -> Value {
    json!({ "inline_keyboard": [buttons] })
}

#[tokio::test]
async fn send_message_with_correct_token_returns_real_message_object() -> anyhow::Result<()> {
    let sim = sim().await?;
    let response = call(
        &sim,
        "sendMessage",
        &json!({ "chat_id": CHAT, "text": "hello" }),
    )
    .await?;
    assert_eq!(response.status, 200);
    assert!(response
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/json")));
    let body = response.json()?;
    assert_eq!(body["ok"], json!(true));
    let message = &body["result"];
    assert_eq!(message["message_id"], json!(1));
    assert!(message["date"].as_u64().is_some_and(|d| d > 1_600_000_000));
    assert_eq!(message["chat"]["id"], json!(CHAT));
    assert_eq!(message["chat"]["type"], json!("private"));
    assert_eq!(
        message["from"],
        json!({ "id": 123456, "is_bot": true, "first_name": "Inlet Test Bot", "username": "inlet_test_bot" })
    );
    assert_eq!(message["text"], json!("hello"));
    assert!(message.get("reply_markup").is_none());

    let sent = sim.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].method, "sendMessage");
    assert_eq!(sent[0].chat_id, CHAT);
    assert_eq!(sent[0].message_id, 1);
    assert_eq!(sent[0].body, json!({ "chat_id": CHAT, "text": "hello" }));
    Ok(())
}

#[tokio::test]
async fn chat_id_given_as_numeric_string_is_accepted() -> anyhow::Result<()> {
    let sim = sim().await?;
    let response = call(
        &sim,
        "sendMessage",
        &json!({ "chat_id": CHAT.to_string(), "text": "x" }),
    )
    .await?;
    assert_eq!(response.status, 200);
    Ok(())
}

#[tokio::test]
async fn wrong_token_gets_401_unauthorized_body_and_nothing_is_sent() -> anyhow::Result<()> {
    let sim = sim().await?;
    let response = call_with_token(
        &sim,
        "123456:WRONG",
        "sendMessage",
        &json!({ "chat_id": CHAT, "text": "hello" }),
    )
    .await?;
    assert_eq!(response.status, 401);
    assert_eq!(
        response.json()?,
        json!({ "ok": false, "error_code": 401, "description": "Unauthorized" })
    );
    assert!(sim.sent().is_empty());
    Ok(())
}

#[tokio::test]
async fn unknown_method_gets_404_not_found_body() -> anyhow::Result<()> {
    let sim = sim().await?;
    let response = call(&sim, "sendCarrierPigeon", &json!({ "chat_id": CHAT })).await?;
    assert_eq!(response.status, 404);
    assert_eq!(
        response.json()?,
        json!({ "ok": false, "error_code": 404, "description": "Not Found" })
    );
    Ok(())
}

#[tokio::test]
async fn method_names_are_case_insensitive_like_telegram() -> anyhow::Result<()> {
    let sim = sim().await?;
    let response = call(
        &sim,
        "SENDMESSAGE",
        &json!({ "chat_id": CHAT, "text": "x" }),
    )
    .await?;
    assert_eq!(response.status, 200);
    Ok(())
}

#[tokio::test]
async fn missing_chat_id_is_rejected_as_chat_id_is_empty() -> anyhow::Result<()> {
    let sim = sim().await?;
    assert_bad_request(
        &sim,
        "sendMessage",
        json!({ "text": "hi" }),
        "Bad Request: chat_id is empty",
    )
    .await?;
    assert_bad_request(
        &sim,
        "sendMessage",
        json!({ "chat_id": "", "text": "hi" }),
        "Bad Request: chat_id is empty",
    )
    .await?;
    assert_bad_request(
        &sim,
        "sendPhoto",
        json!({ "photo": "https://x/y.jpg" }),
        "Bad Request: chat_id is empty",
    )
    .await
}

#[tokio::test]
async fn chat_that_never_started_the_bot_is_not_found() -> anyhow::Result<()> {
    let sim = sim().await?;
    assert_bad_request(
        &sim,
        "sendMessage",
        json!({ "chat_id": 42, "text": "hi" }),
        "Bad Request: chat not found",
    )
    .await?;
    assert_bad_request(
        &sim,
        "sendMessage",
        json!({ "chat_id": "@somechannel", "text": "hi" }),
        "Bad Request: chat not found",
    )
    .await?;
    sim.add_chat(42);
    let response = call(&sim, "sendMessage", &json!({ "chat_id": 42, "text": "hi" })).await?;
    assert_eq!(response.status, 200);
    Ok(())
}

#[tokio::test]
async fn empty_whitespace_or_missing_text_is_rejected() -> anyhow::Result<()> {
    let sim = sim().await?;
    for body in [
        json!({ "chat_id": CHAT, "text": "" }),
        json!({ "chat_id": CHAT, "text": "  \n " }),
        json!({ "chat_id": CHAT }),
    ] {
        assert_bad_request(
            &sim,
            "sendMessage",
            body,
            "Bad Request: message text is empty",
        )
        .await?;
    }
    assert!(sim.sent().is_empty());
    Ok(())
}

#[tokio::test]
async fn text_over_4096_utf16_units_is_too_long_and_4096_is_accepted() -> anyhow::Result<()> {
    let sim = sim().await?;
    let ok = call(
        &sim,
        "sendMessage",
        &json!({ "chat_id": CHAT, "text": "a".repeat(4096) }),
    )
    .await?;
    assert_eq!(ok.status, 200);
    // Each emoji is 2 UTF-16 code units: 2048 fit, 2049 do not.
    let ok = call(
        &sim,
        "sendMessage",
        &json!({ "chat_id": CHAT, "text": "😀".repeat(2048) }),
    )
    .await?;
    assert_eq!(ok.status, 200);
    assert_bad_request(
        &sim,
        "sendMessage",
        json!({ "chat_id": CHAT, "text": "a".repeat(4097) }),
        "Bad Request: message is too long",
    )
    .await?;
    assert_bad_request(
        &sim,
        "sendMessage",
        json!({ "chat_id": CHAT, "text": "😀".repeat(2049) }),
        "Bad Request: message is too long",
    )
    .await
}

#[tokio::test]
async fn caption_over_1024_is_too_long_and_1024_is_accepted() -> anyhow::Result<()> {
    let sim = sim().await?;
    let ok = call(&sim, "sendPhoto", &json!({ "chat_id": CHAT, "photo": "https://example.com/a.jpg", "caption": "c".repeat(1024) })).await?;
    assert_eq!(ok.status, 200);
    assert_bad_request(&sim, "sendPhoto", json!({ "chat_id": CHAT, "photo": "https://example.com/a.jpg", "caption": "c".repeat(1025) }), "Bad Request: message caption is too long").await?;
    assert_bad_request(&sim, "sendDocument", json!({ "chat_id": CHAT, "document": "https://example.com/a.pdf", "caption": "c".repeat(1025) }), "Bad Request: message caption is too long").await
}

#[tokio::test]
async fn callback_data_outside_1_to_64_bytes_is_button_data_invalid() -> anyhow::Result<()> {
    let sim = sim().await?;
    let ok = call(&sim, "sendMessage", &json!({ "chat_id": CHAT, "text": "pick", "reply_markup": keyboard(json!([{ "text": "A", "callback_data": "x".repeat(64) }])) })).await?;
    assert_eq!(ok.status, 200);
    for data in [String::new(), "x".repeat(65), "é".repeat(33)] {
        assert_bad_request(
            &sim,
            "sendMessage",
            json!({ "chat_id": CHAT, "text": "pick", "reply_markup": keyboard(json!([{ "text": "A", "callback_data": data }])) }),
            "Bad Request: BUTTON_DATA_INVALID",
        )
        .await?;
    }
    Ok(())
}

#[tokio::test]
async fn inline_button_without_callback_data_or_url_is_rejected() -> anyhow::Result<()> {
    let sim = sim().await?;
    assert_bad_request(
        &sim,
        "sendMessage",
        json!({ "chat_id": CHAT, "text": "pick", "reply_markup": keyboard(json!([{ "text": "A", "callback_data": "a" }, { "text": "B" }])) }),
        "Bad Request: can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard",
    )
    .await?;
    let ok = call(&sim, "sendMessage", &json!({ "chat_id": CHAT, "text": "go", "reply_markup": keyboard(json!([{ "text": "Site", "url": "https://example.com" }])) })).await?;
    assert_eq!(ok.status, 200);
    Ok(())
}

#[tokio::test]
async fn inline_keyboard_is_echoed_in_the_sent_message() -> anyhow::Result<()> {
    let sim = sim().await?;
    let markup = json!({ "inline_keyboard": [
        [{ "text": "Yes", "callback_data": "yes" }, { "text": "No", "callback_data": "no" }],
        [{ "text": "Docs", "url": "https://example.com/docs" }]
    ] });
    let response = call(
        &sim,
        "sendMessage",
        &json!({ "chat_id": CHAT, "text": "ok?", "reply_markup": markup }),
    )
    .await?;
    assert_eq!(response.status, 200);
    assert_eq!(response.json()?["result"]["reply_markup"], markup);
    Ok(())
}

#[tokio::test]
async fn reply_to_unknown_message_is_rejected_and_known_message_is_attached() -> anyhow::Result<()>
{
    let sim = sim().await?;
    assert_bad_request(
        &sim,
        "sendMessage",
        json!({ "chat_id": CHAT, "text": "re", "reply_parameters": { "message_id": 99 } }),
        "Bad Request: message to be replied not found",
    )
    .await?;
    let update = sim.update_text(1, CHAT, CHAT, "Ada", "question?");
    let user_message_id = update["message"]["message_id"].as_i64().unwrap_or_default();
    let response = call(&sim, "sendMessage", &json!({ "chat_id": CHAT, "text": "answer", "reply_parameters": { "message_id": user_message_id } })).await?;
    assert_eq!(response.status, 200);
    let result = response.json()?["result"].clone();
    assert_eq!(
        result["reply_to_message"]["message_id"],
        json!(user_message_id)
    );
    assert_eq!(result["reply_to_message"]["text"], json!("question?"));
    // The replied message must exist in *that* chat.
    sim.add_chat(5);
    assert_bad_request(
        &sim,
        "sendMessage",
        json!({ "chat_id": 5, "text": "re", "reply_parameters": { "message_id": user_message_id } }),
        "Bad Request: message to be replied not found",
    )
    .await?;
    // allow_sending_without_reply sends anyway.
    let response = call(&sim, "sendMessage", &json!({ "chat_id": CHAT, "text": "re", "reply_parameters": { "message_id": 99, "allow_sending_without_reply": true } })).await?;
    assert_eq!(response.status, 200);
    assert!(response.json()?["result"].get("reply_to_message").is_none());
    Ok(())
}

#[tokio::test]
async fn blocked_chat_gets_403_bot_was_blocked_by_the_user() -> anyhow::Result<()> {
    let sim = sim().await?;
    sim.block_chat(CHAT);
    let response = call(
        &sim,
        "sendMessage",
        &json!({ "chat_id": CHAT, "text": "hi" }),
    )
    .await?;
    assert_eq!(response.status, 403);
    assert_eq!(
        response.json()?,
        json!({ "ok": false, "error_code": 403, "description": "Forbidden: bot was blocked by the user" })
    );
    sim.unblock_chat(CHAT);
    let response = call(
        &sim,
        "sendMessage",
        &json!({ "chat_id": CHAT, "text": "hi" }),
    )
    .await?;
    assert_eq!(response.status, 200);
    Ok(())
}

#[tokio::test]
async fn message_ids_increase_per_chat_independently() -> anyhow::Result<()> {
    let sim = sim().await?;
    sim.add_chat(2);
    let mut ids = Vec::new();
    for chat in [CHAT, CHAT, 2, CHAT, 2] {
        let response = call(
            &sim,
            "sendMessage",
            &json!({ "chat_id": chat, "text": "x" }),
        )
        .await?;
        ids.push(
            response.json()?["result"]["message_id"]
                .as_i64()
                .unwrap_or_default(),
        );
    }
    assert_eq!(ids, vec![1, 2, 1, 3, 2]);
    // User messages share the chat's sequence, as in a real private chat.
    let update = sim.update_text(10, 2, 2, "Bo", "hey");
    assert_eq!(update["message"]["message_id"], json!(3));
    Ok(())
}

#[tokio::test]
async fn unsupported_parse_mode_is_rejected() -> anyhow::Result<()> {
    let sim = sim().await?;
    assert_bad_request(
        &sim,
        "sendMessage",
        json!({ "chat_id": CHAT, "text": "x", "parse_mode": "BBCode" }),
        "Bad Request: unsupported parse_mode",
    )
    .await?;
    let ok = call(
        &sim,
        "sendMessage",
        &json!({ "chat_id": CHAT, "text": "*x*", "parse_mode": "MarkdownV2" }),
    )
    .await?;
    assert_eq!(ok.status, 200);
    Ok(())
}

#[tokio::test]
async fn send_photo_returns_three_sizes_largest_last_with_caption() -> anyhow::Result<()> {
    let sim = sim().await?;
    sim.add_file("PHOTO1", "photos/file_1.jpg", vec![0xFFu8; 2048]);
    let response = call(
        &sim,
        "sendPhoto",
        &json!({ "chat_id": CHAT, "photo": "PHOTO1", "caption": "look" }),
    )
    .await?;
    assert_eq!(response.status, 200);
    let result = response.json()?["result"].clone();
    let photo = result["photo"].as_array().cloned().unwrap_or_default();
    assert_eq!(photo.len(), 3);
    assert_eq!(photo[2]["file_id"], json!("PHOTO1"));
    assert_eq!(photo[2]["file_size"], json!(2048));
    assert!(photo[0]["width"].as_u64() < photo[2]["width"].as_u64());
    assert_eq!(result["caption"], json!("look"));
    assert!(result.get("text").is_none());

    let by_url = call(
        &sim,
        "sendPhoto",
        &json!({ "chat_id": CHAT, "photo": "https://example.com/cat.jpg" }),
    )
    .await?;
    assert_eq!(by_url.status, 200);
    assert!(by_url.json()?["result"].get("caption").is_none());

    assert_bad_request(
        &sim,
        "sendPhoto",
        json!({ "chat_id": CHAT }),
        "Bad Request: there is no photo in the request",
    )
    .await?;
    assert_bad_request(
        &sim,
        "sendPhoto",
        json!({ "chat_id": CHAT, "photo": "NOPE" }),
        "Bad Request: wrong file identifier/HTTP URL specified",
    )
    .await
}

#[tokio::test]
async fn send_document_returns_document_object() -> anyhow::Result<()> {
    let sim = sim().await?;
    let response = call(&sim, "sendDocument", &json!({ "chat_id": CHAT, "document": "https://example.com/files/report.pdf", "caption": "Q3" })).await?;
    assert_eq!(response.status, 200);
    let result = response.json()?["result"].clone();
    assert!(result["document"]["file_name"]
        .as_str()
        .is_some_and(|n| n.ends_with("report.pdf")));
    assert_eq!(result["document"]["mime_type"], json!("application/pdf"));
    assert!(result["document"]["file_id"].is_string());
    assert_eq!(result["caption"], json!("Q3"));
    assert_eq!(sim.sent()[0].method, "sendDocument");
    assert_bad_request(
        &sim,
        "sendDocument",
        json!({ "chat_id": CHAT }),
        "Bad Request: there is no document in the request",
    )
    .await
}

#[tokio::test]
async fn get_file_returns_path_and_download_serves_registered_bytes() -> anyhow::Result<()> {
    let sim = sim().await?;
    sim.add_file("DOC1", "documents/file_7.pdf", &b"%PDF-1.4 test"[..]);
    let response = call(&sim, "getFile", &json!({ "file_id": "DOC1" })).await?;
    assert_eq!(response.status, 200);
    let body = response.json()?;
    assert_eq!(body["ok"], json!(true));
    assert_eq!(body["result"]["file_id"], json!("DOC1"));
    assert_eq!(body["result"]["file_path"], json!("documents/file_7.pdf"));
    assert_eq!(body["result"]["file_size"], json!(13));
    assert!(body["result"]["file_unique_id"].is_string());

    let url = format!("{}/file/bot{TOKEN}/documents/file_7.pdf", sim.base_url());
    let download = request(Method::GET, &url, &[], "").await?;
    assert_eq!(download.status, 200);
    assert_eq!(&download.body[..], b"%PDF-1.4 test");
    assert_eq!(download.header("content-type"), Some("application/pdf"));

    let wrong = format!("{}/file/botWRONG/documents/file_7.pdf", sim.base_url());
    assert_eq!(request(Method::GET, &wrong, &[], "").await?.status, 401);
    let missing = format!("{}/file/bot{TOKEN}/documents/none.pdf", sim.base_url());
    assert_eq!(request(Method::GET, &missing, &[], "").await?.status, 404);

    assert_bad_request(
        &sim,
        "getFile",
        json!({ "file_id": "NOPE" }),
        "Bad Request: invalid file_id",
    )
    .await
}

#[tokio::test]
async fn answer_callback_query_records_id_and_rejects_unknown_or_repeated() -> anyhow::Result<()> {
    let sim = sim().await?;
    let invalid =
        "Bad Request: query is too old and response timeout expired or query ID is invalid";
    assert_bad_request(
        &sim,
        "answerCallbackQuery",
        json!({ "callback_query_id": "nope" }),
        invalid,
    )
    .await?;
    let _update = sim.update_callback(5, CHAT, CHAT, "cbq-1", "yes", 1);
    let response = call(
        &sim,
        "answerCallbackQuery",
        &json!({ "callback_query_id": "cbq-1", "text": "Thanks" }),
    )
    .await?;
    assert_eq!(response.status, 200);
    assert_eq!(response.json()?, json!({ "ok": true, "result": true }));
    assert_eq!(sim.answered_callbacks(), vec!["cbq-1".to_string()]);
    assert_bad_request(
        &sim,
        "answerCallbackQuery",
        json!({ "callback_query_id": "cbq-1" }),
        invalid,
    )
    .await
}

#[tokio::test]
async fn rate_limit_fault_returns_429_with_retry_after_then_recovers() -> anyhow::Result<()> {
    let sim = sim().await?;
    sim.fail_next(
        1,
        Fault::RateLimit {
            retry_after_secs: 7,
        },
    );
    let body = json!({ "chat_id": CHAT, "text": "hi" });
    let limited = call(&sim, "sendMessage", &body).await?;
    assert_eq!(limited.status, 429);
    assert_eq!(
        limited.json()?,
        json!({ "ok": false, "error_code": 429, "description": "Too Many Requests: retry after 7", "parameters": { "retry_after": 7 } })
    );
    assert!(sim.sent().is_empty());
    assert_eq!(call(&sim, "sendMessage", &body).await?.status, 200);
    assert_eq!(sim.sent().len(), 1);
    Ok(())
}

#[tokio::test]
async fn server_error_fault_answers_injected_status_with_telegram_body() -> anyhow::Result<()> {
    let sim = sim().await?;
    sim.fail_next(1, Fault::ServerError(502));
    sim.fail_next(1, Fault::ServerError(500));
    let body = json!({ "chat_id": CHAT, "text": "hi" });
    let first = call(&sim, "sendMessage", &body).await?;
    assert_eq!(first.status, 502);
    assert_eq!(
        first.json()?,
        json!({ "ok": false, "error_code": 502, "description": "Bad Gateway" })
    );
    let second = call(&sim, "sendMessage", &body).await?;
    assert_eq!(second.status, 500);
    assert_eq!(
        second.json()?,
        json!({ "ok": false, "error_code": 500, "description": "Internal Server Error" })
    );
    assert_eq!(call(&sim, "sendMessage", &body).await?.status, 200);
    Ok(())
}

#[tokio::test]
async fn faults_are_consumed_fifo_by_authenticated_calls_only_and_not_by_downloads(
) -> anyhow::Result<()> {
    let sim = sim().await?;
    sim.add_file("F", "photos/f.jpg", &b"jpg"[..]);
    sim.fail_next(2, Fault::ServerError(503));
    // A wrong-token call and a download do not eat the faults.
    assert_eq!(
        call_with_token(&sim, "1:bad", "sendMessage", &json!({}))
            .await?
            .status,
        401
    );
    let download = format!("{}/file/bot{TOKEN}/photos/f.jpg", sim.base_url());
    assert_eq!(request(Method::GET, &download, &[], "").await?.status, 200);
    assert_eq!(sim.pending_faults(), 2);
    assert_eq!(
        call(&sim, "getFile", &json!({ "file_id": "F" }))
            .await?
            .status,
        503
    );
    assert_eq!(
        call(&sim, "getFile", &json!({ "file_id": "F" }))
            .await?
            .status,
        503
    );
    assert_eq!(
        call(&sim, "getFile", &json!({ "file_id": "F" }))
            .await?
            .status,
        200
    );
    Ok(())
}

#[tokio::test]
async fn delay_fault_sleeps_then_handles_normally() -> anyhow::Result<()> {
    let sim = sim().await?;
    sim.fail_next(1, Fault::Delay(Duration::from_millis(300)));
    let started = Instant::now();
    let response = call(
        &sim,
        "sendMessage",
        &json!({ "chat_id": CHAT, "text": "slow" }),
    )
    .await?;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(response.status, 200);
    assert_eq!(sim.sent().len(), 1);
    Ok(())
}

#[tokio::test]
async fn down_simulator_answers_503_to_every_api_call_until_back_up() -> anyhow::Result<()> {
    let sim = sim().await?;
    sim.set_down(true);
    let body = json!({ "chat_id": CHAT, "text": "hi" });
    let down = call(&sim, "sendMessage", &body).await?;
    assert_eq!(down.status, 503);
    assert_eq!(down.json()?["ok"], json!(false));
    assert_eq!(down.json()?["error_code"], json!(503));
    assert_eq!(
        call_with_token(&sim, "bad", "getFile", &json!({}))
            .await?
            .status,
        503
    );
    sim.set_down(false);
    assert_eq!(call(&sim, "sendMessage", &body).await?.status, 200);
    Ok(())
}

#[tokio::test]
async fn request_count_counts_every_api_call_but_not_file_downloads() -> anyhow::Result<()> {
    let sim = sim().await?;
    sim.add_file("F", "photos/f.jpg", &b"jpg"[..]);
    call(
        &sim,
        "sendMessage",
        &json!({ "chat_id": CHAT, "text": "a" }),
    )
    .await?;
    call(&sim, "sendMessage", &json!({ "chat_id": CHAT })).await?;
    call_with_token(&sim, "bad", "sendMessage", &json!({})).await?;
    call(&sim, "nope", &json!({})).await?;
    request(
        Method::GET,
        &format!("{}/file/bot{TOKEN}/photos/f.jpg", sim.base_url()),
        &[],
        "",
    )
    .await?;
    assert_eq!(sim.request_count(), 4);
    Ok(())
}

#[tokio::test]
async fn form_encoded_body_with_json_string_reply_markup_is_accepted() -> anyhow::Result<()> {
    let sim = sim().await?;
    let markup = json!({ "inline_keyboard": [[{ "text": "A", "callback_data": "a" }]] });
    let form = inlet_simulators::form_encode(&[
        ("chat_id".into(), CHAT.to_string()),
        ("text".into(), "from a form".into()),
        ("reply_markup".into(), markup.to_string()),
    ]);
    let url = format!("{}/bot{TOKEN}/sendMessage", sim.base_url());
    let (status, _, body) = post(
        &url,
        &[("content-type", "application/x-www-form-urlencoded")],
        form,
    )
    .await?;
    assert_eq!(status, 200);
    let body: Value = serde_json::from_slice(&body)?;
    assert_eq!(body["result"]["text"], json!("from a form"));
    assert_eq!(body["result"]["reply_markup"], markup);
    Ok(())
}

#[tokio::test]
async fn malformed_json_body_is_a_bad_request() -> anyhow::Result<()> {
    let sim = sim().await?;
    let url = format!("{}/bot{TOKEN}/sendMessage", sim.base_url());
    let response = request(
        Method::POST,
        &url,
        &[("content-type", "application/json")],
        "{not json",
    )
    .await?;
    assert_eq!(response.status, 400);
    assert_eq!(response.json()?["error_code"], json!(400));
    Ok(())
}

#[tokio::test]
async fn update_builders_produce_real_update_shapes() -> anyhow::Result<()> {
    let sim = TelegramSim::start(TOKEN).await?;
    let text = sim.update_text(100, 9, 9, "Ada", "/start now");
    assert_eq!(text["update_id"], json!(100));
    let message = &text["message"];
    assert_eq!(message["message_id"], json!(1));
    assert_eq!(
        message["chat"],
        json!({ "id": 9, "type": "private", "first_name": "Ada" })
    );
    assert_eq!(message["from"]["id"], json!(9));
    assert_eq!(message["from"]["is_bot"], json!(false));
    assert_eq!(message["from"]["first_name"], json!("Ada"));
    assert_eq!(message["text"], json!("/start now"));
    assert_eq!(
        message["entities"],
        json!([{ "offset": 0, "length": 6, "type": "bot_command" }])
    );
    // The user wrote to the bot, so the bot may now answer in that chat.
    assert_eq!(
        call(&sim, "sendMessage", &json!({ "chat_id": 9, "text": "hi" }))
            .await?
            .status,
        200
    );

    sim.add_file("BIG", "photos/big.jpg", vec![1u8; 500]);
    let photo = sim.update_photo(101, 9, 9, "BIG", Some("my cat"));
    let sizes = photo["message"]["photo"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(sizes.len(), 3);
    assert_eq!(sizes[2]["file_id"], json!("BIG"));
    assert_eq!(sizes[2]["file_size"], json!(500));
    assert_ne!(sizes[0]["file_id"], json!("BIG"));
    assert_eq!(photo["message"]["caption"], json!("my cat"));
    assert_eq!(photo["message"]["message_id"], json!(3));

    let doc = sim.update_document(102, 9, 9, "DOC", "a.pdf", "application/pdf", None);
    assert_eq!(doc["message"]["document"]["file_id"], json!("DOC"));
    assert_eq!(doc["message"]["document"]["file_name"], json!("a.pdf"));
    assert_eq!(
        doc["message"]["document"]["mime_type"],
        json!("application/pdf")
    );
    assert!(doc["message"].get("caption").is_none());

    let edited = sim.update_edited_text(103, 9, 9, 1, "/start later");
    assert!(edited.get("message").is_none());
    assert_eq!(edited["edited_message"]["message_id"], json!(1));
    assert_eq!(edited["edited_message"]["text"], json!("/start later"));
    assert_eq!(edited["edited_message"]["date"], message["date"]);
    assert!(edited["edited_message"]["edit_date"].is_u64());

    let callback = sim.update_callback(104, 9, 9, "cb-9", "yes", 2);
    let query = &callback["callback_query"];
    assert_eq!(query["id"], json!("cb-9"));
    assert_eq!(query["data"], json!("yes"));
    assert_eq!(query["from"]["id"], json!(9));
    assert!(query["chat_instance"].is_string());
    assert_eq!(query["message"]["message_id"], json!(2));
    assert_eq!(query["message"]["from"]["is_bot"], json!(true));
    assert_eq!(
        query["message"]["reply_markup"],
        json!({ "inline_keyboard": [[{ "text": "Option yes", "callback_data": "yes" }]] })
    );
    Ok(())
}

#[tokio::test]
async fn update_callback_reuses_the_bot_messages_real_keyboard() -> anyhow::Result<()> {
    let sim = sim().await?;
    let markup = json!({ "inline_keyboard": [[{ "text": "Yes please", "callback_data": "y" }, { "text": "No", "callback_data": "n" }]] });
    let sent = call(
        &sim,
        "sendMessage",
        &json!({ "chat_id": CHAT, "text": "Continue?", "reply_markup": markup }),
    )
    .await?;
    let id = sent.json()?["result"]["message_id"]
        .as_i64()
        .unwrap_or_default();
    let update = sim.update_callback(1, CHAT, CHAT, "q", "n", id);
    assert_eq!(
        update["callback_query"]["message"]["text"],
        json!("Continue?")
    );
    assert_eq!(update["callback_query"]["message"]["reply_markup"], markup);
    Ok(())
}

#[tokio::test]
async fn deliver_posts_update_json_with_secret_token_header() -> anyhow::Result<()> {
    let sim = sim().await?;
    let receiver = common::Receiver::start(200, "").await?;
    let update = sim.update_text(1, CHAT, CHAT, "Ada", "hi");
    let (status, _) = sim
        .deliver(
            &receiver.url("/webhooks/telegram"),
            Some("s3cr3t_-"),
            &update,
        )
        .await?;
    assert_eq!(status, 200);
    let (status, _) = sim
        .deliver(&receiver.url("/webhooks/telegram"), None, &update)
        .await?;
    assert_eq!(status, 200);
    let got = receiver.received();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].method, "POST");
    assert_eq!(got[0].path, "/webhooks/telegram");
    assert_eq!(
        got[0].header("content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(
        got[0].header("x-telegram-bot-api-secret-token").as_deref(),
        Some("s3cr3t_-")
    );
    assert_eq!(serde_json::from_slice::<Value>(&got[0].body)?, update);
    assert!(got[1].header("x-telegram-bot-api-secret-token").is_none());
    Ok(())
}

#[tokio::test]
async fn deliver_reports_the_receivers_status_and_body() -> anyhow::Result<()> {
    let sim = sim().await?;
    let receiver = common::Receiver::start(401, "bad secret").await?;
    let update = sim.update_text(1, CHAT, CHAT, "Ada", "hi");
    let (status, body) = sim
        .deliver(&receiver.url("/wh"), Some("wrong"), &update)
        .await?;
    assert_eq!((status, body.as_str()), (401, "bad secret"));
    Ok(())
}

#[tokio::test]
async fn simulator_stops_accepting_connections_when_dropped() -> anyhow::Result<()> {
    let sim = sim().await?;
    let url = format!("{}/bot{TOKEN}/getFile", sim.base_url());
    drop(sim);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(request(Method::POST, &url, &[], "").await.is_err());
    Ok(())
}
