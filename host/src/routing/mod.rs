//! Skill-based routing: owns agents' state and load, the skill queues, push assignment, pull
//! ("take next"), transfer, requeue when an agent goes offline, and SLA timers. The decision
//! itself lives in [`router::Router`] (memory only); this service keeps one per tenant in step
//! with the store: it is rebuilt from agents and active cases on start, and every change is
//! written through the inbox (`Inbox::assign`, `Inbox::update_case`), never to memory alone.
//!
//! A case is queued when it is active (new, open, pending, escalated), unassigned and no
//! script holds it (a stored script run, `keys::script_run`). Time comes from a [`Clock`].

pub mod router;
pub mod sla;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use crate::clock::Clock;
use crate::inbox::{
    keys, Agent, AgentState, Author, Case, CaseStatus, Inbox, InboxError, LiveEvent, Message,
    Result, WorkKind,
};
use router::{QueueStat, QueuedCase, Router};
use sla::{SlaKind, SlaPolicy};

/// The kind of work a channel's cases are (capacity is counted per kind).
pub type KindOf = Arc<dyn Fn(&str) -> WorkKind + Send + Sync>;

/// Who routing acts as in live events and case history.
pub const BY: &str = "routing";

pub struct Routing {
    inbox: Arc<Inbox>,
    clock: Arc<dyn Clock>,
    kind_of: KindOf,
    tenants: Mutex<HashMap<String, Router>>,
    /// SLA deadlines still to watch: (due, tenant, case, kind).
    deadlines: Mutex<BTreeSet<(u64, String, String, SlaKind)>>,
}

fn active(status: CaseStatus) -> bool {
    !matches!(status, CaseStatus::Resolved | CaseStatus::Closed)
}

impl Routing {
    pub fn new(inbox: Arc<Inbox>, clock: Arc<dyn Clock>, kind_of: KindOf) -> Arc<Self> {
        Arc::new(Self {
            inbox,
            clock,
            kind_of,
            tenants: Mutex::new(HashMap::new()),
            deadlines: Mutex::new(BTreeSet::new()),
        })
    }

    /// The kind of work of a channel's cases.
    pub fn kind_of(&self, channel: &str) -> WorkKind {
        (self.kind_of)(channel)
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Router>> {
        self.tenants.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Rebuild every tenant's queues, loads and SLA deadlines from the store.
    pub fn rebuild(&self) -> Result<()> {
        let mut tenants = self.lock();
        tenants.clear();
        self.deadlines
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        for t in self.inbox.tenants()? {
            let router = self.load(&t.id)?;
            tenants.insert(t.id, router);
        }
        Ok(())
    }

    fn load(&self, tenant: &str) -> Result<Router> {
        let now = self.clock.now_ms();
        let mut r = Router::default();
        for agent in self.inbox.agents(tenant)? {
            r.upsert_agent(agent, now);
        }
        for case in self.inbox.active_cases(tenant)? {
            self.watch_sla(tenant, &case);
            match &case.assignee {
                Some(a) => r.set_assigned(&case.id, a, (self.kind_of)(&case.channel), now),
                None if !self.held(tenant, &case.id)? => r.enqueue(self.queued(&case)),
                None => {}
            }
        }
        Ok(r)
    }

    fn router<'a>(
        &self,
        tenants: &'a mut HashMap<String, Router>,
        tenant: &str,
    ) -> Result<&'a mut Router> {
        if !tenants.contains_key(tenant) {
            let r = self.load(tenant)?;
            tenants.insert(tenant.to_string(), r);
        }
        tenants
            .get_mut(tenant)
            .ok_or_else(|| InboxError::NotFound(format!("no tenant `{tenant}`")))
    }

    /// Forget a tenant (deleted).
    pub fn forget(&self, tenant: &str) {
        self.lock().remove(tenant);
    }

    fn held(&self, tenant: &str, case: &str) -> Result<bool> {
        Ok(self
            .inbox
            .store()
            .get(&keys::script_run(tenant, case))?
            .is_some())
    }

    fn queued(&self, case: &Case) -> QueuedCase {
        QueuedCase {
            id: case.id.clone(),
            skill: case.skill.clone(),
            priority: case.priority,
            since_ms: case.created_ms,
            channel: case.channel.clone(),
            kind: (self.kind_of)(&case.channel),
            team: case.team.clone(),
        }
    }

    /// Bring routing in line with the stored case: count it against its agent, queue it (and
    /// offer it to the best agent), or let it go when it is resolved or closed.
    pub fn reconcile(&self, tenant: &str, case_id: &str) -> Result<()> {
        // Read under the lock: every assignment routing makes happens under it too, so the
        // case cannot change hands between this read and the decision.
        let mut tenants = self.lock();
        let case = match self.inbox.case(tenant, case_id) {
            Ok(c) => c,
            Err(InboxError::NotFound(_)) => return Ok(()),
            Err(e) => return Err(e),
        };
        let case = self.start_sla(tenant, case)?;
        let now = self.clock.now_ms();
        let kind = (self.kind_of)(&case.channel);
        let r = self.router(&mut tenants, tenant)?;
        let freed = match (&case.assignee, active(case.status)) {
            (Some(a), true) => {
                let before = r.assignee(&case.id).map(str::to_string);
                r.set_assigned(&case.id, a, kind, now);
                // Transferred away from someone: they have room again.
                before.filter(|b| b != a)
            }
            (None, true) => {
                let freed = r.release(&case.id);
                r.dequeue(&case.id);
                if !self.held(tenant, &case.id)? {
                    r.enqueue(self.queued(&case));
                    self.push(tenant, r, &case.id)?;
                }
                freed
            }
            (_, false) => {
                r.dequeue(&case.id);
                r.release(&case.id)
            }
        };
        if let Some(agent) = freed {
            self.pull_for(tenant, r, &agent)?;
        }
        Ok(())
    }

    /// Offer a queued case to the best agent.
    fn push(&self, tenant: &str, r: &mut Router, case_id: &str) -> Result<Option<String>> {
        let Some(q) = r.queued(case_id).cloned() else {
            return Ok(None);
        };
        let Some(agent) = r.best_agent(&q) else {
            return Ok(None);
        };
        self.give(tenant, r, &q, &agent)?;
        Ok(Some(agent))
    }

    fn give(&self, tenant: &str, r: &mut Router, q: &QueuedCase, agent: &str) -> Result<Case> {
        let case = self.inbox.assign(tenant, &q.id, Some(agent), None, BY)?;
        r.set_assigned(&q.id, agent, q.kind, self.clock.now_ms());
        Ok(case)
    }

    /// Give an agent queued cases while it is available and has room.
    fn pull_for(&self, tenant: &str, r: &mut Router, agent: &str) -> Result<()> {
        if r.agent(agent)
            .is_none_or(|a| a.state != AgentState::Available)
        {
            return Ok(());
        }
        while let Some(id) = r.best_case_for(agent) {
            let Some(q) = r.queued(&id).cloned() else {
                break;
            };
            self.give(tenant, r, &q, agent)?;
        }
        Ok(())
    }

    /// The agent record changed (profile, skills, state): re-read it, requeue its cases if it
    /// went offline, offer it work if it is available.
    pub fn agent_changed_blocking(&self, tenant: &str, agent_id: &str) -> Result<()> {
        let Some(agent) = self.inbox.agent(tenant, agent_id)? else {
            return Ok(());
        };
        let mut tenants = self.lock();
        let r = self.router(&mut tenants, tenant)?;
        r.upsert_agent(agent.clone(), self.clock.now_ms());
        if agent.state == AgentState::Offline {
            for case_id in r.cases_of(agent_id) {
                let case = self.inbox.assign(
                    tenant,
                    &case_id,
                    None,
                    None,
                    "routing: agent went offline",
                )?;
                r.release(&case_id);
                r.enqueue(self.queued(&case));
                self.push(tenant, r, &case_id)?;
            }
        }
        self.pull_for(tenant, r, agent_id)
    }

    /// Async wrapper for the API.
    pub async fn agent_changed(self: &Arc<Self>, tenant: &str, agent_id: &str) {
        let (me, t, a) = (self.clone(), tenant.to_string(), agent_id.to_string());
        let done = tokio::task::spawn_blocking(move || me.agent_changed_blocking(&t, &a)).await;
        if let Ok(Err(e)) = done {
            tracing::error!(
                tenant,
                agent = agent_id,
                "routing could not follow an agent change: {e}"
            );
        }
    }

    /// Set an agent's state (available, away, offline).
    pub fn set_state(&self, tenant: &str, agent_id: &str, state: AgentState) -> Result<Agent> {
        let mut agent = self
            .inbox
            .agent(tenant, agent_id)?
            .ok_or_else(|| InboxError::NotFound(format!("no agent `{agent_id}`")))?;
        agent.state = state;
        self.inbox.put_agent(&agent)?;
        self.agent_changed_blocking(tenant, agent_id)?;
        Ok(agent)
    }

    /// Delete an agent: their cases go back to the queue and on to the next available agent
    /// (as when they go offline), the router forgets them, and their record and API tokens
    /// are deleted.
    pub fn remove_agent(&self, tenant: &str, agent_id: &str) -> Result<()> {
        self.set_state(tenant, agent_id, AgentState::Offline)?;
        {
            let mut tenants = self.lock();
            self.router(&mut tenants, tenant)?.remove_agent(agent_id);
        }
        self.inbox.delete_agent(tenant, agent_id)
    }

    /// Pull: the agent takes the most urgent queued case it may handle.
    pub fn take_next(&self, tenant: &str, agent_id: &str) -> Result<Option<Case>> {
        let mut tenants = self.lock();
        let r = self.router(&mut tenants, tenant)?;
        if r.agent(agent_id).is_none() {
            return Err(InboxError::NotFound(format!("no agent `{agent_id}`")));
        }
        let Some(id) = r.best_case_for(agent_id) else {
            return Ok(None);
        };
        let Some(q) = r.queued(&id).cloned() else {
            return Ok(None);
        };
        self.give(tenant, r, &q, agent_id).map(Some)
    }

    /// Transfer a case to an agent (who must be allowed to read its channel) or to a skill's
    /// queue (where the best agent of that skill gets it).
    pub fn transfer(
        &self,
        tenant: &str,
        case_id: &str,
        to_agent: Option<&str>,
        to_skill: Option<&str>,
        by: &str,
    ) -> Result<Case> {
        let case = self.inbox.case(tenant, case_id)?;
        if !active(case.status) {
            return Err(InboxError::Conflict(format!(
                "a {} case cannot be transferred",
                case.status.as_str()
            )));
        }
        match (to_agent, to_skill) {
            (Some(a), None) => {
                let agent = self
                    .inbox
                    .agent(tenant, a)?
                    .ok_or_else(|| InboxError::Invalid(format!("/agent: no agent `{a}`")))?;
                if !agent.may(&case.channel, crate::inbox::Permission::Read) {
                    return Err(InboxError::Invalid(format!(
                        "/agent: agent `{a}` may not read channel `{}`",
                        case.channel
                    )));
                }
                let case = self.inbox.assign(tenant, case_id, Some(a), None, by)?;
                self.reconcile(tenant, case_id)?;
                Ok(case)
            }
            (None, Some(s)) => {
                if !self.inbox.skills(tenant)?.iter().any(|k| k.id == s) {
                    return Err(InboxError::Invalid(format!("/skill: no skill `{s}`")));
                }
                self.inbox.assign(tenant, case_id, None, Some(s), by)?;
                self.reconcile(tenant, case_id)?;
                self.inbox.case(tenant, case_id)
            }
            _ => Err(InboxError::Invalid(
                "name exactly one of `agent` and `skill`".into(),
            )),
        }
    }

    pub fn queue_stats(&self, tenant: &str) -> Result<Vec<QueueStat>> {
        let mut tenants = self.lock();
        Ok(self.router(&mut tenants, tenant)?.queue_stats())
    }

    /// An agent's load per kind of work and assigned cases.
    pub fn agent_load(&self, tenant: &str, agent: &str) -> Result<serde_json::Value> {
        let mut tenants = self.lock();
        let r = self.router(&mut tenants, tenant)?;
        let load = r.load(agent);
        Ok(serde_json::json!({
            "chat": load[0], "email": load[1], "social": load[2], "cases": r.cases_of(agent)
        }))
    }

    // ---- SLA

    pub fn sla_policies(&self, tenant: &str) -> Result<Vec<SlaPolicy>> {
        Ok(self
            .inbox
            .get_record(&keys::sla_policies(tenant))?
            .unwrap_or_default())
    }

    pub fn set_sla_policies(&self, tenant: &str, policies: Vec<SlaPolicy>) -> Result<()> {
        sla::validate(&policies).map_err(InboxError::Invalid)?;
        self.inbox.put_record(keys::sla_policies(tenant), &policies)
    }

    /// Start a case's SLA the first time routing sees it (if a policy applies), and apply
    /// the policies again when it has moved to another skill since.
    fn start_sla(&self, tenant: &str, case: Case) -> Result<Case> {
        if !active(case.status) {
            return Ok(case);
        }
        let policies = self.sla_policies(tenant)?;
        let updated = match &case.sla {
            Some(current) => match sla::reapply(current, &policies, &case) {
                Some(moved) => moved,
                None => return Ok(case),
            },
            None => match sla::policy_for(&policies, &case) {
                Some(policy) => sla::start(policy, &case.skill, self.clock.now_ms()),
                None => return Ok(case),
            },
        };
        let was = case.sla.clone();
        let case = self
            .inbox
            .update_case(tenant, &case.id, serde_json::Value::Null, |c| {
                // Only if nobody changed it meanwhile.
                if c.sla == was {
                    c.sla = Some(updated)
                }
            })?;
        self.watch_sla(tenant, &case);
        Ok(case)
    }

    fn watch_sla(&self, tenant: &str, case: &Case) {
        let Some(s) = &case.sla else { return };
        let mut d = self.deadlines.lock().unwrap_or_else(|p| p.into_inner());
        for (due, kind) in sla::pending(s) {
            d.insert((due, tenant.to_string(), case.id.clone(), kind));
        }
    }

    /// Follow live events that routing cares about beyond the case record: an agent's first
    /// answer stops the first-response timer.
    pub fn observe(&self, event: &LiveEvent) -> Result<()> {
        if event.kind != "message-created" || event.detail["direction"] != "outbound" {
            return Ok(());
        }
        let case = self.inbox.case(&event.tenant, &event.case_id)?;
        if case
            .sla
            .as_ref()
            .is_none_or(|s| s.first_response_ms.is_some())
        {
            return Ok(());
        }
        let seq: Option<u64> = event.detail["message"]
            .as_str()
            .and_then(|m| m.rsplit('-').next())
            .and_then(|s| s.parse().ok());
        let Some(seq) = seq else { return Ok(()) };
        let message: Option<Message> =
            self.inbox
                .get_record(&keys::message(&event.tenant, &case.id, seq))?;
        if !matches!(message.map(|m| m.author), Some(Author::Agent(_))) {
            return Ok(());
        }
        let now = self.clock.now_ms();
        self.inbox
            .update_case(&event.tenant, &case.id, serde_json::Value::Null, |c| {
                if let Some(s) = c.sla.as_mut() {
                    s.first_response_ms.get_or_insert(now);
                }
            })?;
        Ok(())
    }

    /// Raise `sla-breached` for every deadline passed (and mark it on the case).
    pub fn tick(&self) -> Result<usize> {
        let now = self.clock.now_ms();
        let due: Vec<(u64, String, String, SlaKind)> = {
            let mut d = self.deadlines.lock().unwrap_or_else(|p| p.into_inner());
            let mut out = Vec::new();
            while let Some(first) = d.first().cloned() {
                if first.0 > now {
                    break;
                }
                d.pop_first();
                out.push(first);
            }
            out
        };
        let mut breached = 0;
        for (due_ms, tenant, case_id, kind) in due {
            let Ok(case) = self.inbox.case(&tenant, &case_id) else {
                continue;
            };
            let Some(s) = &case.sla else { continue };
            if !active(case.status) || !sla::pending(s).contains(&(due_ms, kind)) {
                continue;
            }
            let case = self
                .inbox
                .update_case(&tenant, &case_id, serde_json::Value::Null, |c| {
                    if let Some(s) = c.sla.as_mut() {
                        match kind {
                            SlaKind::FirstResponse => s.first_response_breached = true,
                            SlaKind::Resolution => s.resolution_breached = true,
                        }
                    }
                })?;
            self.inbox.publish(
                &tenant,
                "sla-breached",
                &case,
                serde_json::json!({"sla": kind.as_str(), "due_ms": due_ms, "assignee": case.assignee, "skill": case.skill}),
            );
            breached += 1;
        }
        Ok(breached)
    }
}

/// The kind of work of a plugin's channels: social plugins are social work, plugins named
/// for e-mail are email, everything else is chat.
pub fn work_kind(manifest: &crate::model::Manifest) -> WorkKind {
    match manifest.kind {
        crate::model::ChannelKind::Social => WorkKind::Social,
        _ if manifest.id.contains("mail") => WorkKind::Email,
        _ => WorkKind::Chat,
    }
}
