//! The routing decision in memory, for one tenant: a queue per skill ordered by priority then
//! age, each agent's load per kind of work, and a "ready" index per (skill, kind) of the
//! available agents with free capacity, ordered by proficiency (highest first) then idle time
//! (longest first). A push decision reads the head of one ready set; a pull decision the heads
//! of the agent's skill queues. Knows nothing of the store: `routing::Routing` feeds it.

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap, HashSet};

use crate::inbox::{Agent, AgentState, WorkKind};

/// A case waiting in a skill queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedCase {
    pub id: String,
    pub skill: String,
    pub priority: u8,
    /// Queue age: when the case was created.
    pub since_ms: u64,
    pub channel: String,
    pub kind: WorkKind,
    /// Only members of this team may take it.
    pub team: Option<String>,
}

type QueueKey = (u8, u64, String);
type ReadyKey = (Reverse<u8>, u64, String);

struct AgentSlot {
    agent: Agent,
    load: [u32; 3],
    /// When the agent was last given a case (or became available): longest idle first.
    idle_since: u64,
    readable: HashSet<String>,
    ready_keys: Vec<((String, WorkKind), ReadyKey)>,
}

impl AgentSlot {
    fn free(&self, kind: WorkKind) -> bool {
        self.load[kind.index()] < self.agent.capacity.of(kind)
    }

    fn fits(&self, c: &QueuedCase) -> bool {
        self.readable.contains(&c.channel)
            && c.team
                .as_ref()
                .is_none_or(|t| self.agent.team.as_ref() == Some(t))
    }
}

/// Queue figures for supervisors.
#[derive(Debug, Clone, serde::Serialize)]
pub struct QueueStat {
    pub skill: String,
    pub waiting: usize,
    pub oldest_since_ms: Option<u64>,
    /// Available agents with the skill and free capacity for some kind of work.
    pub ready_agents: usize,
}

#[derive(Default)]
pub struct Router {
    queues: HashMap<String, BTreeSet<QueueKey>>,
    queued: HashMap<String, QueuedCase>,
    agents: HashMap<String, AgentSlot>,
    assigned: HashMap<String, (String, WorkKind)>,
    ready: HashMap<(String, WorkKind), BTreeSet<ReadyKey>>,
}

impl Router {
    /// Add or replace an agent's profile; its load stays.
    pub fn upsert_agent(&mut self, agent: Agent, now_ms: u64) {
        let id = agent.id.clone();
        let (load, idle_since) = match self.agents.get(&id) {
            Some(s) => {
                let idle = if s.agent.state != AgentState::Available
                    && agent.state == AgentState::Available
                {
                    now_ms
                } else {
                    s.idle_since
                };
                (s.load, idle)
            }
            None => ([0; 3], now_ms),
        };
        self.unready(&id);
        let readable = agent.readable_channels().into_iter().collect();
        self.agents.insert(
            id.clone(),
            AgentSlot {
                agent,
                load,
                idle_since,
                readable,
                ready_keys: Vec::new(),
            },
        );
        self.reready(&id);
    }

    /// Forget an agent (deleted): they are offered nothing more.
    pub fn remove_agent(&mut self, id: &str) {
        self.unready(id);
        self.agents.remove(id);
    }

    pub fn agent(&self, id: &str) -> Option<&Agent> {
        self.agents.get(id).map(|s| &s.agent)
    }

    pub fn load(&self, id: &str) -> [u32; 3] {
        self.agents.get(id).map(|s| s.load).unwrap_or_default()
    }

    /// The cases assigned to an agent.
    pub fn cases_of(&self, agent: &str) -> Vec<String> {
        let mut out: Vec<String> = self
            .assigned
            .iter()
            .filter(|(_, (a, _))| a == agent)
            .map(|(c, _)| c.clone())
            .collect();
        out.sort();
        out
    }

    pub fn assignee(&self, case: &str) -> Option<&str> {
        self.assigned.get(case).map(|(a, _)| a.as_str())
    }

    pub fn is_queued(&self, case: &str) -> bool {
        self.queued.contains_key(case)
    }

    pub fn queued(&self, case: &str) -> Option<&QueuedCase> {
        self.queued.get(case)
    }

    pub fn enqueue(&mut self, c: QueuedCase) {
        self.dequeue(&c.id);
        self.queues.entry(c.skill.clone()).or_default().insert((
            c.priority,
            c.since_ms,
            c.id.clone(),
        ));
        self.queued.insert(c.id.clone(), c);
    }

    pub fn dequeue(&mut self, id: &str) -> Option<QueuedCase> {
        let c = self.queued.remove(id)?;
        if let Some(q) = self.queues.get_mut(&c.skill) {
            q.remove(&(c.priority, c.since_ms, c.id.clone()));
        }
        Some(c)
    }

    /// Count `case` against `agent`'s capacity (out of the queue).
    pub fn set_assigned(&mut self, case: &str, agent: &str, kind: WorkKind, now_ms: u64) {
        if self
            .assigned
            .get(case)
            .is_some_and(|(a, k)| a == agent && *k == kind)
        {
            return;
        }
        self.release(case);
        self.dequeue(case);
        self.assigned
            .insert(case.to_string(), (agent.to_string(), kind));
        if self.agents.contains_key(agent) {
            self.unready(agent);
            if let Some(s) = self.agents.get_mut(agent) {
                s.load[kind.index()] += 1;
                s.idle_since = now_ms;
            }
            self.reready(agent);
        }
    }

    /// The case no longer counts against its agent. Returns that agent.
    pub fn release(&mut self, case: &str) -> Option<String> {
        let (agent, kind) = self.assigned.remove(case)?;
        if self.agents.contains_key(&agent) {
            self.unready(&agent);
            if let Some(s) = self.agents.get_mut(&agent) {
                s.load[kind.index()] = s.load[kind.index()].saturating_sub(1);
            }
            self.reready(&agent);
        }
        Some(agent)
    }

    /// Push: the available agent with the skill, free capacity for the case's kind of work
    /// and read permission on its channel; highest proficiency, then longest idle.
    pub fn best_agent(&self, c: &QueuedCase) -> Option<String> {
        self.ready
            .get(&(c.skill.clone(), c.kind))?
            .iter()
            .find(|(_, _, id)| self.agents.get(id).is_some_and(|s| s.fits(c)))
            .map(|(_, _, id)| id.clone())
    }

    /// The baseline the benchmark compares with: look at every agent for every decision.
    pub fn best_agent_naive(&self, c: &QueuedCase) -> Option<String> {
        self.agents
            .values()
            .filter(|s| s.agent.state == AgentState::Available && s.free(c.kind) && s.fits(c))
            .filter_map(|s| {
                s.agent
                    .proficiency_in(&c.skill)
                    .map(|p| ((Reverse(p), s.idle_since, s.agent.id.clone()), s))
            })
            .min_by(|a, b| a.0.cmp(&b.0))
            .map(|(k, _)| k.2)
    }

    /// Pull: the most urgent queued case (priority, then age) among the agent's skills that it
    /// may read and has capacity for. Looks at most `scan` cases per queue.
    pub fn best_case_for(&self, agent: &str) -> Option<String> {
        let s = self.agents.get(agent)?;
        if !WorkKind::ALL.iter().any(|k| s.free(*k)) {
            return None;
        }
        let mut best: Option<&QueueKey> = None;
        for skill in &s.agent.skills {
            let Some(q) = self.queues.get(skill) else {
                continue;
            };
            let head = q.iter().take(1000).find(|(_, _, id)| {
                self.queued
                    .get(id)
                    .is_some_and(|c| s.free(c.kind) && s.fits(c))
            });
            if let Some(h) = head {
                if best.is_none_or(|b| h < b) {
                    best = Some(h);
                }
            }
        }
        best.map(|(_, _, id)| id.clone())
    }

    pub fn queue_stats(&self) -> Vec<QueueStat> {
        let mut skills: BTreeSet<&String> = self.queues.keys().collect();
        for s in self.agents.values() {
            skills.extend(s.agent.skills.iter());
        }
        skills
            .into_iter()
            .map(|skill| {
                let q = self.queues.get(skill);
                let ready: HashSet<&String> = WorkKind::ALL
                    .iter()
                    .filter_map(|k| self.ready.get(&(skill.clone(), *k)))
                    .flat_map(|set| set.iter().map(|(_, _, id)| id))
                    .collect();
                QueueStat {
                    skill: skill.clone(),
                    waiting: q.map_or(0, |q| q.len()),
                    oldest_since_ms: q.and_then(|q| q.iter().map(|(_, since, _)| *since).min()),
                    ready_agents: ready.len(),
                }
            })
            .collect()
    }

    fn unready(&mut self, id: &str) {
        let Some(s) = self.agents.get_mut(id) else {
            return;
        };
        for (slot, key) in std::mem::take(&mut s.ready_keys) {
            if let Some(set) = self.ready.get_mut(&slot) {
                set.remove(&key);
            }
        }
    }

    fn reready(&mut self, id: &str) {
        let Some(s) = self.agents.get_mut(id) else {
            return;
        };
        if s.agent.state != AgentState::Available {
            return;
        }
        let mut keys = Vec::new();
        for skill in &s.agent.skills {
            let p = s.agent.proficiency_in(skill).unwrap_or(5);
            for kind in WorkKind::ALL {
                if s.free(kind) {
                    keys.push((
                        (skill.clone(), kind),
                        (Reverse(p), s.idle_since, s.agent.id.clone()),
                    ));
                }
            }
        }
        for (slot, key) in &keys {
            self.ready
                .entry(slot.clone())
                .or_default()
                .insert(key.clone());
        }
        s.ready_keys = keys;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inbox::Capacity;

    fn agent(id: &str, skills: &[(&str, u8)], chats: u32) -> Agent {
        Agent {
            id: id.into(),
            tenant: "t".into(),
            name: id.into(),
            channels: vec!["wa".into()],
            skills: skills.iter().map(|(s, _)| s.to_string()).collect(),
            proficiency: skills.iter().map(|(s, p)| (s.to_string(), *p)).collect(),
            capacity: Capacity {
                chat: chats,
                email: 0,
                social: 0,
            },
            state: AgentState::Available,
            team: None,
            permissions: Default::default(),
        }
    }

    fn case(id: &str, skill: &str, priority: u8, since: u64) -> QueuedCase {
        QueuedCase {
            id: id.into(),
            skill: skill.into(),
            priority,
            since_ms: since,
            channel: "wa".into(),
            kind: WorkKind::Chat,
            team: None,
        }
    }

    #[test]
    fn the_most_proficient_then_longest_idle_agent_with_free_capacity_gets_the_case() {
        let mut r = Router::default();
        r.upsert_agent(agent("junior", &[("billing", 3)], 3), 0);
        r.upsert_agent(agent("senior", &[("billing", 9)], 1), 10);
        r.upsert_agent(agent("senior2", &[("billing", 9)], 1), 5);
        let c = case("c1", "billing", 5, 100);
        assert_eq!(r.best_agent(&c).as_deref(), Some("senior2"));
        assert_eq!(r.best_agent(&c), r.best_agent_naive(&c));
        r.set_assigned("c1", "senior2", WorkKind::Chat, 200);
        assert_eq!(r.best_agent(&c).as_deref(), Some("senior"));
        r.set_assigned("c2", "senior", WorkKind::Chat, 210);
        assert_eq!(
            r.best_agent(&c).as_deref(),
            Some("junior"),
            "seniors are full"
        );
        r.release("c1");
        assert_eq!(r.best_agent(&c).as_deref(), Some("senior2"));
        let email = QueuedCase {
            kind: WorkKind::Email,
            ..c
        };
        assert_eq!(r.best_agent(&email), None, "no email capacity");
    }

    #[test]
    fn a_queue_is_served_by_priority_then_age_and_only_to_agents_who_may_read_the_channel() {
        let mut r = Router::default();
        r.upsert_agent(agent("ann", &[("support", 5)], 3), 0);
        r.enqueue(case("old-low", "support", 5, 1));
        r.enqueue(case("new-high", "support", 1, 9));
        r.enqueue(case("older-low", "support", 5, 0));
        assert_eq!(r.best_case_for("ann").as_deref(), Some("new-high"));
        r.dequeue("new-high");
        assert_eq!(r.best_case_for("ann").as_deref(), Some("older-low"));
        let mut elsewhere = case("other", "support", 1, 0);
        elsewhere.channel = "fb".into();
        r.enqueue(elsewhere.clone());
        assert_eq!(r.best_case_for("ann").as_deref(), Some("older-low"));
        assert_eq!(r.best_agent(&elsewhere), None);
    }

    #[test]
    fn away_and_offline_agents_get_nothing_pushed() {
        let mut r = Router::default();
        let mut a = agent("ann", &[("support", 5)], 3);
        a.state = AgentState::Away;
        r.upsert_agent(a.clone(), 0);
        let c = case("c", "support", 5, 0);
        assert_eq!(r.best_agent(&c), None);
        a.state = AgentState::Available;
        r.upsert_agent(a, 1);
        assert_eq!(r.best_agent(&c).as_deref(), Some("ann"));
    }
}
