//! Ingest: inbound events → contacts, cases, messages. Deduped on (channel, provider id);
//! each event is one atomic batch; the whole request is made durable (group commit) before
//! [`Inbox::ingest`] returns, and only then are live events published.

use serde::Serialize;

use super::live::LiveEvent;
use super::types::*;
use super::{keys, new_id, put, Inbox, Result};
use crate::model::{self as m, DeliveryStatus, InboundEvent};
use crate::store::Op;

#[derive(Debug, Clone, Default, Serialize)]
pub struct IngestReport {
    pub new: usize,
    pub duplicates: usize,
    pub cases: Vec<String>,
}

/// Words for the full-text index: lower-case alphanumerics, 2-40 chars, at most 64 per message.
pub fn terms(text: &str) -> Vec<String> {
    let mut out: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| (2..=40).contains(&w.chars().count()))
        .map(str::to_lowercase)
        .collect();
    out.sort();
    out.dedup();
    out.truncate(64);
    out
}

impl Inbox {
    /// Store `events` received on `channel`. Returns once they are durable.
    pub fn ingest(
        &self,
        channel: &ChannelRecord,
        events: Vec<InboundEvent>,
    ) -> Result<IngestReport> {
        let mut report = IngestReport::default();
        let mut live = Vec::new();
        {
            let _guard = self.write.lock().unwrap_or_else(|p| p.into_inner());
            let quota = self
                .read::<Tenant>(&keys::tenant(&channel.tenant))?
                .and_then(|t| t.storage_quota_kb)
                .map(|kb| kb.saturating_mul(1024));
            let mut used = self.storage_used(&channel.tenant)?;
            if let Some(q) = quota.filter(|q| used >= *q) {
                return Err(super::InboxError::QuotaExceeded(format!(
                    "tenant `{}` has used {used} of its {q} bytes of storage; nothing was stored",
                    channel.tenant
                )));
            }
            for event in events {
                let dedupe = keys::dedupe(&channel.tenant, &channel.id, event.provider_id());
                if self.store.get(&dedupe)?.is_some() {
                    report.duplicates += 1;
                    continue;
                }
                let mut ops = Vec::new();
                let case_id = self.apply_event(channel, &event, &mut ops, &mut live)?;
                let seq = self.next_counter(keys::counter(&channel.tenant, "journal"), &mut ops)?;
                ops.push(put(
                    keys::journal(&channel.tenant, seq),
                    &JournalEntry {
                        seq,
                        channel: channel.id.clone(),
                        event,
                        received_ms: now_ms(),
                    },
                ));
                ops.push(Op::Put(
                    dedupe,
                    case_id.clone().unwrap_or_default().into_bytes(),
                ));
                used += ops
                    .iter()
                    .map(|op| match op {
                        Op::Put(k, v) => (k.len() + v.len()) as u64,
                        Op::Delete(k) => k.len() as u64,
                    })
                    .sum::<u64>();
                ops.push(Op::Put(
                    keys::counter(&channel.tenant, "bytes"),
                    used.to_string().into_bytes(),
                ));
                // One event, one atomic batch.
                self.store.apply(ops)?;
                report.new += 1;
                if let Some(c) = case_id {
                    if !report.cases.contains(&c) {
                        report.cases.push(c);
                    }
                }
            }
        }
        if report.new > 0 {
            // Durable before the caller acknowledges the provider.
            self.commit.sync()?;
        }
        for event in live {
            self.live.send(event);
        }
        Ok(report)
    }

    /// Translate one event into writes. Returns the case it touched, if any.
    fn apply_event(
        &self,
        channel: &ChannelRecord,
        event: &InboundEvent,
        ops: &mut Vec<Op>,
        live: &mut Vec<LiveEvent>,
    ) -> Result<Option<String>> {
        let t = &channel.tenant;
        match event {
            InboundEvent::Message(msg) => {
                let case = self.inbound(
                    channel,
                    &msg.conversation,
                    &msg.contact,
                    msg.text.clone(),
                    msg.attachments.clone(),
                    None,
                    Some(&msg.provider_id),
                    msg.timestamp_ms,
                    ops,
                    live,
                )?;
                Ok(Some(case))
            }
            InboundEvent::Postback(p) => {
                let text = p.label.clone().or_else(|| Some(p.payload.clone()));
                let case = self.inbound(
                    channel,
                    &p.conversation,
                    &p.contact,
                    text,
                    Vec::new(),
                    Some(p.payload.clone()),
                    None,
                    p.timestamp_ms,
                    ops,
                    live,
                )?;
                Ok(Some(case))
            }
            InboundEvent::Public(item) => {
                let case = self.inbound(
                    channel,
                    &item.conversation,
                    &item.author,
                    item.text.clone(),
                    item.attachments.clone(),
                    None,
                    Some(&item.provider_id),
                    item.timestamp_ms,
                    ops,
                    live,
                )?;
                Ok(Some(case))
            }
            InboundEvent::Edit(edit) => {
                let target = keys::provider_message(t, &channel.id, &edit.message_ref);
                match self.store.get(&target)? {
                    Some(msg_key) => {
                        let Some(mut message) = self.read::<Message>(&msg_key)? else {
                            return Ok(None);
                        };
                        message.text = edit.text.clone();
                        message.edited = true;
                        message.updated_ms = now_ms();
                        for term in message.text.as_deref().map(terms).unwrap_or_default() {
                            ops.push(Op::Put(
                                keys::term(t, &term, &message.case_id, message.seq),
                                Vec::new(),
                            ));
                        }
                        let case_id = message.case_id.clone();
                        ops.push(put(msg_key, &message));
                        live.push(self.live_event(
                            t,
                            "message-edited",
                            &case_id,
                            &channel.id,
                            serde_json::json!({"message": message.id}),
                        ));
                        Ok(Some(case_id))
                    }
                    // The original never reached us: keep the edit as a message of its own.
                    None => {
                        let case = self.inbound(
                            channel,
                            &edit.conversation,
                            &edit.contact,
                            edit.text.clone(),
                            edit.attachments.clone(),
                            None,
                            Some(&edit.provider_id),
                            edit.timestamp_ms,
                            ops,
                            live,
                        )?;
                        Ok(Some(case))
                    }
                }
            }
            InboundEvent::Deletion(d) => {
                let target = keys::provider_message(t, &channel.id, &d.message_ref);
                if let Some(msg_key) = self.store.get(&target)? {
                    if let Some(mut message) = self.read::<Message>(&msg_key)? {
                        message.deleted = true;
                        message.updated_ms = now_ms();
                        let case_id = message.case_id.clone();
                        ops.push(put(msg_key, &message));
                        return Ok(Some(case_id));
                    }
                }
                Ok(None)
            }
            InboundEvent::Receipt(r) => self.receipt(channel, r, ops, live),
        }
    }

    fn receipt(
        &self,
        channel: &ChannelRecord,
        r: &m::Receipt,
        ops: &mut Vec<Op>,
        live: &mut Vec<LiveEvent>,
    ) -> Result<Option<String>> {
        let t = &channel.tenant;
        let error = r.error.as_ref().map(|e| match &e.provider_code {
            Some(code) => format!("{} (provider code {code})", e.message),
            None => e.message.clone(),
        });
        let target = keys::provider_message(t, &channel.id, &r.message_ref);
        let Some(msg_key) = self.store.get(&target)? else {
            // Receipts can overtake the send's answer, or refer to messages sent elsewhere:
            // keep them.
            ops.push(put(
                keys::orphan_receipt(t, &channel.id, &r.message_ref, &r.provider_id),
                &OrphanReceipt {
                    channel: channel.id.clone(),
                    message_ref: r.message_ref.clone(),
                    status: r.status,
                    error,
                    received_ms: now_ms(),
                },
            ));
            return Ok(None);
        };
        let Some(mut message) = self.read::<Message>(&msg_key)? else {
            return Ok(None);
        };
        // Receipts arrive out of order: keep the furthest status; failure always wins.
        if r.status == DeliveryStatus::Failed
            || (message.status != DeliveryStatus::Failed && r.status > message.status)
        {
            message.status = r.status;
            if r.status == DeliveryStatus::Failed {
                message.failure = error;
            }
            message.updated_ms = now_ms();
            let case_id = message.case_id.clone();
            live.push(self.live_event(
                t,
                "delivery-status",
                &case_id,
                &channel.id,
                serde_json::json!({"message": message.id, "status": message.status}),
            ));
            ops.push(put(msg_key, &message));
            return Ok(Some(case_id));
        }
        Ok(Some(message.case_id))
    }

    /// Append an inbound message to the conversation's case (creating or reopening it).
    #[allow(clippy::too_many_arguments)]
    fn inbound(
        &self,
        channel: &ChannelRecord,
        conversation: &str,
        who: &m::Contact,
        text: Option<String>,
        attachments: Vec<m::Attachment>,
        postback: Option<String>,
        provider_id: Option<&str>,
        written_ms: u64,
        ops: &mut Vec<Op>,
        live: &mut Vec<LiveEvent>,
    ) -> Result<String> {
        let t = &channel.tenant;
        let now = now_ms();
        let contact = self.contact_for(channel, who, ops)?;
        let conv_key = keys::conversation(t, &channel.id, conversation);
        let existing: Option<Case> = match self.store.get(&conv_key)? {
            Some(id) => self.read(&keys::case(t, &String::from_utf8_lossy(&id)))?,
            None => None,
        };
        let (mut case, old) = match existing {
            Some(c) if c.status == CaseStatus::Closed => (
                self.new_case(channel, conversation, &contact, &text, now),
                None,
            ),
            Some(c) if c.status == CaseStatus::Resolved => {
                let within = c
                    .resolved_ms
                    .is_some_and(|r| now.saturating_sub(r) <= self.settings.reopen_window_ms);
                if within {
                    let old = c.clone();
                    let mut c = c;
                    c.status = CaseStatus::Open;
                    c.resolved_ms = None;
                    live.push(self.live_event(t, "status-changed", &c.id, &channel.id, serde_json::json!({"from": "resolved", "to": "open", "reason": "customer wrote again"})));
                    (c, Some(old))
                } else {
                    (
                        self.new_case(channel, conversation, &contact, &text, now),
                        None,
                    )
                }
            }
            Some(c) => {
                let old = c.clone();
                let mut c = c;
                if c.status == CaseStatus::Pending {
                    c.status = CaseStatus::Open;
                }
                (c, Some(old))
            }
            None => (
                self.new_case(channel, conversation, &contact, &text, now),
                None,
            ),
        };
        if old.is_none() {
            ops.push(put(keys::automation_pending(t, &case.id), &channel.id));
            live.push(self.live_event(
                t,
                "case-created",
                &case.id,
                &channel.id,
                serde_json::json!({"contact": contact.id}),
            ));
        }
        case.message_count += 1;
        case.updated_ms = now;
        // Messaging windows run from when the customer wrote (the provider's timestamp; a
        // late redelivery must not reopen a window), never from the future.
        case.last_inbound_ms = Some(if written_ms > 0 {
            written_ms.min(now)
        } else {
            now
        });
        let seq = case.message_count;
        // A new case offered nothing yet: only an existing one needs its offered choices read.
        let choices = match (&old, postback.as_deref()) {
            (None, Some(payload)) => vec![payload.to_string()],
            (None, None) => Vec::new(),
            (Some(_), payload) => self.chosen(t, &case.id, text.as_deref(), payload)?,
        };
        let message = Message {
            id: format!("{}-{seq}", case.id),
            tenant: t.clone(),
            case_id: case.id.clone(),
            seq,
            direction: Direction::Inbound,
            author: Author::Contact(contact.id.clone()),
            text: text.clone(),
            content: None,
            attachments,
            provider_id: provider_id.map(str::to_string),
            status: DeliveryStatus::Delivered,
            failure: None,
            postback,
            choices,
            delivery_notes: Vec::new(),
            edited: false,
            deleted: false,
            created_ms: now,
            updated_ms: now,
        };
        let msg_key = keys::message(t, &case.id, seq);
        if let Some(pid) = provider_id {
            ops.push(Op::Put(
                keys::provider_message(t, &channel.id, pid),
                msg_key.clone(),
            ));
        }
        for term in text.as_deref().map(terms).unwrap_or_default() {
            ops.push(Op::Put(keys::term(t, &term, &case.id, seq), Vec::new()));
        }
        ops.push(put(msg_key, &message));
        ops.push(Op::Put(conv_key, case.id.as_bytes().to_vec()));
        self.write_case(old.as_ref(), &case, ops);
        live.push(self.live_event(
            t,
            "message-created",
            &case.id,
            &channel.id,
            serde_json::json!({"message": message.id, "direction": "inbound"}),
        ));
        Ok(case.id)
    }

    pub(super) fn new_case(
        &self,
        channel: &ChannelRecord,
        conversation: &str,
        contact: &Contact,
        text: &Option<String>,
        now: u64,
    ) -> Case {
        Case {
            id: new_id("case"),
            tenant: channel.tenant.clone(),
            channel: channel.id.clone(),
            contact: contact.id.clone(),
            conversation: conversation.to_string(),
            status: CaseStatus::New,
            priority: 5,
            skill: channel.default_skill.clone(),
            assignee: None,
            tags: Vec::new(),
            subject: text.as_ref().map(|t| t.chars().take(80).collect()),
            created_ms: now,
            updated_ms: now,
            last_inbound_ms: None,
            resolved_ms: None,
            message_count: 0,
            team: None,
            sla: None,
        }
    }

    pub(super) fn contact_for(
        &self,
        channel: &ChannelRecord,
        who: &m::Contact,
        ops: &mut Vec<Op>,
    ) -> Result<Contact> {
        let t = &channel.tenant;
        let ident = keys::identity(t, &channel.id, &who.id);
        if let Some(id) = self.store.get(&ident)? {
            if let Some(mut c) =
                self.read::<Contact>(&keys::contact(t, &String::from_utf8_lossy(&id)))?
            {
                // Names change; keep the latest the provider told us.
                if who.display_name.is_some() && who.display_name != c.display_name {
                    c.display_name = who.display_name.clone();
                    ops.push(put(keys::contact(t, &c.id), &c));
                }
                return Ok(c);
            }
        }
        let id = new_id("ct");
        let contact = Contact {
            id: id.clone(),
            tenant: t.clone(),
            channel: channel.id.clone(),
            provider_user_id: who.id.clone(),
            display_name: who.display_name.clone(),
            handle: who.handle.clone(),
            profile: id.clone(),
            created_ms: now_ms(),
        };
        ops.push(Op::Put(ident, id.into_bytes()));
        ops.push(put(keys::contact(t, &contact.id), &contact));
        Ok(contact)
    }

    /// Write a case and move its inbox index entry if its status or priority changed.
    pub(super) fn write_case(&self, old: Option<&Case>, case: &Case, ops: &mut Vec<Op>) {
        let t = &case.tenant;
        if let Some(o) = old {
            ops.push(Op::Delete(keys::inbox(
                t,
                o.status.as_str(),
                &keys::sort_key(o.priority, o.created_ms, &o.id),
            )));
        }
        let summary = CaseSummary {
            channel: case.channel.clone(),
            assignee: case.assignee.clone(),
            skill: case.skill.clone(),
            tags: case.tags.clone(),
        };
        ops.push(put(
            keys::inbox(
                t,
                case.status.as_str(),
                &keys::sort_key(case.priority, case.created_ms, &case.id),
            ),
            &summary,
        ));
        ops.push(put(keys::case(t, &case.id), case));
    }

    pub(super) fn live_event(
        &self,
        tenant: &str,
        kind: &'static str,
        case_id: &str,
        channel: &str,
        detail: serde_json::Value,
    ) -> LiveEvent {
        LiveEvent {
            tenant: tenant.to_string(),
            kind,
            case_id: case_id.to_string(),
            channel: channel.to_string(),
            detail,
            at_ms: now_ms(),
        }
    }

    /// Fill a tenant with `n` synthetic cases (one inbound message each) through the same
    /// record and index writers as ingest, flushing once at the end: for load tests and
    /// benchmarks that need a big inbox fast. Returns the case ids' count.
    pub fn generate_cases(&self, channel: &ChannelRecord, n: usize) -> Result<usize> {
        let _guard = self.write.lock().unwrap_or_else(|p| p.into_inner());
        let statuses = [
            CaseStatus::New,
            CaseStatus::Open,
            CaseStatus::Pending,
            CaseStatus::Resolved,
            CaseStatus::Closed,
        ];
        let mut ops = Vec::new();
        let base = now_ms().saturating_sub(n as u64 * 10);
        for i in 0..n {
            let now = base + i as u64 * 10;
            let contact = Contact {
                id: format!("ct_gen{i}"),
                tenant: channel.tenant.clone(),
                channel: channel.id.clone(),
                provider_user_id: format!("gen{i}"),
                display_name: Some(format!("Customer {i}")),
                handle: None,
                profile: format!("ct_gen{i}"),
                created_ms: now,
            };
            let mut case = self.new_case(
                channel,
                &format!("gen{i}"),
                &contact,
                &Some(format!("generated case {i}")),
                now,
            );
            case.id = format!("case_gen{i:08}");
            case.status = statuses[i % statuses.len()];
            case.priority = 1 + (i % 9) as u8;
            if i % 100 == 0 {
                case.tags.push("vip".into());
            }
            case.message_count = 1;
            let message = Message {
                id: format!("{}-1", case.id),
                tenant: channel.tenant.clone(),
                case_id: case.id.clone(),
                seq: 1,
                direction: Direction::Inbound,
                author: Author::Contact(contact.id.clone()),
                text: case.subject.clone(),
                content: None,
                attachments: Vec::new(),
                provider_id: None,
                status: DeliveryStatus::Delivered,
                failure: None,
                postback: None,
                choices: Vec::new(),
                delivery_notes: Vec::new(),
                edited: false,
                deleted: false,
                created_ms: now,
                updated_ms: now,
            };
            ops.push(put(keys::message(&channel.tenant, &case.id, 1), &message));
            ops.push(put(keys::contact(&channel.tenant, &contact.id), &contact));
            self.write_case(None, &case, &mut ops);
            if ops.len() >= 20_000 {
                self.store.apply(std::mem::take(&mut ops))?;
            }
        }
        self.store.apply(ops)?;
        self.commit.sync()?;
        Ok(n)
    }

    /// The accepted-event journal, oldest first, after `after`.
    pub fn journal(
        &self,
        tenant: &str,
        channel: Option<&str>,
        after: u64,
        limit: usize,
    ) -> Result<Vec<JournalEntry>> {
        let prefix = keys::journals(tenant);
        let start = (after > 0).then(|| keys::journal(tenant, after));
        let mut out = Vec::new();
        let mut cursor = start;
        while out.len() < limit {
            let batch = self.scan(&prefix, cursor.as_deref(), 1000)?;
            let Some(last) = batch.last() else { break };
            cursor = Some(last.0.clone());
            for (_, v) in batch {
                let entry: JournalEntry = match serde_json::from_slice(&v) {
                    Ok(e) => e,
                    Err(_) => continue,
                };
                if channel.is_none_or(|c| entry.channel == c) {
                    out.push(entry);
                    if out.len() >= limit {
                        break;
                    }
                }
            }
        }
        Ok(out)
    }
}
