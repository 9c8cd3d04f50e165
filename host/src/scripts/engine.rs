//! The script engine: starts a channel's default script on each new case (and triggered
//! scripts on later messages and status changes), runs its steps, and parks it on a wait as a
//! durable run record (`keys::script_run`) plus an in-memory timer rebuilt from those records
//! on start. A case keeps the version it started with. While a run exists, routing leaves the
//! case out of the queues; when the script ends, routing takes over.
//!
//! The engine is driven by the inbox's live events on one thread (`start`), and by `tick`
//! for timers, with time from the routing [`Clock`](crate::clock::Clock). Tests call `handle`
//! and `tick` directly.

use std::collections::BTreeSet;
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use super::model::*;
use crate::inbox::{
    keys, Author, Case, CaseStatus, Contact, Inbox, InboxError, LiveEvent, ReplyRequest, Result,
};
use crate::routing::Routing;

pub struct Engine {
    inbox: Arc<Inbox>,
    routing: Arc<Routing>,
    /// Called after an auto-reply is queued (wakes delivery).
    on_reply: Box<dyn Fn() + Send + Sync>,
    /// Parked runs: (wake, tenant, case).
    timers: Mutex<BTreeSet<(u64, String, String)>>,
    /// One script step at a time.
    running: Mutex<()>,
}

impl Engine {
    pub fn new(
        inbox: Arc<Inbox>,
        routing: Arc<Routing>,
        on_reply: Box<dyn Fn() + Send + Sync>,
    ) -> Arc<Self> {
        Arc::new(Self {
            inbox,
            routing,
            on_reply,
            timers: Mutex::new(BTreeSet::new()),
            running: Mutex::new(()),
        })
    }

    pub fn routing(&self) -> &Arc<Routing> {
        &self.routing
    }

    fn now(&self) -> u64 {
        self.routing.clock().now_ms()
    }

    /// Rebuild routing and the timers of parked runs from the store.
    ///
    /// Automation that a crash interrupted is finished here: a new case whose default script
    /// never started gets it now, and a run that was between two steps continues from the
    /// last step it recorded (steps are at least once: the one in flight may run again).
    pub fn rebuild(&self) -> Result<()> {
        self.routing.rebuild()?;
        let mut interrupted = Vec::new();
        {
            let mut timers = self.timers.lock().unwrap_or_else(|p| p.into_inner());
            timers.clear();
            for t in self.inbox.tenants()? {
                for (k, run) in self.inbox.scan_records::<Run>(&keys::script_runs(&t.id))? {
                    match run.wake_ms {
                        Some(wake) => {
                            timers.insert((wake, t.id.clone(), keys::last_part(&k)));
                        }
                        None => interrupted.push((t.id.clone(), keys::last_part(&k), run)),
                    }
                }
            }
        }
        let tenants = self.inbox.tenants()?;
        let _one = self.running.lock().unwrap_or_else(|p| p.into_inner());
        // Marks first: a marked case that already has a run only loses its mark here, and the
        // run continues below.
        for t in tenants {
            for (k, channel) in self
                .inbox
                .scan_records::<String>(&keys::automation_pendings(&t.id))?
            {
                let case = keys::last_part(&k);
                tracing::info!(tenant = %t.id, case, "automation: starting a default script a restart interrupted");
                self.start_default(&t.id, &case, &channel)?;
            }
        }
        for (tenant, case, run) in interrupted {
            tracing::info!(tenant, case, script = %run.script, pc = run.pc, "automation: continuing a run a restart interrupted");
            self.resume(&tenant, &case, run, false)?;
        }
        Ok(())
    }

    /// A case a customer opened: run its channel's default script exactly once. The pending
    /// mark is written with the case and cleared here, so neither a crash nor an event seen
    /// twice (live, then again by `rebuild`) starts it twice. Cases an agent opened
    /// (proactive conversations) carry no mark and run no default script.
    fn start_default(&self, tenant: &str, case: &str, channel: &str) -> Result<()> {
        let pending = keys::automation_pending(tenant, case);
        if self.inbox.get_record::<String>(&pending)?.is_none() {
            return Ok(());
        }
        let active = self
            .inbox
            .case(tenant, case)
            .is_ok_and(|c| !matches!(c.status, CaseStatus::Resolved | CaseStatus::Closed));
        if active && self.run_of(tenant, case)?.is_none() {
            if let Some(ch) = self.inbox.channel(tenant, channel)? {
                // The run is stored and the mark cleared in one commit.
                if self.start_clearing(tenant, case, &ch.default_script, Some(pending.clone()))? {
                    return Ok(());
                }
            }
        }
        self.inbox.delete_record(pending)
    }

    /// The run a case is in, if any.
    pub fn run_of(&self, tenant: &str, case: &str) -> Result<Option<Run>> {
        self.inbox.get_record(&keys::script_run(tenant, case))
    }

    /// React to one live event of the inbox.
    pub fn handle(&self, ev: &LiveEvent) -> Result<()> {
        let t = ev.tenant.as_str();
        {
            let _one = self.running.lock().unwrap_or_else(|p| p.into_inner());
            match ev.kind {
                "case-created" => self.start_default(t, &ev.case_id, &ev.channel)?,
                "message-created" if ev.detail["direction"] == "inbound" => {
                    match self.run_of(t, &ev.case_id)? {
                        Some(run) if run.waiting == Some(WaitUntil::Inbound) => {
                            self.resume(t, &ev.case_id, run, false)?
                        }
                        Some(_) => {}
                        None => {
                            let case = self.inbox.case(t, &ev.case_id)?;
                            if case.message_count > 1 {
                                self.triggered(t, &case, TriggerEvent::InboundMessage)?;
                            }
                        }
                    }
                }
                // A finished case needs no more automation: a waiting script ends here.
                "status-changed"
                    if matches!(ev.detail["to"].as_str(), Some("resolved" | "closed"))
                        && self.run_of(t, &ev.case_id)?.is_some() =>
                {
                    self.inbox.delete_record(keys::script_run(t, &ev.case_id))?;
                }
                "status-changed" => {
                    let by_script = ev.detail["by"]
                        .as_str()
                        .is_some_and(|b| b.starts_with("script:"));
                    if !by_script && self.run_of(t, &ev.case_id)?.is_none() {
                        if let Ok(case) = self.inbox.case(t, &ev.case_id) {
                            self.triggered(t, &case, TriggerEvent::StatusChanged)?;
                        }
                    }
                }
                _ => {}
            }
        }
        self.routing.observe(ev)?;
        if matches!(
            ev.kind,
            "case-created" | "message-created" | "status-changed" | "assigned" | "case-updated"
        ) {
            self.routing.reconcile(t, &ev.case_id)?;
        }
        Ok(())
    }

    /// Wake parked runs whose time has come, then check SLA deadlines.
    pub fn tick(&self) -> Result<()> {
        let now = self.now();
        let due: Vec<(u64, String, String)> = {
            let mut timers = self.timers.lock().unwrap_or_else(|p| p.into_inner());
            let mut out = Vec::new();
            while timers.first().is_some_and(|f| f.0 <= now) {
                out.extend(timers.pop_first());
            }
            out
        };
        for (wake, t, case) in due {
            {
                let _one = self.running.lock().unwrap_or_else(|p| p.into_inner());
                let Some(run) = self.run_of(&t, &case)? else {
                    continue;
                };
                if run.wake_ms != Some(wake) {
                    continue;
                }
                let timed_out = match run.waiting {
                    Some(WaitUntil::BusinessHours) => self
                        .script(&t, &run)?
                        .and_then(|s| s.business_hours)
                        .is_none_or(|h| !h.is_open(now)),
                    _ => true,
                };
                self.resume(&t, &case, run, timed_out)?;
            }
            self.routing.reconcile(&t, &case)?;
        }
        self.routing.tick()?;
        Ok(())
    }

    fn script(&self, tenant: &str, run: &Run) -> Result<Option<ScriptVersion>> {
        super::version(&self.inbox, tenant, &run.script, run.version)
    }

    /// Start the first script of the tenant triggered by `event` on the case's channel.
    fn triggered(&self, tenant: &str, case: &Case, event: TriggerEvent) -> Result<()> {
        let found = super::list(&self.inbox, tenant)?.into_iter().find(|s| {
            s.trigger.event == event
                && (s.trigger.channels.is_empty() || s.trigger.channels.contains(&case.channel))
        });
        if let Some(s) = found {
            self.start(tenant, &case.id, &s.id)?;
        }
        Ok(())
    }

    /// Start the newest version of `script` on a case.
    pub fn start(&self, tenant: &str, case: &str, script: &str) -> Result<()> {
        self.start_clearing(tenant, case, script, None).map(|_| ())
    }

    /// Start `script` on the case; `clear` (a pending mark) is deleted in the same commit as
    /// the run is stored. False when the script does not exist (nothing was written).
    fn start_clearing(
        &self,
        tenant: &str,
        case: &str,
        script: &str,
        clear: Option<Vec<u8>>,
    ) -> Result<bool> {
        let Some(version) = super::latest(&self.inbox, tenant, script)? else {
            tracing::warn!(tenant, case, script, "the script to run does not exist");
            return Ok(false);
        };
        let run = Run {
            script: version.id.clone(),
            version: version.version,
            pc: 0,
            waiting: None,
            wake_ms: None,
            timed_out: false,
            started_ms: self.now(),
        };
        let key = keys::script_run(tenant, case);
        match clear {
            Some(gone) => self.inbox.put_and_delete(key, &run, gone)?,
            None => self.inbox.put_record(key, &run)?,
        }
        self.exec(tenant, case, &version, run)?;
        Ok(true)
    }

    fn resume(&self, tenant: &str, case: &str, mut run: Run, timed_out: bool) -> Result<()> {
        run.waiting = None;
        run.wake_ms = None;
        run.timed_out = timed_out;
        match self.script(tenant, &run)? {
            Some(version) => self.exec(tenant, case, &version, run),
            None => self.inbox.delete_record(keys::script_run(tenant, case)),
        }
    }

    /// Run from `run.pc` until the script ends or waits.
    fn exec(
        &self,
        tenant: &str,
        case_id: &str,
        script: &ScriptVersion,
        mut run: Run,
    ) -> Result<()> {
        let program = compile(&script.steps);
        let mut budget = 10_000;
        while run.pc < program.len() && budget > 0 {
            budget -= 1;
            match &program[run.pc] {
                Instr::Jump(to) => run.pc = *to,
                Instr::JumpUnless(cond, to) => {
                    run.pc = if self.holds(tenant, case_id, script, &run, cond)? {
                        run.pc + 1
                    } else {
                        *to
                    }
                }
                Instr::Do(Step::Route) => run.pc = program.len(),
                Instr::Do(Step::Wait { until, timeout_s }) => {
                    let now = self.now();
                    let timeout_at = timeout_s.map(|s| now + s * 1000);
                    let wake = match until {
                        WaitUntil::BusinessHours => {
                            let open = script
                                .business_hours
                                .as_ref()
                                .map_or(now, |h| h.next_open(now));
                            if open <= now {
                                run.pc += 1;
                                run.timed_out = false;
                                continue;
                            }
                            timeout_at.map_or(open, |t| t.min(open))
                        }
                        WaitUntil::Inbound | WaitUntil::Timeout => timeout_at.unwrap_or(now),
                    };
                    run.pc += 1;
                    run.waiting = Some(*until);
                    run.wake_ms = Some(wake);
                    self.inbox
                        .put_record(keys::script_run(tenant, case_id), &run)?;
                    self.timers
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert((wake, tenant.to_string(), case_id.to_string()));
                    return Ok(());
                }
                Instr::Do(step) => {
                    if let Err(e) = self.act(tenant, case_id, script, step) {
                        tracing::warn!(tenant, case = case_id, script = %script.id, version = script.version, pc = run.pc, "script step failed: {e}");
                    }
                    run.pc += 1;
                    // Record the progress, so a restart continues after this step.
                    self.inbox
                        .put_record(keys::script_run(tenant, case_id), &run)?;
                }
            }
        }
        self.inbox.delete_record(keys::script_run(tenant, case_id))
    }

    fn holds(
        &self,
        tenant: &str,
        case_id: &str,
        script: &ScriptVersion,
        run: &Run,
        cond: &Condition,
    ) -> Result<bool> {
        Ok(match cond {
            Condition::Keyword(words) => {
                let text = self
                    .inbox
                    .last_inbound_text(tenant, case_id)?
                    .unwrap_or_default()
                    .to_lowercase();
                words.iter().any(|w| text.contains(&w.to_lowercase()))
            }
            Condition::ContactAttribute(test) => {
                let case = self.inbox.case(tenant, case_id)?;
                let contact: Option<Contact> = self
                    .inbox
                    .get_record(&keys::contact(tenant, &case.contact))?;
                let value = contact.and_then(|c| match test.name.as_str() {
                    "display_name" => c.display_name,
                    "handle" => c.handle,
                    "provider_user_id" => Some(c.provider_user_id),
                    "channel" => Some(c.channel),
                    _ => None,
                });
                match (
                    value.map(|v| v.to_lowercase()),
                    &test.equals,
                    &test.contains,
                ) {
                    (Some(v), Some(e), _) => v == e.to_lowercase(),
                    (Some(v), None, Some(c)) => v.contains(&c.to_lowercase()),
                    _ => false,
                }
            }
            Condition::Channel(list) => list.contains(&self.inbox.case(tenant, case_id)?.channel),
            Condition::BusinessHours(want) => {
                script
                    .business_hours
                    .as_ref()
                    .is_some_and(|h| h.is_open(self.now()))
                    == *want
            }
            Condition::WaitTimedOut(want) => run.timed_out == *want,
            Condition::All(list) => {
                for c in list {
                    if !self.holds(tenant, case_id, script, run, c)? {
                        return Ok(false);
                    }
                }
                true
            }
            Condition::Any(list) => {
                for c in list {
                    if self.holds(tenant, case_id, script, run, c)? {
                        return Ok(true);
                    }
                }
                false
            }
            Condition::Not(c) => !self.holds(tenant, case_id, script, run, c)?,
        })
    }

    fn act(&self, tenant: &str, case_id: &str, script: &ScriptVersion, step: &Step) -> Result<()> {
        let by = format!("script:{}@{}", script.id, script.version);
        let detail =
            |field: &str, value: serde_json::Value| serde_json::json!({ field: value, "by": by });
        match step {
            Step::SetSkill { skill } => {
                self.inbox.update_case(
                    tenant,
                    case_id,
                    detail("skill", skill.as_str().into()),
                    |c| c.skill = skill.clone(),
                )?;
            }
            Step::SetPriority { priority } => {
                self.inbox.update_case(
                    tenant,
                    case_id,
                    detail("priority", (*priority).into()),
                    |c| c.priority = *priority,
                )?;
            }
            Step::Reply { content } => {
                self.inbox.reply(
                    tenant,
                    case_id,
                    Author::Bot(script.id.clone()),
                    ReplyRequest {
                        content: content.clone(),
                        reply_to: None,
                    },
                )?;
                (self.on_reply)();
            }
            Step::Tag { tags } => {
                self.inbox.set_tags(tenant, case_id, tags, &[])?;
            }
            Step::Assign {
                agent: Some(agent), ..
            } => {
                self.inbox.assign(tenant, case_id, Some(agent), None, &by)?;
            }
            Step::Assign { team, .. } => {
                self.inbox.update_case(
                    tenant,
                    case_id,
                    detail("team", team.clone().into()),
                    |c| c.team = team.clone(),
                )?;
            }
            Step::SetStatus { status } => {
                self.inbox.set_status(tenant, case_id, *status, &by)?;
            }
            Step::Wait { .. } | Step::Branch { .. } | Step::Route => {
                return Err(InboxError::Invalid("not an action".into()))
            }
        }
        Ok(())
    }

    /// Drive the engine from the inbox's live events on a thread of its own, ticking timers
    /// every `tick`. The returned task forwards events; aborting it stops the thread.
    pub fn start_driver(self: Arc<Self>, tick: Duration) -> tokio::task::JoinHandle<()> {
        let mut rx = self.inbox.subscribe();
        let (tx, events) = mpsc::channel::<Option<LiveEvent>>();
        let me = self.clone();
        if let Err(e) = std::thread::Builder::new()
            .name("inlet-automation".into())
            .spawn(move || me.drive(events, tick))
        {
            tracing::error!("cannot start the automation thread: {e}");
        }
        tokio::spawn(async move {
            use tokio::sync::broadcast::error::RecvError;
            loop {
                let sent = match rx.recv().await {
                    Ok(ev) => tx.send(Some(ev)),
                    // Missed events: rebuild routing from the store.
                    Err(RecvError::Lagged(_)) => tx.send(None),
                    Err(RecvError::Closed) => return,
                };
                if sent.is_err() {
                    return;
                }
            }
        })
    }

    fn drive(&self, events: mpsc::Receiver<Option<LiveEvent>>, tick: Duration) {
        let mut last = Instant::now();
        loop {
            let outcome = match events.recv_timeout(tick) {
                Ok(Some(ev)) => self.handle(&ev),
                Ok(None) => self.rebuild(),
                Err(mpsc::RecvTimeoutError::Timeout) => Ok(()),
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            };
            if let Err(e) = outcome {
                tracing::warn!("automation: {e}");
            }
            if last.elapsed() >= tick {
                last = Instant::now();
                if let Err(e) = self.tick() {
                    tracing::warn!("automation tick: {e}");
                }
            }
        }
    }
}
