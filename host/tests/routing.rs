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
        let existing = scripts::latest(&self.inbox, T, &id).expect("read").is_some();
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
            team: None,
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
