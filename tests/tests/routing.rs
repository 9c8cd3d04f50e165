//! Routing, scripts and permissions end to end: customers write through the real, signed
//! webhooks of the Telegram and Twilio simulators; agents and supervisors use the HTTP API.

use std::time::Duration;

use http::Method;
use inlet::runtime::Limits;
use inlet_simulators::{TelegramSim, TwilioSim};
use inlet_tests::{telegram_channel, twilio_channel, Inlet};
use serde_json::{json, Value};

const TG_TOKEN: &str = "123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";
const TG_SECRET: &str = "webhook-secret_42";
const CHAT: i64 = 777001;
const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TW_TOKEN: &str = "twilio-auth-token-secret";
const OURS: &str = "+14155550100";
const CUSTOMER: &str = "+14155550199";

struct Setup {
    tg: TelegramSim,
    sms: TwilioSim,
    inlet: Inlet,
}

async fn setup() -> anyhow::Result<Setup> {
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
    Ok(Setup { tg, sms, inlet })
}

async fn ok(inlet: &Inlet, method: Method, path: &str, body: Value) -> anyhow::Result<Value> {
    let (status, v) = inlet.api(method, path, Some(body)).await?;
    anyhow::ensure!((200..300).contains(&status), "{path}: HTTP {status}: {v}");
    Ok(v)
}

async fn agent_token(inlet: &Inlet, agent: Value) -> anyhow::Result<String> {
    let id = agent["id"].clone();
    ok(inlet, Method::POST, "/agents", agent).await?;
    let t = ok(
        inlet,
        Method::POST,
        "/tokens",
        json!({"role": "agent", "agent": id}),
    )
    .await?;
    Ok(t["token"].as_str().unwrap_or_default().to_string())
}

/// Ada writes on Telegram through the signed webhook.
async fn customer_writes(
    tg: &TelegramSim,
    inlet: &Inlet,
    id: i64,
    text: &str,
) -> anyhow::Result<()> {
    let update = tg.update_text(id, CHAT, CHAT, "Ada", text);
    let (status, body) = tg
        .deliver(&inlet.webhook("tg"), Some(TG_SECRET), &update)
        .await?;
    anyhow::ensure!(status == 200, "webhook answered {status}: {body}");
    Ok(())
}

/// Agents set themselves available with their own tokens.
async fn available(inlet: &Inlet, agents: &[(&str, &str)]) -> anyhow::Result<()> {
    for (token, id) in agents {
        let (s, a) = inlet
            .api_as(
                token,
                Method::POST,
                &format!("/agents/{id}/state"),
                Some(json!({"state": "available"})),
            )
            .await?;
        anyhow::ensure!(s == 200, "{id} available: HTTP {s}: {a}");
    }
    Ok(())
}

/// Ask until `check` holds (the automation runs in the background); the last answer.
async fn until(inlet: &Inlet, path: &str, check: impl Fn(&Value) -> bool) -> anyhow::Result<Value> {
    let mut last = Value::Null;
    for _ in 0..100 {
        let (_, v) = inlet.api(Method::GET, path, None).await?;
        if check(&v) {
            return Ok(v);
        }
        last = v;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("{path} never got there: {last}")
}

async fn only_case(inlet: &Inlet, channel: &str) -> anyhow::Result<String> {
    let list = until(inlet, &format!("/cases?channel={channel}"), |v| {
        v["cases"].as_array().is_some_and(|c| c.len() == 1)
    })
    .await?;
    Ok(list["cases"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_request_on_telegram_gets_the_bots_answer_and_reaches_the_billing_agent_while_an_sms_goes_to_support(
) -> anyhow::Result<()> {
    let Setup { tg, sms, inlet } = setup().await?;
    ok(
        &inlet,
        Method::POST,
        "/skills",
        json!({"id": "billing", "name": "Billing"}),
    )
    .await?;
    // The channels' default script `welcome` gets a second version: refunds go to billing.
    let v2 = ok(
        &inlet,
        Method::PUT,
        "/scripts/welcome",
        json!({"steps": [
            {"action": "branch", "if": {"keyword": ["refund"]}, "then": [
                {"action": "set-skill", "skill": "billing"},
                {"action": "set-priority", "priority": 2},
                {"action": "reply", "content": {"text": "A billing specialist will take over."}}
            ]}
        ]}),
    )
    .await?;
    assert_eq!(v2["version"], 2);
    ok(
        &inlet,
        Method::PUT,
        "/sla-policies",
        json!([{"skill": "support", "first_response_s": 3600}, {"channel": "tg", "first_response_s": 600, "resolution_s": 86400}]),
    )
    .await?;
    let ann = agent_token(&inlet, json!({"id": "ann", "name": "Ann", "channels": ["tg", "sms"], "skills": ["billing"], "proficiency": {"billing": 8}})).await?;
    let bob = agent_token(
        &inlet,
        json!({"id": "bob", "name": "Bob", "channels": ["tg", "sms"], "skills": ["support"]}),
    )
    .await?;
    available(&inlet, &[(&ann, "ann"), (&bob, "bob")]).await?;

    customer_writes(&tg, &inlet, 5001, "I want a refund for order 4711").await?;
    let refund = only_case(&inlet, "tg").await?;
    let case = until(&inlet, &format!("/cases/{refund}"), |v| {
        v["case"]["assignee"] == "ann"
    })
    .await?;
    assert_eq!(case["case"]["skill"], "billing");
    assert_eq!(case["case"]["priority"], 2);
    let sla = &case["case"]["sla"];
    let due = sla["first_response_due_ms"].as_u64().unwrap_or_default();
    let resolve_by = sla["resolution_due_ms"].as_u64().unwrap_or_default();
    assert_eq!(
        resolve_by - due,
        86_400_000 - 600_000,
        "the channel's policy: {sla}"
    );
    assert_eq!(sla["first_response_breached"], false);
    for _ in 0..100 {
        if tg
            .sent()
            .iter()
            .any(|m| m.body["text"] == "A billing specialist will take over.")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let sent: Vec<Value> = tg
        .sent()
        .into_iter()
        .map(|m| m.body["text"].clone())
        .collect();
    assert!(
        sent.contains(&json!("A billing specialist will take over.")),
        "the bot's answer reached Telegram: {sent:?}"
    );

    let params = sms.inbound_sms(
        "SM22222222222222222222222222222222",
        CUSTOMER,
        OURS,
        "Where is my parcel?",
        &[],
    );
    assert_eq!(
        sms.deliver(&inlet.webhook("sms"), &params, None).await?.0,
        200
    );
    let parcel = only_case(&inlet, "sms").await?;
    let case = until(&inlet, &format!("/cases/{parcel}"), |v| {
        v["case"]["assignee"] == "bob"
    })
    .await?;
    let sla = &case["case"]["sla"];
    assert!(
        sla["resolution_due_ms"].is_null(),
        "support's policy sets no resolution time: {sla}"
    );
    assert!(sla["first_response_due_ms"].is_u64(), "{sla}");

    // Bob logs off: his case goes back to the support queue; Ann lacks the skill.
    let (s, _) = inlet
        .api_as(
            &bob,
            Method::POST,
            "/agents/bob/state",
            Some(json!({"state": "offline"})),
        )
        .await?;
    assert_eq!(s, 200);
    let case = until(&inlet, &format!("/cases/{parcel}"), |v| {
        v["case"]["assignee"].is_null()
    })
    .await?;
    assert_eq!(case["case"]["skill"], "support");
    let (_, queues) = inlet.api(Method::GET, "/queues", None).await?;
    let support = queues
        .as_array()
        .into_iter()
        .flatten()
        .find(|q| q["skill"] == "support")
        .cloned();
    assert_eq!(
        support.map(|q| q["waiting"].clone()),
        Some(json!(1)),
        "{queues}"
    );
    let (s, none) = inlet
        .api_as(&ann, Method::POST, "/next-case", Some(json!({})))
        .await?;
    assert_eq!(s, 404, "not Ann's skill: {none}");
    // A supervisor moves it to billing, where Ann has room.
    let (s, moved) = inlet
        .api(
            Method::POST,
            &format!("/cases/{parcel}/transfer"),
            Some(json!({"skill": "billing"})),
        )
        .await?;
    assert_eq!(s, 200, "{moved}");
    until(&inlet, &format!("/cases/{parcel}"), |v| {
        v["case"]["assignee"] == "ann"
    })
    .await?;
    let (_, load) = inlet
        .api_as(&ann, Method::GET, "/agents/ann/load", None)
        .await?;
    assert_eq!(load["chat"], 2, "{load}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_permission_is_enforced_with_a_403_naming_it_and_foreign_cases_stay_404(
) -> anyhow::Result<()> {
    let Setup {
        tg,
        sms: _sms,
        inlet,
    } = setup().await?;
    customer_writes(&tg, &inlet, 6001, "hello").await?;
    let case = only_case(&inlet, "tg").await?;
    let reader = agent_token(
        &inlet,
        json!({"id": "reader", "name": "R", "permissions": {"tg": ["read"]}}),
    )
    .await?;
    let blind = agent_token(
        &inlet,
        json!({"id": "blind", "name": "B", "permissions": {"tg": ["reply-private"]}}),
    )
    .await?;
    let plain = agent_token(
        &inlet,
        json!({"id": "plain", "name": "P", "channels": ["tg"]}),
    )
    .await?;
    let elsewhere = agent_token(
        &inlet,
        json!({"id": "elsewhere", "name": "E", "channels": ["sms"]}),
    )
    .await?;

    let denied = |status: u16, body: &Value, permission: &str| {
        assert_eq!(status, 403, "{body}");
        assert_eq!(body["error"]["code"], "missing_permission", "{body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(&format!("`{permission}` permission on channel `tg`")),
            "{message}"
        );
    };
    let reply = json!({"content": {"text": "hi"}});
    // read
    let (s, b) = inlet
        .api_as(&blind, Method::GET, &format!("/cases/{case}"), None)
        .await?;
    denied(s, &b, "read");
    let (s, b) = inlet
        .api_as(
            &blind,
            Method::POST,
            &format!("/cases/{case}/transfer"),
            Some(json!({"skill": "support"})),
        )
        .await?;
    denied(s, &b, "read");
    let (_, list) = inlet.api_as(&blind, Method::GET, "/cases", None).await?;
    assert_eq!(
        list["cases"],
        json!([]),
        "unreadable channels are not listed"
    );
    // reply-private (Telegram is a messaging channel)
    let (s, b) = inlet
        .api_as(&reader, Method::GET, &format!("/cases/{case}"), None)
        .await?;
    assert_eq!(s, 200, "{b}");
    let (s, b) = inlet
        .api_as(
            &reader,
            Method::POST,
            &format!("/cases/{case}/replies"),
            Some(reply.clone()),
        )
        .await?;
    denied(s, &b, "reply-private");
    let (s, b) = inlet
        .api_as(
            &reader,
            Method::POST,
            &format!("/cases/{case}/messages/1/retry"),
            None,
        )
        .await?;
    denied(s, &b, "reply-private");
    // moderate
    let (s, b) = inlet
        .api_as(
            &plain,
            Method::POST,
            &format!("/cases/{case}/messages/1/moderate"),
            Some(json!({"action": "hide"})),
        )
        .await?;
    denied(s, &b, "moderate");
    let (s, b) = inlet
        .api_as(
            &plain,
            Method::POST,
            &format!("/cases/{case}/replies"),
            Some(reply),
        )
        .await?;
    assert_eq!(s, 202, "the default permissions answer in private: {b}");
    // A channel the agent has nothing on, and another tenant's agent: the case does not exist.
    let (s, _) = inlet
        .api_as(&elsewhere, Method::GET, &format!("/cases/{case}"), None)
        .await?;
    assert_eq!(s, 404);
    let (s, t) = inlet
        .api(
            Method::POST,
            "/tenants",
            Some(json!({"id": "globex", "name": "G", "region": "US"})),
        )
        .await?;
    assert_eq!(s, 201, "{t}");
    let (s, tok) = inlet
        .api(
            Method::POST,
            "/tenants/globex/tokens",
            Some(json!({"role": "admin"})),
        )
        .await?;
    assert_eq!(s, 201, "{tok}");
    let globex = tok["token"].as_str().unwrap_or_default().to_string();
    for (method, path) in [
        (Method::GET, format!("/cases/{case}")),
        (Method::POST, format!("/cases/{case}/transfer")),
        (Method::POST, format!("/cases/{case}/messages/1/moderate")),
    ] {
        let (s, b) = inlet
            .api_as(
                &globex,
                method,
                &path,
                Some(json!({"skill": "support", "action": "hide"})),
            )
            .await?;
        assert_eq!(s, 404, "{path}: {b}");
    }
    // Agents act for themselves only.
    let (s, b) = inlet
        .api_as(
            &reader,
            Method::POST,
            "/agents/plain/state",
            Some(json!({"state": "offline"})),
        )
        .await?;
    assert_eq!(
        (s, b["error"]["code"].clone()),
        (403, json!("forbidden")),
        "{b}"
    );
    let (s, _) = inlet.api_as(&reader, Method::GET, "/scripts", None).await?;
    assert_eq!(s, 403);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_script_is_refused_with_a_pointer_to_each_bad_field_and_a_good_one_is_versioned(
) -> anyhow::Result<()> {
    let inlet = Inlet::start(Vec::new(), Limits::default()).await?;
    let (s, err) = inlet
        .api(Method::POST, "/scripts", Some(json!({"id": "vip", "steps": [
            {"action": "tag", "tags": ["vip"]},
            {"action": "branch", "if": {"keyword": ["gold"]}, "then": [{"action": "set-priority", "priority": 0}]},
            {"action": "assign", "agent": "nobody"}
        ]})))
        .await?;
    assert_eq!(s, 422, "{err}");
    assert_eq!(err["error"]["code"], "invalid_script");
    assert_eq!(
        err["error"]["message"],
        "/steps/1/then/0/priority: 0 is not 1 (highest) to 9 (lowest)"
    );
    let pointers: Vec<Value> = err["error"]["details"]["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["pointer"].clone())
        .collect();
    assert_eq!(
        pointers,
        vec![json!("/steps/1/then/0/priority"), json!("/steps/2/agent")]
    );
    let good = json!({"id": "vip", "steps": [{"action": "tag", "tags": ["vip"]}]});
    let (s, v1) = inlet
        .api(Method::POST, "/scripts", Some(good.clone()))
        .await?;
    assert_eq!((s, v1["version"].clone()), (201, json!(1)), "{v1}");
    let (s, _) = inlet
        .api(Method::POST, "/scripts", Some(good.clone()))
        .await?;
    assert_eq!(s, 409, "create refuses an existing id");
    let (s, v2) = inlet.api(Method::PUT, "/scripts/vip", Some(good)).await?;
    assert_eq!((s, v2["version"].clone()), (200, json!(2)), "{v2}");
    let (_, read) = inlet.api(Method::GET, "/scripts/vip", None).await?;
    assert_eq!(read["versions"].as_array().map(Vec::len), Some(2), "{read}");
    let (s, e) = inlet
        .api(
            Method::PUT,
            "/sla-policies",
            Some(json!([{"skill": "support", "first_response_s": 0}])),
        )
        .await?;
    assert_eq!(s, 422, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("/0:"),
        "{e}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retired_script_is_gone_for_new_cases_but_a_channels_default_script_cannot_be_retired(
) -> anyhow::Result<()> {
    let Setup {
        tg: _tg,
        sms: _sms,
        inlet,
    } = setup().await?;
    let (s, e) = inlet.api(Method::DELETE, "/scripts/welcome", None).await?;
    assert_eq!(s, 409, "{e}");
    let msg = e["error"]["message"].as_str().unwrap_or_default();
    assert!(
        msg.contains("tg") && msg.contains("sms"),
        "names the channels: {e}"
    );
    let body = json!({"id": "vip", "steps": [{"action": "tag", "tags": ["vip"]}]});
    ok(&inlet, Method::POST, "/scripts", body.clone()).await?;
    let sam = agent_token(
        &inlet,
        json!({"id": "sam", "name": "Sam", "channels": ["tg"], "skills": ["support"]}),
    )
    .await?;
    let (s, _) = inlet
        .api_as(&sam, Method::DELETE, "/scripts/vip", None)
        .await?;
    assert_eq!(s, 403, "agents cannot retire scripts");
    let (s, gone) = inlet.api(Method::DELETE, "/scripts/vip", None).await?;
    assert_eq!((s, gone["deleted"].clone()), (200, json!("vip")), "{gone}");
    let (s, _) = inlet.api(Method::GET, "/scripts/vip", None).await?;
    assert_eq!(s, 404);
    let (s, _) = inlet.api(Method::DELETE, "/scripts/vip", None).await?;
    assert_eq!(s, 404);
    let (_, list) = inlet.api(Method::GET, "/scripts", None).await?;
    let ids: Vec<Value> = list
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| s["id"].clone())
        .collect();
    assert_eq!(ids, vec![json!("welcome")], "{list}");
    // Created again, it continues its numbering: version 1 stays for cases still running it.
    let (s, again) = inlet.api(Method::POST, "/scripts", Some(body)).await?;
    assert_eq!((s, again["version"].clone()), (201, json!(2)), "{again}");
    let (_, read) = inlet.api(Method::GET, "/scripts/vip", None).await?;
    assert_eq!(read["versions"].as_array().map(Vec::len), Some(2), "{read}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_agent_hands_their_case_to_the_next_available_agent_and_their_token_stops_working(
) -> anyhow::Result<()> {
    let Setup {
        tg,
        sms: _sms,
        inlet,
    } = setup().await?;
    let ann = agent_token(&inlet, json!({"id": "ann", "name": "Ann", "channels": ["tg"], "skills": ["support"], "proficiency": {"support": 9}})).await?;
    let bob = agent_token(&inlet, json!({"id": "bob", "name": "Bob", "channels": ["tg"], "skills": ["support"], "proficiency": {"support": 3}})).await?;
    available(&inlet, &[(&ann, "ann"), (&bob, "bob")]).await?;
    customer_writes(&tg, &inlet, 5101, "My router blinks red").await?;
    let case = only_case(&inlet, "tg").await?;
    until(&inlet, &format!("/cases/{case}"), |v| {
        v["case"]["assignee"] == "ann"
    })
    .await?;
    let (s, _) = inlet
        .api_as(&bob, Method::DELETE, "/agents/ann", None)
        .await?;
    assert_eq!(s, 403, "agents cannot remove agents");

    let (s, gone) = inlet.api(Method::DELETE, "/agents/ann", None).await?;
    assert_eq!((s, gone["deleted"].clone()), (200, json!("ann")), "{gone}");
    until(&inlet, &format!("/cases/{case}"), |v| {
        v["case"]["assignee"] == "bob"
    })
    .await?;
    let (s, e) = inlet.api_as(&ann, Method::GET, "/cases", None).await?;
    assert_eq!(s, 401, "the removed agent's token is revoked: {e}");
    let (_, agents) = inlet.api(Method::GET, "/agents", None).await?;
    let ids: Vec<Value> = agents
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| a["id"].clone())
        .collect();
    assert_eq!(ids, vec![json!("bob")], "{agents}");
    let (s, _) = inlet.api(Method::DELETE, "/agents/ann", None).await?;
    assert_eq!(s, 404);
    Ok(())
}
