//! Routing and scripts as a supervisor would describe them, at library level: the inbox on an
//! in-memory store, the router and the script engine on a manual clock, driven by the inbox's
//! own live events. No sleeping: time moves when the test says so.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use inlet::clock::{Clock, ManualClock};
use inlet::inbox::{
    Agent, AgentState, Author, Capacity, Case, ChannelRecord, Direction, Inbox, LiveEvent,
    Settings, Skill, WorkKind,
};
use inlet::model::{Contact, InboundEvent, InboundMessage};
use inlet::routing::Routing;
use inlet::scripts::{self, Engine};
use inlet::store::{MemoryStore, Store};
use serde_json::{json, Value};
use tokio::sync::broadcast::Receiver;

const T: &str = "acme";
/// Tuesday 2024-03-05 22:00 in UTC+1 (21:00 UTC).
const TUESDAY_22_00: u64 = 1_709_672_400_000;
const HOUR: u64 = 3_600_000;

struct World {
    store: Arc<dyn Store>,
    inbox: Arc<Inbox>,
    clock: Arc<ManualClock>,
    engine: Arc<Engine>,
    events: RefCell<Receiver<LiveEvent>>,
    /// Every event handled so far.
    seen: RefCell<Vec<LiveEvent>>,
    next_id: AtomicU64,
}

fn engine(inbox: &Arc<Inbox>, clock: &Arc<ManualClock>) -> Arc<Engine> {
    let routing = Routing::new(
        inbox.clone(),
        clock.clone() as Arc<dyn Clock>,
        Arc::new(|channel: &str| {
            if channel.starts_with("fb") {
                WorkKind::Social
            } else {
                WorkKind::Chat
            }
        }),
    );
    let engine = Engine::new(inbox.clone(), routing, Box::new(|| {}));
    engine.rebuild().expect("rebuild");
    engine
}

impl World {
    fn new() -> Self {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::default());
        Self::on(store, ManualClock::at(TUESDAY_22_00), true)
    }

    fn on(store: Arc<dyn Store>, clock: Arc<ManualClock>, fresh: bool) -> Self {
        let inbox = Inbox::open(store.clone(), Settings::default()).expect("inbox");
        if fresh {
            inbox.create_tenant(T, "Acme", "EU").expect("tenant");
            for s in ["whatsapp", "billing", "support"] {
                inbox
                    .put_skill(&Skill {
                        id: s.into(),
                        tenant: T.into(),
                        name: s.into(),
                    })
                    .expect("skill");
            }
        }
        let events = inbox.subscribe();
        let engine = engine(&inbox, &clock);
        Self {
            store,
            inbox,
            clock,
            engine,
            events: RefCell::new(events),
            seen: RefCell::new(Vec::new()),
            next_id: AtomicU64::new(1),
        }
    }

    /// The same data after a restart: a new inbox, router and engine on the same store.
    fn restart(self) -> Self {
        let clock = ManualClock::at(self.clock.now_ms());
        Self::on(self.store.clone(), clock, false)
    }

    fn script(&self, body: Value) -> u32 {
        let id = body["id"].as_str().unwrap_or_default().to_string();
        let existing = scripts::latest(&self.inbox, T, &id)
            .expect("read")
            .is_some();
        let saved = scripts::save(&self.inbox, T, &body, existing.then_some(id.as_str()));
        match saved {
            Ok(v) => v.version,
            Err(e) => panic!("script refused: {e:?}"),
        }
    }

    fn channel(&self, id: &str, skill: &str, script: &str) -> ChannelRecord {
        scripts::check_channel_defaults(&self.inbox, T, skill, script).expect("defaults exist");
        let record = ChannelRecord {
            id: id.into(),
            tenant: T.into(),
            name: id.into(),
            plugin: "whatsapp".into(),
            config: Default::default(),
            egress: Vec::new(),
            default_skill: skill.into(),
            default_script: script.into(),
            plugin_version: None,
            enabled: true,
            public_url: None,
            created_ms: 0,
        };
        self.inbox.put_channel(&record).expect("channel");
        record
    }

    fn agent(&self, id: &str, skills: &[(&str, u8)], chats: u32, state: AgentState) {
        self.agent_in(id, None, skills, chats, state)
    }

    fn agent_in(
        &self,
        id: &str,
        team: Option<&str>,
        skills: &[(&str, u8)],
        chats: u32,
        state: AgentState,
    ) {
        let agent = Agent {
            id: id.into(),
            tenant: T.into(),
            name: id.into(),
            channels: vec!["wa".into(), "sms".into()],
            skills: skills.iter().map(|(s, _)| s.to_string()).collect(),
            proficiency: skills.iter().map(|(s, p)| (s.to_string(), *p)).collect(),
            capacity: Capacity {
                chat: chats,
                email: 10,
                social: 10,
            },
            state,
            team: team.map(str::to_string),
            permissions: Default::default(),
        };
        self.inbox.put_agent(&agent).expect("agent");
        self.engine
            .routing()
            .agent_changed_blocking(T, id)
            .expect("routing follows");
        self.settle();
    }

    fn set_state(&self, agent: &str, state: AgentState) {
        self.engine
            .routing()
            .set_state(T, agent, state)
            .expect("state");
        self.settle();
    }

    /// A customer writes on `channel` in conversation `from`; returns the case.
    fn customer_writes(&mut self, channel: &ChannelRecord, from: &str, text: &str) -> String {
        let n = self.next_id.fetch_add(1, Ordering::SeqCst);
        let event = InboundEvent::Message(InboundMessage {
            provider_id: format!("m{n}"),
            conversation: from.into(),
            contact: Contact {
                id: from.into(),
                display_name: Some(format!("Customer {from}")),
                handle: None,
                locale: None,
            },
            text: Some(text.into()),
            attachments: Vec::new(),
            reply_to: None,
            timestamp_ms: self.clock.now_ms(),
        });
        let report = self.inbox.ingest(channel, vec![event]).expect("ingest");
        self.settle();
        report.cases[0].clone()
    }

    /// Let the engine handle every event the inbox has published (and those it causes).
    fn settle(&self) {
        loop {
            let next = self.events.borrow_mut().try_recv();
            match next {
                Ok(ev) => {
                    self.engine.handle(&ev).expect("handle");
                    self.seen.borrow_mut().push(ev);
                }
                Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => continue,
                Err(_) => break,
            }
        }
    }

    fn at(&self, ms: u64) {
        self.clock.set(ms);
        self.engine.tick().expect("tick");
        self.settle();
    }

    fn case(&self, id: &str) -> Case {
        self.inbox.case(T, id).expect("case")
    }

    fn bot_replies(&self, id: &str) -> Vec<(String, String)> {
        self.inbox
            .case_view(T, id)
            .expect("view")
            .messages
            .into_iter()
            .filter(|m| m.direction == Direction::Outbound)
            .filter_map(|m| match m.author {
                Author::Bot(b) => Some((b, m.text.unwrap_or_default())),
                _ => None,
            })
            .collect()
    }
}

fn after_hours_script() -> Value {
    json!({
        "id": "after-hours",
        "name": "WhatsApp welcome and after-hours",
        "business_hours": {"utc_offset_minutes": 60, "days": ["mon", "tue", "wed", "thu", "fri"], "open": "08:00", "close": "18:00"},
        "steps": [
            {"action": "branch", "if": {"business_hours": false}, "then": [
                {"action": "reply", "content": {"text": "We are closed. We open at 08:00 and will answer you then.",
                                                 "quick_replies": [{"id": "urgent", "title": "It is urgent"}]}},
                {"action": "tag", "tags": ["after-hours"]},
                {"action": "wait", "until": "business-hours"}
            ]},
            {"action": "route"}
        ]
    })
}

#[test]
fn a_whatsapp_message_at_22_00_gets_the_after_hours_reply_waits_and_at_08_00_goes_to_the_available_agent_with_the_skill_and_free_capacity(
) {
    let mut w = World::new();
    w.script(after_hours_script());
    let wa = w.channel("wa", "whatsapp", "after-hours");
    w.agent("billing-bob", &[("billing", 9)], 3, AgentState::Available);
    w.agent("full-fiona", &[("whatsapp", 10)], 1, AgentState::Available);
    w.agent("ann", &[("whatsapp", 6)], 3, AgentState::Available);
    w.agent("off-otto", &[("whatsapp", 10)], 3, AgentState::Offline);
    // Fiona's one chat slot is taken by a case of a channel without after-hours handling.
    w.script(json!({"id": "plain", "steps": [{"action": "route"}]}));
    let sms = w.channel("sms", "whatsapp", "plain");
    let busy = w.customer_writes(&sms, "+1", "hi");
    assert_eq!(w.case(&busy).assignee.as_deref(), Some("full-fiona"));

    let case = w.customer_writes(&wa, "+49170", "Hello, my order has not arrived");
    let replies = w.bot_replies(&case);
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert_eq!(replies[0].0, "after-hours");
    assert!(replies[0].1.starts_with("We are closed"));
    let waiting = w.case(&case);
    assert_eq!(waiting.assignee, None, "nobody is assigned at night");
    assert_eq!(waiting.tags, vec!["after-hours".to_string()]);

    // The server restarts in the night: the wait is durable.
    let w = w.restart();
    w.at(TUESDAY_22_00 + 9 * HOUR);
    assert_eq!(w.case(&case).assignee, None, "07:00 is still closed");
    w.at(TUESDAY_22_00 + 10 * HOUR);
    let routed = w.case(&case);
    assert_eq!(
        routed.assignee.as_deref(),
        Some("ann"),
        "not Bob (no WhatsApp skill), not Fiona (full), not Otto (offline)"
    );
    assert_eq!(routed.skill, "whatsapp");
    assert_eq!(w.bot_replies(&case).len(), 1, "no second auto-reply");
}

#[test]
fn during_business_hours_the_same_script_routes_at_once_without_an_auto_reply() {
    let mut w = World::new();
    w.clock.set(TUESDAY_22_00 + 12 * HOUR); // Wednesday 10:00
    w.script(after_hours_script());
    let wa = w.channel("wa", "whatsapp", "after-hours");
    w.agent("ann", &[("whatsapp", 6)], 3, AgentState::Available);
    let case = w.customer_writes(&wa, "+49170", "Hello");
    assert!(w.bot_replies(&case).is_empty());
    assert_eq!(w.case(&case).assignee.as_deref(), Some("ann"));
}

#[test]
fn a_refund_request_goes_to_billing_with_high_priority_and_the_most_proficient_billing_agent_gets_it(
) {
    let mut w = World::new();
    w.script(json!({"id": "triage", "steps": [
        {"action": "branch", "if": {"keyword": ["refund", "invoice"]},
         "then": [{"action": "set-skill", "skill": "billing"}, {"action": "set-priority", "priority": 2}, {"action": "tag", "tags": ["money"]}],
         "else": [{"action": "tag", "tags": ["general"]}]}
    ]}));
    let wa = w.channel("wa", "support", "triage");
    w.agent(
        "junior",
        &[("billing", 3), ("support", 5)],
        3,
        AgentState::Available,
    );
    w.agent("senior", &[("billing", 9)], 3, AgentState::Available);
    let refund = w.customer_writes(&wa, "+1", "I want a REFUND for order 12");
    let c = w.case(&refund);
    assert_eq!((c.skill.as_str(), c.priority), ("billing", 2));
    assert_eq!(c.tags, vec!["money".to_string()]);
    assert_eq!(c.assignee.as_deref(), Some("senior"));
    let other = w.customer_writes(&wa, "+2", "Where is my parcel?");
    let c = w.case(&other);
    assert_eq!((c.skill.as_str(), c.priority), ("support", 5));
    assert_eq!(
        c.assignee.as_deref(),
        Some("junior"),
        "the only support agent"
    );
}

#[test]
fn when_an_agent_goes_offline_their_cases_go_back_to_the_queue_and_to_the_next_available_agent() {
    let mut w = World::new();
    w.script(json!({"id": "plain", "steps": [{"action": "route"}]}));
    let wa = w.channel("wa", "support", "plain");
    w.agent("ann", &[("support", 8)], 1, AgentState::Available);
    w.agent("bob", &[("support", 4)], 3, AgentState::Offline);
    let first = w.customer_writes(&wa, "+1", "first");
    let second = w.customer_writes(&wa, "+2", "second");
    assert_eq!(w.case(&first).assignee.as_deref(), Some("ann"));
    assert_eq!(
        w.case(&second).assignee,
        None,
        "Ann is at capacity, Bob offline"
    );
    let queues = w.engine.routing().queue_stats(T).expect("stats");
    let support = queues.iter().find(|q| q.skill == "support").expect("queue");
    assert_eq!(support.waiting, 1);

    w.set_state("bob", AgentState::Available);
    assert_eq!(
        w.case(&second).assignee.as_deref(),
        Some("bob"),
        "pushed when Bob logs in"
    );
    w.set_state("ann", AgentState::Offline);
    assert_eq!(
        w.case(&first).assignee.as_deref(),
        Some("bob"),
        "Ann's case is requeued and Bob has room"
    );
    // Resolving frees capacity; Ann back online gets nothing she does not have room for.
    w.inbox
        .set_status(T, &second, inlet::inbox::CaseStatus::Resolved, "bob")
        .expect("resolve");
    w.settle();
    let load = w.engine.routing().agent_load(T, "bob").expect("load");
    assert_eq!(load["chat"], 1);
    assert_eq!(load["cases"], json!([first]));
}

#[test]
fn take_next_gives_the_most_urgent_case_and_a_transfer_to_a_skill_reaches_that_skills_agent() {
    let mut w = World::new();
    w.script(json!({"id": "prio", "steps": [
        {"action": "branch", "if": {"keyword": ["urgent"]}, "then": [{"action": "set-priority", "priority": 1}]}
    ]}));
    let wa = w.channel("wa", "support", "prio");
    let routine = w.customer_writes(&wa, "+1", "a question");
    let urgent = w.customer_writes(&wa, "+2", "urgent: my account is locked");
    w.agent("ann", &[("support", 5)], 3, AgentState::Away);
    let taken = w.engine.routing().take_next(T, "ann").expect("pull");
    assert_eq!(taken.map(|c| c.id), Some(urgent.clone()));
    assert_eq!(
        w.case(&routine).assignee,
        None,
        "away agents are not pushed cases"
    );

    w.agent("bill", &[("billing", 5)], 3, AgentState::Available);
    let moved = w
        .engine
        .routing()
        .transfer(T, &urgent, None, Some("billing"), "ann")
        .expect("transfer");
    assert_eq!(moved.skill, "billing");
    assert_eq!(w.case(&urgent).assignee.as_deref(), Some("bill"));
    let err = w
        .engine
        .routing()
        .transfer(T, &urgent, None, Some("astrology"), "ann")
        .expect_err("no such skill");
    assert!(err.to_string().contains("no skill `astrology`"), "{err}");
}

#[test]
fn a_case_keeps_the_script_version_it_started_with() {
    let mut w = World::new();
    let v1 = json!({"id": "survey", "steps": [
        {"action": "reply", "content": {"text": "v1: how can we help?"}},
        {"action": "wait", "until": "inbound", "timeout_s": 600},
        {"action": "branch", "if": {"wait_timed_out": true},
         "then": [{"action": "reply", "content": {"text": "v1: still there?"}}],
         "else": [{"action": "reply", "content": {"text": "v1: thanks"}}]}
    ]});
    assert_eq!(w.script(v1), 1);
    let wa = w.channel("wa", "support", "survey");
    let old = w.customer_writes(&wa, "+1", "hello");
    let mut v2 = json!({"id": "survey", "steps": [
        {"action": "reply", "content": {"text": "v2: hi!"}},
        {"action": "wait", "until": "inbound", "timeout_s": 600},
        {"action": "reply", "content": {"text": "v2: thanks"}}
    ]});
    assert_eq!(w.script(v2.take()), 2);
    let new = w.customer_writes(&wa, "+2", "hello");
    let _ = w.customer_writes(&wa, "+1", "my answer");
    w.at(TUESDAY_22_00 + 11 * 60_000);
    let texts =
        |id: &str| -> Vec<String> { w.bot_replies(id).into_iter().map(|(_, t)| t).collect() };
    assert_eq!(texts(&old), vec!["v1: how can we help?", "v1: thanks"]);
    assert_eq!(
        texts(&new),
        vec!["v2: hi!", "v2: thanks"],
        "timed out after 10 minutes"
    );
    assert!(w.engine.run_of(T, &old).expect("run").is_none(), "finished");
}

#[test]
fn a_missed_first_response_raises_sla_breached_and_shows_on_the_case_but_an_answered_case_does_not()
{
    let mut w = World::new();
    w.script(json!({"id": "plain", "steps": [{"action": "route"}]}));
    let wa = w.channel("wa", "support", "plain");
    w.engine
        .routing()
        .set_sla_policies(
            T,
            vec![inlet::routing::sla::SlaPolicy {
                channel: Some("wa".into()),
                skill: None,
                first_response_s: Some(300),
                resolution_s: Some(3600),
            }],
        )
        .expect("policy");
    let ignored = w.customer_writes(&wa, "+1", "hello?");
    let answered = w.customer_writes(&wa, "+2", "hello!");
    let due = w.case(&ignored).sla.and_then(|s| s.first_response_due_ms);
    assert_eq!(due, Some(TUESDAY_22_00 + 300_000), "shown on the case");
    w.inbox
        .reply(
            T,
            &answered,
            Author::Agent("ann".into()),
            inlet::inbox::ReplyRequest {
                content: inlet::model::Content::text("On it"),
                reply_to: None,
            },
        )
        .expect("reply");
    w.settle();
    w.at(TUESDAY_22_00 + 299_000);
    assert!(!w
        .case(&ignored)
        .sla
        .is_some_and(|s| s.first_response_breached));
    w.at(TUESDAY_22_00 + 301_000);
    let breached: Vec<(String, Value)> = w
        .seen
        .borrow()
        .iter()
        .filter(|e| e.kind == "sla-breached")
        .map(|e| (e.case_id.clone(), e.detail["sla"].clone()))
        .collect();
    assert_eq!(breached, vec![(ignored.clone(), json!("first-response"))]);
    assert!(w
        .case(&ignored)
        .sla
        .is_some_and(|s| s.first_response_breached));
    let ok = w.case(&answered).sla.expect("sla");
    assert!(!ok.first_response_breached);
    assert_eq!(ok.first_response_ms, Some(TUESDAY_22_00));
}

#[test]
fn resolving_a_case_ends_its_waiting_script_and_queues_and_loads_survive_a_restart() {
    let mut w = World::new();
    w.script(after_hours_script());
    w.script(json!({"id": "plain", "steps": [{"action": "route"}]}));
    let wa = w.channel("wa", "whatsapp", "after-hours");
    let sms = w.channel("sms", "support", "plain");
    let night = w.customer_writes(&wa, "+1", "hello at night");
    assert!(
        w.engine.run_of(T, &night).expect("run").is_some(),
        "waiting for 08:00"
    );
    w.inbox
        .set_status(T, &night, inlet::inbox::CaseStatus::Resolved, "supervisor")
        .expect("resolve");
    w.settle();
    assert!(
        w.engine.run_of(T, &night).expect("run").is_none(),
        "the wait ended"
    );

    w.agent("ann", &[("support", 5)], 1, AgentState::Available);
    let first = w.customer_writes(&sms, "+2", "one");
    let second = w.customer_writes(&sms, "+3", "two");
    assert_eq!(w.case(&first).assignee.as_deref(), Some("ann"));
    let w = w.restart();
    let load = w.engine.routing().agent_load(T, "ann").expect("load");
    assert_eq!(load["cases"], json!([first]), "Ann's load is rebuilt");
    let queues = w.engine.routing().queue_stats(T).expect("queues");
    let support = queues.iter().find(|q| q.skill == "support").expect("queue");
    assert_eq!(support.waiting, 1, "the second case is queued again");
    w.at(TUESDAY_22_00 + 12 * HOUR);
    assert_eq!(
        w.case(&night).assignee,
        None,
        "a resolved case is not woken"
    );
    w.inbox
        .set_status(T, &first, inlet::inbox::CaseStatus::Resolved, "ann")
        .expect("resolve");
    w.settle();
    assert_eq!(
        w.case(&second).assignee.as_deref(),
        Some("ann"),
        "room again"
    );
    assert!(w.bot_replies(&night).len() == 1, "no reply after resolving");
}

#[test]
fn a_vip_customer_is_handed_to_the_vip_team_and_only_its_members_get_the_case() {
    let mut w = World::new();
    w.agent_in(
        "star",
        Some("vip-desk"),
        &[("support", 2)],
        3,
        AgentState::Offline,
    );
    w.agent("best", &[("support", 10)], 3, AgentState::Available);
    w.script(json!({"id": "vip", "steps": [
        {"action": "branch", "if": {"contact_attribute": {"name": "display_name", "contains": "+44"}},
         "then": [{"action": "assign", "team": "vip-desk"}, {"action": "tag", "tags": ["vip"]}]}
    ]}));
    let wa = w.channel("wa", "support", "vip");
    let vip = w.customer_writes(&wa, "+44700", "hello");
    let regular = w.customer_writes(&wa, "+1", "hello");
    assert_eq!(w.case(&regular).assignee.as_deref(), Some("best"));
    let c = w.case(&vip);
    assert_eq!(
        (c.team.as_deref(), c.assignee.as_deref()),
        (Some("vip-desk"), None),
        "the team is offline; the better agent outside it does not get it"
    );
    w.set_state("star", AgentState::Available);
    assert_eq!(w.case(&vip).assignee.as_deref(), Some("star"));
}

#[test]
fn a_message_stored_just_before_a_crash_still_gets_the_after_hours_reply_after_the_restart_and_only_once(
) {
    let w = World::new();
    w.script(after_hours_script());
    let wa = w.channel("wa", "whatsapp", "after-hours");
    // The message is durable, then the server dies before automation saw the new case.
    let event = InboundEvent::Message(InboundMessage {
        provider_id: "m-crash".into(),
        conversation: "+49".into(),
        contact: Contact {
            id: "+49".into(),
            display_name: Some("Night owl".into()),
            handle: None,
            locale: None,
        },
        text: Some("anyone there?".into()),
        attachments: Vec::new(),
        reply_to: None,
        timestamp_ms: w.clock.now_ms(),
    });
    let case = w.inbox.ingest(&wa, vec![event]).expect("ingest").cases[0].clone();
    assert!(w.bot_replies(&case).is_empty(), "automation has not run");
    let w = w.restart();
    w.settle();
    let replies = w.bot_replies(&case);
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert!(replies[0].1.starts_with("We are closed."), "{replies:?}");
    assert!(w.case(&case).tags.contains(&"after-hours".to_string()));
    assert!(
        w.engine.run_of(T, &case).expect("run").is_some(),
        "waiting for 08:00"
    );
    // A second restart neither answers again nor forgets the wait.
    let w = w.restart();
    w.settle();
    assert_eq!(w.bot_replies(&case).len(), 1);
    w.agent("ann", &[("whatsapp", 5)], 3, AgentState::Available);
    assert_eq!(w.case(&case).assignee, None, "still after hours");
    w.at(TUESDAY_22_00 + 11 * HOUR);
    assert_eq!(w.case(&case).assignee.as_deref(), Some("ann"), "08:00");
}

#[test]
fn a_case_transferred_to_billing_takes_billings_shorter_first_response_target_counted_from_its_arrival(
) {
    let mut w = World::new();
    w.script(json!({"id": "plain", "steps": [{"action": "route"}]}));
    let wa = w.channel("wa", "support", "plain");
    w.engine
        .routing()
        .set_sla_policies(
            T,
            vec![
                inlet::routing::sla::SlaPolicy {
                    channel: None,
                    skill: Some("support".into()),
                    first_response_s: Some(3600),
                    resolution_s: Some(86_400),
                },
                inlet::routing::sla::SlaPolicy {
                    channel: None,
                    skill: Some("billing".into()),
                    first_response_s: Some(600),
                    resolution_s: None,
                },
            ],
        )
        .expect("policies");
    let case = w.customer_writes(&wa, "+1", "I was charged twice");
    let sla = w.case(&case).sla.expect("sla");
    assert_eq!(sla.first_response_due_ms, Some(TUESDAY_22_00 + 3_600_000));
    assert_eq!(sla.resolution_due_ms, Some(TUESDAY_22_00 + 86_400_000));

    // Five minutes in, a supervisor moves it to billing.
    w.at(TUESDAY_22_00 + 300_000);
    w.engine
        .routing()
        .transfer(T, &case, None, Some("billing"), "supervisor")
        .expect("transfer");
    w.settle();
    let sla = w.case(&case).sla.expect("sla");
    assert_eq!(
        sla.first_response_due_ms,
        Some(TUESDAY_22_00 + 600_000),
        "billing's 10 minutes, from when the customer wrote"
    );
    assert_eq!(
        sla.resolution_due_ms, None,
        "billing sets no resolution target"
    );
    assert_eq!(sla.skill.as_deref(), Some("billing"));

    // The old support deadline raises nothing; the billing one does.
    w.at(TUESDAY_22_00 + 601_000);
    w.at(TUESDAY_22_00 + 3_601_000);
    let breached: Vec<Value> = w
        .seen
        .borrow()
        .iter()
        .filter(|e| e.kind == "sla-breached")
        .map(|e| json!([e.detail["sla"], e.detail["due_ms"], e.detail["skill"]]))
        .collect();
    assert_eq!(
        breached,
        vec![json!([
            "first-response",
            TUESDAY_22_00 + 600_000,
            "billing"
        ])]
    );
}
