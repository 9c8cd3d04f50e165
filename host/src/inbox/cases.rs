//! Working cases: the inbox listing (priority, then age; filters; cursor pagination), a case
//! with its messages and notes, status changes under the documented rules, assignment,
//! notes, tags, replies (queued for delivery), full-text search.

use serde::{Deserialize, Serialize};

use super::ingest::terms;
use super::outbox::OutboxEntry;
use super::types::*;
use super::{keys, new_id, put, Inbox, InboxError, Result};
use crate::model::{Content, DeliveryStatus};
use crate::store::Op;

/// Inbox listing filters.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CaseFilter {
    /// Statuses to include; empty = every status but closed.
    pub status: Vec<CaseStatus>,
    pub channel: Option<String>,
    pub assignee: Option<String>,
    pub skill: Option<String>,
    pub tag: Option<String>,
    /// Only these channels (agent permissions); `None` = all.
    pub visible_channels: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CaseList {
    pub cases: Vec<Case>,
    /// Pass back as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CaseView {
    pub case: Case,
    pub contact: Option<Contact>,
    pub messages: Vec<Message>,
    pub notes: Vec<Note>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusChange {
    pub status: CaseStatus,
}

/// An agent's (or bot's) reply, channel-neutral.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplyRequest {
    pub content: Content,
    #[serde(default)]
    pub reply_to: Option<String>,
}

/// Scan at most this many index entries per page when filters are selective.
const MAX_SCAN: usize = 200_000;

impl Inbox {
    pub fn list_cases(
        &self,
        tenant: &str,
        filter: &CaseFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<CaseList> {
        let statuses: Vec<CaseStatus> = if filter.status.is_empty() {
            CaseStatus::ALL
                .into_iter()
                .filter(|s| *s != CaseStatus::Closed)
                .collect()
        } else {
            filter.status.clone()
        };
        let limit = limit.clamp(1, 500);
        // One ordered stream per status, merged by sort key (priority, age, id).
        // Cursors are opaque to clients: the sort key, hex-encoded.
        let cursor = match cursor {
            Some(c) => Some(
                hex::decode(c)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or_else(|| {
                        InboxError::Invalid(format!("cursor `{c}` is not one this server issued"))
                    })?,
            ),
            None => None,
        };
        let mut streams: Vec<Stream> = statuses
            .iter()
            .map(|s| Stream::new(keys::inbox_status(tenant, s.as_str()), cursor.as_deref()))
            .collect();
        let mut out: Vec<Case> = Vec::new();
        let mut scanned = 0usize;
        let mut last_sort: Option<String> = None;
        while out.len() < limit && scanned < MAX_SCAN {
            for s in streams.iter_mut() {
                s.fill(self)?;
            }
            let best = streams
                .iter()
                .enumerate()
                .filter_map(|(i, s)| s.head().map(|h| (i, &h.0)))
                .min_by(|a, b| a.1.cmp(b.1))
                .map(|(i, _)| i);
            let Some(i) = best else { break };
            let Some((sort, summary)) = streams[i].pop() else {
                break;
            };
            scanned += 1;
            last_sort = Some(sort.clone());
            if !matches(filter, &summary) {
                continue;
            }
            let id = sort.rsplit('\u{0}').next().unwrap_or_default();
            if let Some(case) = self.read::<Case>(&keys::case(tenant, id))? {
                out.push(case);
            }
        }
        let more = streams
            .iter_mut()
            .any(|s| s.fill(self).is_ok() && s.head().is_some());
        Ok(CaseList {
            next_cursor: if more {
                last_sort.map(hex::encode)
            } else {
                None
            },
            cases: out,
        })
    }

    pub fn case(&self, tenant: &str, id: &str) -> Result<Case> {
        self.read(&keys::case(tenant, id))?
            .ok_or_else(|| InboxError::NotFound(format!("no case `{id}`")))
    }

    pub fn case_view(&self, tenant: &str, id: &str) -> Result<CaseView> {
        let case = self.case(tenant, id)?;
        let contact = self.read(&keys::contact(tenant, &case.contact))?;
        let messages = self.scan_values(&keys::messages(tenant, id), 10_000)?;
        let notes = self.scan_values(&keys::notes(tenant, id), 10_000)?;
        Ok(CaseView {
            case,
            contact,
            messages,
            notes,
        })
    }

    /// Change a case's status under the transition rules.
    pub fn set_status(&self, tenant: &str, id: &str, to: CaseStatus, by: &str) -> Result<Case> {
        let (case, from) = {
            let _guard = self.write.lock().unwrap_or_else(|p| p.into_inner());
            let old = self.case(tenant, id)?;
            if !old.status.can_become(to) {
                return Err(InboxError::Conflict(format!(
                    "a {} case cannot become {}{}",
                    old.status.as_str(),
                    to.as_str(),
                    if old.status == CaseStatus::Closed {
                        " (closed cases are never reopened)"
                    } else {
                        ""
                    }
                )));
            }
            let mut case = old.clone();
            case.status = to;
            case.updated_ms = now_ms();
            case.resolved_ms = match to {
                CaseStatus::Resolved => Some(case.updated_ms),
                CaseStatus::Closed => old.resolved_ms,
                _ => None,
            };
            let mut ops = Vec::new();
            self.write_case(Some(&old), &case, &mut ops);
            self.commit.commit(ops)?;
            (case, old.status)
        };
        self.live.send(self.live_event(
            tenant,
            "status-changed",
            &case.id,
            &case.channel,
            serde_json::json!({"from": from, "to": to, "by": by}),
        ));
        Ok(case)
    }

    /// Assign (or with `None`, unassign) a case.
    pub fn assign(
        &self,
        tenant: &str,
        id: &str,
        agent: Option<&str>,
        skill: Option<&str>,
        by: &str,
    ) -> Result<Case> {
        if let Some(a) = agent {
            if self.agent(tenant, a)?.is_none() {
                return Err(InboxError::NotFound(format!("no agent `{a}`")));
            }
        }
        let case = {
            let _guard = self.write.lock().unwrap_or_else(|p| p.into_inner());
            let old = self.case(tenant, id)?;
            if old.status == CaseStatus::Closed {
                return Err(InboxError::Conflict(
                    "a closed case cannot be assigned".into(),
                ));
            }
            let mut case = old.clone();
            case.assignee = agent.map(str::to_string);
            if let Some(s) = skill {
                case.skill = s.to_string();
            }
            if case.status == CaseStatus::New && agent.is_some() {
                case.status = CaseStatus::Open;
            }
            case.updated_ms = now_ms();
            let mut ops = Vec::new();
            self.write_case(Some(&old), &case, &mut ops);
            self.commit.commit(ops)?;
            case
        };
        self.live.send(self.live_event(
            tenant,
            "assigned",
            &case.id,
            &case.channel,
            serde_json::json!({"assignee": case.assignee, "skill": case.skill, "by": by}),
        ));
        Ok(case)
    }

    pub fn add_note(&self, tenant: &str, id: &str, author: &str, text: &str) -> Result<Note> {
        if text.trim().is_empty() {
            return Err(InboxError::Invalid("a note needs text".into()));
        }
        let case = self.case(tenant, id)?;
        let note = Note {
            id: new_id("note"),
            case_id: case.id.clone(),
            author: author.to_string(),
            text: text.to_string(),
            created_ms: now_ms(),
        };
        self.commit.commit(vec![put(
            keys::note(
                tenant,
                id,
                &format!("{}-{}", keys::pad(note.created_ms), note.id),
            ),
            &note,
        )])?;
        Ok(note)
    }

    pub fn set_tags(
        &self,
        tenant: &str,
        id: &str,
        add: &[String],
        remove: &[String],
    ) -> Result<Case> {
        for tag in add {
            if tag.is_empty() || tag.len() > 64 || tag.contains('\u{0}') {
                return Err(InboxError::Invalid(format!(
                    "tag `{tag}` must be 1-64 characters"
                )));
            }
        }
        let _guard = self.write.lock().unwrap_or_else(|p| p.into_inner());
        let old = self.case(tenant, id)?;
        let mut case = old.clone();
        case.tags.retain(|t| !remove.contains(t));
        for tag in add {
            if !case.tags.contains(tag) {
                case.tags.push(tag.clone());
            }
        }
        case.tags.sort();
        case.updated_ms = now_ms();
        let mut ops = Vec::new();
        self.write_case(Some(&old), &case, &mut ops);
        self.commit.commit(ops)?;
        Ok(case)
    }

    /// Record an outbound reply as `queued` and put it in the outbox, atomically.
    pub fn reply(
        &self,
        tenant: &str,
        id: &str,
        author: Author,
        request: ReplyRequest,
    ) -> Result<Message> {
        crate::content::validate(&request.content).map_err(InboxError::Invalid)?;
        let text = if request.content.text.trim().is_empty() {
            crate::content::fallback_text(&request.content)
        } else {
            request.content.text.clone()
        };
        let message = {
            let _guard = self.write.lock().unwrap_or_else(|p| p.into_inner());
            let old = self.case(tenant, id)?;
            if old.status == CaseStatus::Closed {
                return Err(InboxError::Conflict("a closed case cannot be answered; the customer's next message opens a new case".into()));
            }
            let mut case = old.clone();
            case.message_count += 1;
            case.updated_ms = now_ms();
            if case.status == CaseStatus::New {
                case.status = CaseStatus::Open;
            }
            let seq = case.message_count;
            let now = now_ms();
            let message = Message {
                id: format!("{}-{seq}", case.id),
                tenant: tenant.to_string(),
                case_id: case.id.clone(),
                seq,
                direction: Direction::Outbound,
                author,
                text: Some(text.clone()),
                content: Some(request.content.clone()),
                attachments: request.content.attachments.clone(),
                provider_id: None,
                status: DeliveryStatus::Queued,
                failure: None,
                postback: None,
                choices: Vec::new(),
                delivery_notes: Vec::new(),
                edited: false,
                deleted: false,
                created_ms: now,
                updated_ms: now,
            };
            let msg_key = keys::message(tenant, &case.id, seq);
            let entry = OutboxEntry {
                tenant: tenant.to_string(),
                channel: case.channel.clone(),
                conversation: case.conversation.clone(),
                message_key: String::from_utf8_lossy(&msg_key).into_owned(),
                reply_to: request.reply_to.clone(),
                attempts: 0,
                last_error: None,
                created_ms: now,
                parts_sent: 0,
            };
            let mut ops = vec![
                put(msg_key, &message),
                put(keys::outbox(now, tenant, &entry.message_key), &entry),
            ];
            for term in terms(&text) {
                ops.push(Op::Put(
                    keys::term(tenant, &term, &case.id, seq),
                    Vec::new(),
                ));
            }
            self.write_case(Some(&old), &case, &mut ops);
            self.commit.commit(ops)?;
            (message, case.channel)
        };
        let (message, channel) = message;
        self.live.send(self.live_event(
            tenant,
            "message-created",
            &message.case_id,
            &channel,
            serde_json::json!({"message": message.id, "direction": "outbound"}),
        ));
        Ok(message)
    }

    /// Messages whose text contains every word of `query`, newest cases first.
    pub fn search(
        &self,
        tenant: &str,
        query: &str,
        visible: Option<&[String]>,
        limit: usize,
    ) -> Result<Vec<Message>> {
        let words = terms(query);
        let Some(first) = words.first() else {
            return Err(InboxError::Invalid(
                "search needs at least one word of 2+ characters".into(),
            ));
        };
        let prefix = keys::term_prefix(tenant, first);
        let mut out = Vec::new();
        for (k, _) in self.scan(&prefix, None, 5000)? {
            let rest = keys::after_prefix(&k, &prefix);
            let mut parts = rest.split('\u{0}');
            let (Some(case_id), Some(seq)) = (
                parts.next(),
                parts.next().and_then(|s| s.parse::<u64>().ok()),
            ) else {
                continue;
            };
            let Some(message) = self.read::<Message>(&keys::message(tenant, case_id, seq))? else {
                continue;
            };
            let text_terms = message.text.as_deref().map(terms).unwrap_or_default();
            if !words.iter().all(|w| text_terms.contains(w)) {
                continue;
            }
            if let Some(v) = visible {
                let case = self.case(tenant, case_id)?;
                if !v.contains(&case.channel) {
                    continue;
                }
            }
            out.push(message);
            if out.len() >= limit {
                break;
            }
        }
        out.sort_by_key(|m| std::cmp::Reverse(m.created_ms));
        Ok(out)
    }
}

fn matches(f: &CaseFilter, s: &CaseSummary) -> bool {
    f.channel.as_ref().is_none_or(|c| &s.channel == c)
        && f.assignee
            .as_ref()
            .is_none_or(|a| s.assignee.as_ref() == Some(a))
        && f.skill.as_ref().is_none_or(|k| &s.skill == k)
        && f.tag.as_ref().is_none_or(|t| s.tags.contains(t))
        && f.visible_channels
            .as_ref()
            .is_none_or(|v| v.contains(&s.channel))
}

/// A buffered scan over one status's index, positioned after the cursor.
struct Stream {
    prefix: Vec<u8>,
    after: Option<Vec<u8>>,
    buf: std::collections::VecDeque<(String, CaseSummary)>,
    done: bool,
}

impl Stream {
    fn new(prefix: Vec<u8>, cursor: Option<&str>) -> Self {
        let after = cursor.map(|c| {
            let mut k = prefix.clone();
            k.extend_from_slice(c.as_bytes());
            k
        });
        Self {
            prefix,
            after,
            buf: Default::default(),
            done: false,
        }
    }

    fn fill(&mut self, inbox: &Inbox) -> Result<()> {
        if !self.buf.is_empty() || self.done {
            return Ok(());
        }
        let batch = inbox.scan(&self.prefix, self.after.as_deref(), 256)?;
        if batch.len() < 256 {
            self.done = true;
        }
        if let Some(last) = batch.last() {
            self.after = Some(last.0.clone());
        }
        for (k, v) in batch {
            let sort = keys::after_prefix(&k, &self.prefix);
            if let Ok(summary) = serde_json::from_slice::<CaseSummary>(&v) {
                self.buf.push_back((sort, summary));
            }
        }
        Ok(())
    }

    fn head(&self) -> Option<&(String, CaseSummary)> {
        self.buf.front()
    }

    fn pop(&mut self) -> Option<(String, CaseSummary)> {
        self.buf.pop_front()
    }
}
