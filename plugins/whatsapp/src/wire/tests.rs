//! Parsing Meta's documented example webhooks and building request bodies.

use super::*;
use inlet_sdk::{Content, ListSection, ProviderTemplate, RichLink, TimeSlot};

const NOW: u64 = 1_700_000_000_000;

fn parse(raw: &str) -> Vec<InboundEvent> {
    let n: Notification = serde_json::from_str(raw).expect("example payload parses");
    events(&n, Some("123456123"), NOW)
}

/// Meta's "text message" webhook example (Cloud API webhooks, payload examples).
const TEXT: &str = r#"{"object":"whatsapp_business_account","entry":[{"id":"0","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"16505551111","phone_number_id":"123456123"},"contacts":[{"profile":{"name":"test user name"},"wa_id":"16315551181"}],"messages":[{"from":"16315551181","id":"ABGGFlA5Fpa","timestamp":"1504902988","type":"text","text":{"body":"this is a text message"}}]}}]}]}"#;

/// Meta's "reply button" example: a tap on an interactive reply button.
const BUTTON_REPLY: &str = r#"{"object":"whatsapp_business_account","entry":[{"id":"WHATSAPP_BUSINESS_ACCOUNT_ID","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"PHONE_NUMBER","phone_number_id":"123456123"},"contacts":[{"profile":{"name":"NAME"},"wa_id":"16315551234"}],"messages":[{"context":{"from":"PHONE_NUMBER","id":"wamid.ORIGINAL"},"from":"16315551234","id":"wamid.TAP","timestamp":"1504902990","interactive":{"button_reply":{"id":"unique-button-identifier-here","title":"button-text"},"type":"button_reply"},"type":"interactive"}]},"field":"messages"}]}]}"#;

/// Meta's "sent" status example.
const STATUS_SENT: &str = r#"{"object":"whatsapp_business_account","entry":[{"id":"1314702302917944","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15556459128","phone_number_id":"123456123"},"statuses":[{"id":"wamid.HBgNNTUxNjk5MjMxODIyMhUCABEYEjgxQkVFRDVBQTVDODFDOTg3MQA=","status":"sent","timestamp":"1750857384","recipient_id":"5516992318222","conversation":{"id":"a75d17ad06104c51166f948319b03c6a","expiration_timestamp":"1750943820","origin":{"type":"service"}},"pricing":{"billable":true,"pricing_model":"CBP","category":"service"}}]},"field":"messages"}]}]}"#;

/// A failed status as Meta reports a send outside the customer-service window.
const STATUS_FAILED: &str = r#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15556459128","phone_number_id":"123456123"},"statuses":[{"id":"wamid.X","status":"failed","timestamp":"1683871427","recipient_id":"919999999999","errors":[{"code":131047,"title":"Re-engagement message","message":"Re-engagement message","error_data":{"details":"Message failed to send because more than 24 hours have passed since the customer last replied to this number."}}]}]}}]}]}"#;

#[test]
fn metas_text_example_becomes_a_message_with_contact_name() {
    let events = parse(TEXT);
    assert_eq!(events.len(), 1);
    let InboundEvent::Message(m) = &events[0] else {
        panic!("expected a message: {events:?}");
    };
    assert_eq!(m.provider_id, "ABGGFlA5Fpa");
    assert_eq!(m.conversation, "16315551181");
    assert_eq!(m.contact.id, "16315551181");
    assert_eq!(m.contact.display_name.as_deref(), Some("test user name"));
    assert_eq!(m.text.as_deref(), Some("this is a text message"));
    assert_eq!(m.timestamp_ms, 1_504_902_988_000);
}

#[test]
fn metas_button_reply_example_becomes_a_postback() {
    let events = parse(BUTTON_REPLY);
    let InboundEvent::Postback(p) = &events[0] else {
        panic!("expected a postback: {events:?}");
    };
    assert_eq!(p.provider_id, "wamid.TAP");
    assert_eq!(p.payload, "unique-button-identifier-here");
    assert_eq!(p.label.as_deref(), Some("button-text"));
    assert_eq!(p.message_ref.as_deref(), Some("wamid.ORIGINAL"));
    assert_eq!(p.conversation, "16315551234");
}

#[test]
fn list_replies_and_template_buttons_are_postbacks_too() {
    let list = TEXT.replace(
        r#""type":"text","text":{"body":"this is a text message"}"#,
        r#""type":"interactive","interactive":{"type":"list_reply","list_reply":{"id":"slot-2","title":"Tue 10:00","description":"30 min"}}"#,
    );
    let InboundEvent::Postback(p) = &parse(&list)[0] else {
        panic!("list reply");
    };
    assert_eq!(
        (p.payload.as_str(), p.label.as_deref()),
        ("slot-2", Some("Tue 10:00"))
    );
    let button = TEXT.replace(
        r#""type":"text","text":{"body":"this is a text message"}"#,
        r#""type":"button","button":{"payload":"STOP_PROMOS","text":"Stop promotions"}"#,
    );
    let InboundEvent::Postback(p) = &parse(&button)[0] else {
        panic!("template button");
    };
    assert_eq!(p.payload, "STOP_PROMOS");
    assert_eq!(p.label.as_deref(), Some("Stop promotions"));
}

#[test]
fn statuses_become_receipts_with_stable_ids_and_errors() {
    let InboundEvent::Receipt(r) = &parse(STATUS_SENT)[0] else {
        panic!("receipt");
    };
    assert_eq!(r.status, DeliveryStatus::Sent);
    assert_eq!(
        r.message_ref,
        "wamid.HBgNNTUxNjk5MjMxODIyMhUCABEYEjgxQkVFRDVBQTVDODFDOTg3MQA="
    );
    assert_eq!(r.provider_id, format!("{}:sent", r.message_ref));
    assert!(r.error.is_none());
    let InboundEvent::Receipt(r) = &parse(STATUS_FAILED)[0] else {
        panic!("receipt");
    };
    assert_eq!(r.status, DeliveryStatus::Failed);
    let error = r.error.as_ref().expect("error detail");
    assert_eq!(error.provider_code.as_deref(), Some("131047"));
    assert!(
        error.message.contains("Re-engagement message"),
        "{}",
        error.message
    );
    assert!(error.message.contains("24 hours"), "{}", error.message);
}

#[test]
fn media_location_contacts_and_unknown_types_never_fail_the_webhook() {
    let raw = TEXT.replace(
        r#"{"from":"16315551181","id":"ABGGFlA5Fpa","timestamp":"1504902988","type":"text","text":{"body":"this is a text message"}}"#,
        r#"{"from":"16315551181","id":"m1","timestamp":"1","type":"document","document":{"id":"MEDIA-1","mime_type":"application/pdf","sha256":"x","caption":"invoice","filename":"inv.pdf"}},
           {"from":"16315551181","id":"m2","timestamp":"1","type":"location","location":{"latitude":52.5,"longitude":13.4,"name":"Office","address":"Main St 1"}},
           {"from":"16315551181","id":"m3","timestamp":"1","type":"contacts","contacts":[{"name":{"formatted_name":"Ada L"},"phones":[{"phone":"+441234"}]}]},
           {"from":"16315551181","id":"m4","timestamp":"1","type":"unsupported","errors":[{"code":131051,"title":"Message type unknown"}]},
           {"from":"16315551181","id":"m5","timestamp":"1","type":"reaction","reaction":{"message_id":"wamid.Y","emoji":"👍"}},
           {"from":"16315551181","id":"m6","timestamp":"1","type":"sticker","sticker":{"id":"STK"}}"#,
    );
    let events = parse(&raw);
    assert_eq!(events.len(), 5, "the reaction is ignored: {events:?}");
    let messages: Vec<&InboundMessage> = events
        .iter()
        .map(|e| match e {
            InboundEvent::Message(m) => m,
            other => panic!("{other:?}"),
        })
        .collect();
    let doc = &messages[0].attachments[0];
    assert_eq!(doc.kind, MediaKind::File);
    assert_eq!(doc.provider_ref.as_deref(), Some("MEDIA-1"));
    assert_eq!(doc.mime_type.as_deref(), Some("application/pdf"));
    assert_eq!(doc.filename.as_deref(), Some("inv.pdf"));
    assert_eq!(messages[0].text.as_deref(), Some("invoice"));
    assert!(messages[1]
        .text
        .as_deref()
        .unwrap_or_default()
        .contains("Office, Main St 1"));
    assert_eq!(messages[1].attachments[0].kind, MediaKind::Location);
    assert!(messages[2]
        .text
        .as_deref()
        .unwrap_or_default()
        .contains("Ada L +441234"));
    let unknown = messages[3].text.as_deref().unwrap_or_default();
    assert!(
        unknown.contains("unsupported") && unknown.contains("Message type unknown"),
        "{unknown}"
    );
    assert_eq!(
        messages[4].attachments[0].mime_type.as_deref(),
        Some("image/webp")
    );
}

#[test]
fn changes_for_another_phone_number_are_skipped() {
    let n: Notification = serde_json::from_str(TEXT).expect("parses");
    assert!(events(&n, Some("999"), NOW).is_empty());
    assert_eq!(events(&n, None, NOW).len(), 1);
}

fn content(text: &str) -> Content {
    Content {
        text: text.into(),
        format: TextFormat::Plain,
        formatted: None,
        quick_replies: Vec::new(),
        buttons: Vec::new(),
        rich: None,
        attachments: Vec::new(),
    }
}

fn outbound(content: Content) -> OutboundMessage {
    OutboundMessage {
        idempotency_key: "k".into(),
        conversation: "16315551181".into(),
        recipient: None,
        content,
        reply_to: None,
        tag: None,
        public_reply: false,
    }
}

fn choice(id: &str, title: &str) -> Choice {
    Choice {
        id: id.into(),
        title: title.into(),
        description: None,
        image_url: None,
        url: None,
    }
}

fn bad_request_message(result: Result<Vec<Value>>) -> String {
    match result {
        Err(ChannelError::BadRequest(d)) => d.message,
        other => panic!("expected bad-request, got {other:?}"),
    }
}

#[test]
fn markdown_becomes_whatsapp_markup() {
    assert_eq!(
        super::whatsapp_markup(
            "# Order\n**Paid** and *shipped*, ~~late~~ \\*not\\* [track](https://t.example/1) `X1`"
        ),
        "*Order*\n*Paid* and _shipped_, ~late~ *not* track (https://t.example/1) `X1`"
    );
}

#[test]
fn text_uses_whatsapp_markup_preview_urls_and_reply_context() {
    let mut c = content("Hello *there*");
    c.format = TextFormat::Markdown;
    // The host writes markdown; WhatsApp gets its own markup.
    c.formatted = Some("Hello **there** *you*".into());
    let mut m = outbound(c);
    m.reply_to = Some("wamid.IN".into());
    let p = outbound_payloads(&m).expect("payload");
    assert_eq!(
        p,
        vec![json!({
            "messaging_product": "whatsapp", "recipient_type": "individual",
            "to": "16315551181", "context": {"message_id": "wamid.IN"},
            "type": "text", "text": {"body": "Hello *there* _you_", "preview_url": false}
        })]
    );
    let mut c = content("Track it here");
    c.rich = Some(Rich::RichLink(RichLink {
        url: "https://example.com/t/1".into(),
        title: "Tracking".into(),
        image_url: None,
    }));
    let p = outbound_payloads(&outbound(c)).expect("payload");
    assert_eq!(
        p[0]["text"]["body"],
        "Track it here\nhttps://example.com/t/1"
    );
    assert_eq!(p[0]["text"]["preview_url"], true);
}

#[test]
fn quick_replies_become_reply_buttons_within_limits() {
    let mut c = content("Was this helpful?");
    c.quick_replies = vec![choice("yes", "Yes"), choice("no", "No")];
    let p = outbound_payloads(&outbound(c.clone())).expect("payload");
    assert_eq!(p[0]["type"], "interactive");
    assert_eq!(p[0]["interactive"]["type"], "button");
    assert_eq!(p[0]["interactive"]["body"]["text"], "Was this helpful?");
    assert_eq!(
        p[0]["interactive"]["action"]["buttons"][1],
        json!({"type": "reply", "reply": {"id": "no", "title": "No"}})
    );
    c.quick_replies.push(choice("maybe", "Maybe"));
    c.quick_replies.push(choice("later", "Later"));
    let msg = bad_request_message(outbound_payloads(&outbound(c.clone())));
    assert!(msg.contains("at most 3"), "{msg}");
    c.quick_replies = vec![choice("x", "A title longer than twenty")];
    let msg = bad_request_message(outbound_payloads(&outbound(c.clone())));
    assert!(
        msg.contains("button 0 title") && msg.contains("20"),
        "{msg}"
    );
    c.quick_replies = vec![choice(&"i".repeat(257), "ok")];
    let msg = bad_request_message(outbound_payloads(&outbound(c)));
    assert!(msg.contains("button 0 id") && msg.contains("256"), "{msg}");
}

fn picker(sections: Vec<ListSection>) -> ListPicker {
    ListPicker {
        title: "Pick".into(),
        button_label: "Options".into(),
        sections,
        multi_select: false,
    }
}

#[test]
fn list_pickers_become_lists_and_over_limit_lists_are_refused() {
    let mut c = content("Which topic?");
    let mut item = choice("billing", "Billing");
    item.description = Some("Invoices and refunds".into());
    c.rich = Some(Rich::ListPicker(picker(vec![ListSection {
        title: Some("Topics".into()),
        items: vec![item, choice("tech", "Technical")],
    }])));
    let p = outbound_payloads(&outbound(c.clone())).expect("payload");
    let i = &p[0]["interactive"];
    assert_eq!(i["type"], "list");
    assert_eq!(i["action"]["button"], "Options");
    assert_eq!(i["action"]["sections"][0]["title"], "Topics");
    assert_eq!(
        i["action"]["sections"][0]["rows"][0],
        json!({"id": "billing", "title": "Billing", "description": "Invoices and refunds"})
    );
    let eleven: Vec<Choice> = (0..11).map(|n| choice(&n.to_string(), "Row")).collect();
    c.rich = Some(Rich::ListPicker(picker(vec![ListSection {
        title: None,
        items: eleven,
    }])));
    let msg = bad_request_message(outbound_payloads(&outbound(c.clone())));
    assert!(msg.contains("rows") && msg.contains("10"), "{msg}");
    let mut long = choice("d", "Row");
    long.description = Some("d".repeat(73));
    c.rich = Some(Rich::ListPicker(picker(vec![ListSection {
        title: None,
        items: vec![long],
    }])));
    let msg = bad_request_message(outbound_payloads(&outbound(c.clone())));
    assert!(msg.contains("description") && msg.contains("72"), "{msg}");
    c.rich = Some(Rich::ListPicker(picker(vec![
        ListSection {
            title: Some("A".into()),
            items: vec![choice("a", "A")],
        },
        ListSection {
            title: None,
            items: vec![choice("b", "B")],
        },
    ])));
    let msg = bad_request_message(outbound_payloads(&outbound(c)));
    assert!(msg.contains("section 1 title is required"), "{msg}");
}

#[test]
fn a_time_picker_is_a_list_of_slots_in_the_pickers_time_zone() {
    let mut c = content("When should we call?");
    c.rich = Some(Rich::TimePicker(TimePicker {
        title: "Call back".into(),
        slots: vec![
            TimeSlot {
                id: "s1".into(),
                start_ms: 1_764_000_000_000,
                duration_minutes: 30,
            },
            TimeSlot {
                id: "s2".into(),
                start_ms: 1_764_003_600_000,
                duration_minutes: 30,
            },
        ],
        time_zone: "Europe/Berlin".into(),
        location: None,
    }));
    let p = outbound_payloads(&outbound(c)).expect("payload");
    let i = &p[0]["interactive"];
    assert_eq!(i["type"], "list");
    // 1_764_000_000_000 ms = Mon 2025-11-24 16:00:00 UTC = 17:00 in Berlin (CET).
    assert_eq!(
        i["action"]["sections"][0]["rows"][0],
        json!({"id": "s1", "title": "Mon 24 Nov 17:00", "description": "30 min"})
    );
    let body = i["body"]["text"].as_str().unwrap_or_default();
    assert!(body.ends_with("(Times in Europe/Berlin)"), "{body}");
    // Summer time: 2026-07-01 13:00 UTC is 15:00 in Berlin (CEST).
    let zone = inlet_sdk::slots::TimeZone::get("Europe/Berlin").expect("zone");
    assert_eq!(
        inlet_sdk::slots::label(1_782_910_800_000, &zone).expect("time"),
        "Wed 01 Jul 15:00"
    );
}

#[test]
fn templates_carry_name_language_and_text_parameters() {
    let mut c = content("ignored: the approved text is used");
    c.rich = Some(Rich::Template(ProviderTemplate {
        name: "order_update".into(),
        language: "en_US".into(),
        parameters: vec!["Ada".into(), "4711".into()],
    }));
    let p = outbound_payloads(&outbound(c)).expect("payload");
    assert_eq!(p.len(), 1);
    assert_eq!(p[0]["type"], "template");
    assert_eq!(
        p[0]["template"],
        json!({
            "name": "order_update",
            "language": {"code": "en_US", "policy": "deterministic"},
            "components": [{"type": "body", "parameters": [
                {"type": "text", "text": "Ada"}, {"type": "text", "text": "4711"}
            ]}]
        })
    );
}

#[test]
fn media_is_sent_by_link_with_the_text_as_caption() {
    let mut c = content("Your label");
    c.attachments = vec![Attachment {
        kind: MediaKind::File,
        url: Some("https://cdn.example.com/label.pdf".into()),
        provider_ref: None,
        mime_type: Some("application/pdf".into()),
        filename: Some("label.pdf".into()),
        size_bytes: None,
        caption: None,
    }];
    let p = outbound_payloads(&outbound(c.clone())).expect("payload");
    assert_eq!(p.len(), 1);
    assert_eq!(
        p[0]["document"],
        json!({"link": "https://cdn.example.com/label.pdf", "caption": "Your label", "filename": "label.pdf"})
    );
    c.attachments[0].kind = MediaKind::Audio;
    let p = outbound_payloads(&outbound(c)).expect("payload");
    assert_eq!(p.len(), 2, "audio takes no caption: the text follows");
    assert_eq!(
        p[0]["audio"],
        json!({"link": "https://cdn.example.com/label.pdf"})
    );
    assert_eq!(p[1]["text"]["body"], "Your label");
}

#[test]
fn over_long_text_is_refused_not_truncated() {
    let msg = bad_request_message(outbound_payloads(&outbound(content(&"x".repeat(4097)))));
    assert!(msg.contains("text") && msg.contains("4096"), "{msg}");
}

fn graph(code: i64, message: &str) -> Vec<u8> {
    json!({"error": {"message": message, "type": "OAuthException", "code": code,
                     "error_data": {"messaging_product": "whatsapp", "details": "details here"},
                     "fbtrace_id": "Az"}})
    .to_string()
    .into_bytes()
}

fn code_of(e: &ChannelError) -> Option<String> {
    match e {
        ChannelError::RateLimited(r) => r.provider_code.clone(),
        ChannelError::BadRequest(d)
        | ChannelError::Unauthorized(d)
        | ChannelError::Transient(d)
        | ChannelError::Permanent(d) => d.provider_code.clone(),
    }
}

#[test]
fn graph_errors_map_onto_the_contract() {
    let e = map_error(400, &graph(131047, "Re-engagement message"), None);
    assert!(matches!(e, ChannelError::Permanent(_)), "{e:?}");
    assert_eq!(code_of(&e).as_deref(), Some("131047"));
    assert!(e.message().contains("Re-engagement message") && e.message().contains("details here"));
    for code in [4, 80007, 130429, 131048, 131056] {
        let e = map_error(400, &graph(code, "slow down"), None);
        assert!(matches!(e, ChannelError::RateLimited(_)), "{code}: {e:?}");
    }
    let e = map_error(429, b"", Some(3000));
    assert!(matches!(&e, ChannelError::RateLimited(r) if r.retry_after_ms == Some(3000)));
    for code in [131026, 131051, 131052, 100, 132001] {
        assert!(matches!(
            map_error(400, &graph(code, "no"), None),
            ChannelError::Permanent(_)
        ));
    }
    assert!(matches!(
        map_error(401, &graph(190, "expired"), None),
        ChannelError::Unauthorized(_)
    ));
    assert!(matches!(
        map_error(503, &graph(2, "unavailable"), None),
        ChannelError::Transient(_)
    ));
    assert!(matches!(
        map_error(500, b"<html>", None),
        ChannelError::Transient(_)
    ));
    let transient = br#"{"error":{"message":"x","code":131000,"is_transient":true}}"#;
    assert!(matches!(
        map_error(400, transient, None),
        ChannelError::Transient(_)
    ));
}

#[test]
fn declared_capabilities_match_tables_a_and_b() {
    let m = crate::capabilities::manifest();
    let (auto, agent) = (&m.capabilities.automation, &m.capabilities.agent);
    assert_eq!(auto.time_picker.map(|t| t.max_slots), Some(10));
    assert!(agent.time_picker.is_none());
    for rich in [auto, agent] {
        assert_eq!(rich.formats, vec![TextFormat::Plain, TextFormat::Markdown]);
        assert!(rich.rich_link.is_some() && rich.templates && !rich.form);
        assert!(rich.adaptive_card.is_none() && rich.carousel.is_none());
        let q = rich.quick_replies.expect("quick replies");
        assert_eq!(
            (q.max_options, q.max_title_length, q.max_payload_length),
            (3, 20, 256)
        );
        let l = rich.list_picker.expect("list picker");
        assert_eq!(
            (
                l.max_sections,
                l.max_rows,
                l.max_title_length,
                l.max_description_length
            ),
            (10, 10, 24, 72)
        );
        assert!(!l.multi_select);
        assert_eq!(rich.max_text_length, 4096);
    }
    let window = m.capabilities.window.expect("window");
    assert_eq!((window.hours, window.human_agent_hours), (24, None));
}
