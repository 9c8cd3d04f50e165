//! Parsing Meta's documented Messenger webhook examples and building Send API bodies.

use super::*;
use inlet_sdk::{ListSection, TextFormat, TimeSlot};

const NOW: u64 = 1_700_000_000_000;

fn parse_raw(raw: &str) -> Parsed {
    let n: Notification = serde_json::from_str(raw).expect("example payload parses");
    parse(&n, Some("PAGE_ID"), NOW)
}

/// Meta's `messages` webhook example (a text message).
const TEXT: &str = r#"{"object":"page","entry":[{"id":"PAGE_ID","time":1458692752478,"messaging":[{"sender":{"id":"USER_PSID"},"recipient":{"id":"PAGE_ID"},"timestamp":1458692752478,"message":{"mid":"m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fplwlqLP_5cgXIbu7I3rBN0P","text":"hello, world!"}}]}]}"#;

const QUICK_REPLY: &str = r#"{"object":"page","entry":[{"id":"PAGE_ID","time":1458692752478,"messaging":[{"sender":{"id":"USER_PSID"},"recipient":{"id":"PAGE_ID"},"timestamp":1458692752478,"message":{"mid":"m_QR","text":"Red","quick_reply":{"payload":"DEVELOPER_DEFINED_PAYLOAD_FOR_PICKING_RED"}}}]}]}"#;

/// Meta's `messaging_postbacks` example.
const POSTBACK: &str = r#"{"object":"page","entry":[{"id":"PAGE_ID","time":1458692752478,"messaging":[{"sender":{"id":"USER_PSID"},"recipient":{"id":"PAGE_ID"},"timestamp":1527459824,"postback":{"mid":"m_MESSAGE-ID","title":"TITLE-FOR-THE-CTA","payload":"USER-DEFINED-PAYLOAD"}}]}]}"#;

const READ: &str = r#"{"object":"page","entry":[{"id":"PAGE_ID","time":1458668856463,"messaging":[{"sender":{"id":"USER_PSID"},"recipient":{"id":"PAGE_ID"},"timestamp":1458668856463,"read":{"watermark":1458668856253}}]}]}"#;

const DELIVERY: &str = r#"{"object":"page","entry":[{"id":"PAGE_ID","time":1458668856463,"messaging":[{"sender":{"id":"USER_PSID"},"recipient":{"id":"PAGE_ID"},"delivery":{"mids":["mid.1458668856218:ed81099e15d3f4f233"],"watermark":1458668856253}}]}]}"#;

const ECHO: &str = r#"{"object":"page","entry":[{"id":"PAGE_ID","time":1458692752478,"messaging":[{"sender":{"id":"PAGE_ID"},"recipient":{"id":"USER_PSID"},"timestamp":1458692752478,"message":{"is_echo":true,"app_id":1517776481860111,"metadata":"x","mid":"m_ECHO","text":"we said this"}}]}]}"#;

const IMAGE: &str = r#"{"object":"page","entry":[{"id":"PAGE_ID","time":1,"messaging":[{"sender":{"id":"USER_PSID"},"recipient":{"id":"PAGE_ID"},"timestamp":1458692752478,"message":{"mid":"m_IMG","attachments":[{"type":"image","payload":{"url":"https://scontent.example/photo.jpg"}}]}}]}]}"#;

#[test]
fn metas_text_example_becomes_a_message_with_the_customers_time() {
    let parsed = parse_raw(TEXT);
    let [InboundEvent::Message(m)] = parsed.events.as_slice() else {
        panic!("one message expected");
    };
    assert!(m.provider_id.starts_with("m_AG5Hz2Uq"));
    assert_eq!(m.conversation, "USER_PSID");
    assert_eq!(m.contact.id, "USER_PSID");
    assert_eq!(m.text.as_deref(), Some("hello, world!"));
    assert_eq!(m.timestamp_ms, 1_458_692_752_478);
}

#[test]
fn quick_reply_taps_and_postbacks_are_postbacks() {
    let events = parse_raw(QUICK_REPLY).events;
    let [InboundEvent::Postback(p)] = events.as_slice() else {
        panic!("quick reply tap");
    };
    assert_eq!(p.provider_id, "m_QR");
    assert_eq!(p.payload, "DEVELOPER_DEFINED_PAYLOAD_FOR_PICKING_RED");
    assert_eq!(p.label.as_deref(), Some("Red"));
    let events = parse_raw(POSTBACK).events;
    let [InboundEvent::Postback(p)] = events.as_slice() else {
        panic!("postback");
    };
    assert_eq!(p.provider_id, "m_MESSAGE-ID");
    assert_eq!(p.payload, "USER-DEFINED-PAYLOAD");
    assert_eq!(p.label.as_deref(), Some("TITLE-FOR-THE-CTA"));
}

#[test]
fn echoes_and_other_pages_are_ignored_attachments_kept() {
    assert!(parse_raw(ECHO).events.is_empty());
    let n: Notification = serde_json::from_str(TEXT).expect("parses");
    assert!(parse(&n, Some("ANOTHER_PAGE"), NOW).events.is_empty());
    assert_eq!(parse(&n, None, NOW).events.len(), 1);
    let events = parse_raw(IMAGE).events;
    let [InboundEvent::Message(m)] = events.as_slice() else {
        panic!("image");
    };
    assert_eq!(m.attachments[0].kind, MediaKind::Image);
    assert_eq!(
        m.attachments[0].url.as_deref(),
        Some("https://scontent.example/photo.jpg")
    );
}

#[test]
fn watermarks_become_receipts_for_what_we_sent_before_them() {
    let parsed = parse_raw(READ);
    assert!(parsed.events.is_empty());
    let w = &parsed.watermarks[0];
    assert_eq!(w.status, DeliveryStatus::Read);
    let sent = [
        SentMid {
            mid: "m_old".into(),
            at_ms: 1_458_668_856_000,
        },
        SentMid {
            mid: "m_new".into(),
            at_ms: 1_458_668_857_000,
        },
    ];
    let receipts = watermark_receipts(w, &sent);
    assert_eq!(receipts.len(), 1);
    let InboundEvent::Receipt(r) = &receipts[0] else {
        panic!("receipt");
    };
    assert_eq!(r.message_ref, "m_old");
    assert_eq!(r.provider_id, "m_old:read");
    // A delivery that lists its mids needs nothing we remembered.
    let parsed = parse_raw(DELIVERY);
    let receipts = watermark_receipts(&parsed.watermarks[0], &[]);
    let [InboundEvent::Receipt(r)] = receipts.as_slice() else {
        panic!("delivery receipt");
    };
    assert_eq!(r.message_ref, "mid.1458668856218:ed81099e15d3f4f233");
    assert_eq!(r.status, DeliveryStatus::Delivered);
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

fn outbound(content: Content, tag: Option<&str>) -> OutboundMessage {
    OutboundMessage {
        idempotency_key: "k".into(),
        conversation: "1254459154682919".into(),
        recipient: None,
        content,
        reply_to: None,
        tag: tag.map(str::to_string),
        public_reply: false,
    }
}

#[test]
fn text_goes_out_as_a_response_and_a_tagged_message_as_message_tag() {
    let bodies = outbound_payloads(&outbound(content("Hi!"), None)).expect("valid");
    assert_eq!(
        bodies,
        vec![
            json!({"recipient": {"id": "1254459154682919"}, "messaging_type": "RESPONSE",
                    "message": {"text": "Hi!"}})
        ]
    );
    let bodies = outbound_payloads(&outbound(content("Late"), Some("HUMAN_AGENT"))).expect("ok");
    assert_eq!(bodies[0]["messaging_type"], "MESSAGE_TAG");
    assert_eq!(bodies[0]["tag"], "HUMAN_AGENT");
}

#[test]
fn quick_replies_buttons_and_lists_use_messengers_shapes_and_limits() {
    let mut c = content("Pick");
    c.quick_replies = vec![choice("a", "A"), choice("b", "B")];
    let m = &messages(&c).expect("quick replies")[0];
    assert_eq!(m["text"], "Pick");
    assert_eq!(
        m["quick_replies"][1],
        json!({"content_type": "text", "title": "B", "payload": "b"})
    );
    c.quick_replies = (0..14).map(|i| choice(&format!("q{i}"), "Q")).collect();
    let err = messages(&c).expect_err("14 quick replies");
    assert!(err.message().contains("1 to 13"), "{}", err.message());

    let mut c = content("Need help?");
    c.buttons = vec![choice("yes", "Yes")];
    let m = &messages(&c).expect("buttons")[0];
    assert_eq!(m["attachment"]["payload"]["template_type"], "button");
    assert_eq!(
        m["attachment"]["payload"]["buttons"][0],
        json!({"type": "postback", "title": "Yes", "payload": "yes"})
    );
    c.text = "x".repeat(641);
    assert!(messages(&c).is_err(), "button text over 640");

    let mut c = content("Which one?");
    c.rich = Some(Rich::ListPicker(ListPicker {
        title: "Plans".into(),
        button_label: "Choose".into(),
        sections: vec![ListSection {
            title: None,
            items: vec![choice("basic", "Basic"), choice("pro", "Pro")],
        }],
        multi_select: false,
    }));
    let ms = messages(&c).expect("list");
    assert_eq!(ms[0]["text"], "Which one?");
    let elements = &ms[1]["attachment"]["payload"]["elements"];
    assert_eq!(ms[1]["attachment"]["payload"]["template_type"], "generic");
    assert_eq!(elements[1]["title"], "Pro");
    assert_eq!(
        elements[1]["buttons"][0],
        json!({"type": "postback", "title": "Choose", "payload": "pro"})
    );
}

#[test]
fn a_time_picker_is_quick_replies_of_local_slot_times() {
    let mut c = content("When?");
    c.rich = Some(Rich::TimePicker(TimePicker {
        title: "Pick a time".into(),
        slots: vec![TimeSlot {
            id: "s1".into(),
            start_ms: 1_795_525_200_000,
            duration_minutes: 30,
        }],
        time_zone: "Europe/Berlin".into(),
        location: None,
    }));
    let m = &messages(&c).expect("time picker")[0];
    assert_eq!(m["quick_replies"][0]["title"], "Tue 24 Nov 14:00");
    assert_eq!(m["quick_replies"][0]["payload"], "s1");
    assert!(m["text"]
        .as_str()
        .is_some_and(|t| t.contains("Europe/Berlin")));
}

#[test]
fn graph_errors_map_to_retryable_or_permanent() {
    let body = |code: u32, sub: Option<u32>| {
        let mut e = json!({"error": {"message": format!("(#{code}) boom"), "type": "OAuthException", "code": code}});
        if let Some(sub) = sub {
            e["error"]["error_subcode"] = json!(sub);
        }
        e.to_string().into_bytes()
    };
    assert!(matches!(
        map_error(400, &body(613, None), Some(3000)),
        ChannelError::RateLimited(r) if r.retry_after_ms == Some(3000)
    ));
    assert!(matches!(
        map_error(400, &body(4, None), None),
        ChannelError::RateLimited(_)
    ));
    for code in [1, 2, 1200] {
        assert!(matches!(
            map_error(400, &body(code, None), None),
            ChannelError::Transient(_)
        ));
    }
    assert!(matches!(
        map_error(502, b"<html>bad gateway</html>", None),
        ChannelError::Transient(_)
    ));
    for code in [551, 10, 190, 200, 100] {
        let err = map_error(400, &body(code, Some(2018278)), None);
        assert!(matches!(err, ChannelError::Permanent(_)), "{code}");
        assert!(err.message().contains("boom"), "{}", err.message());
        assert!(err.message().contains("2018278"), "{}", err.message());
    }
}
