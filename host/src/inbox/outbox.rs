//! The durable outbox as the inbox sees it: queued replies, due times, outcomes.
//! `delivery` drives it (it owns the plugins); this module owns the records.
//!
//! A message leaves the outbox only when it was sent or failed permanently; a transient
//! failure reschedules it with its error recorded. A failed message can be queued again.

use serde::{Deserialize, Serialize};

use super::types::*;
use super::{keys, put, Inbox, InboxError, Result};
use crate::model::DeliveryStatus;
use crate::store::Op;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub tenant: String,
    pub channel: String,
    pub conversation: String,
    /// Store key of the message.
    pub message_key: String,
    pub reply_to: Option<String>,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub created_ms: Millis,
}

impl Inbox {
    /// Queued entries in due order, with their outbox keys and due times.
    pub fn queued_outbox(&self, limit: usize) -> Result<Vec<(Vec<u8>, Millis, OutboxEntry)>> {
        let prefix = keys::outbox_all();
        let mut out = Vec::new();
        for (k, v) in self.scan(&prefix, None, limit)? {
            let due: u64 = keys::after_prefix(&k, &prefix)
                .split('\u{0}')
                .next()
                .and_then(|d| d.parse().ok())
                .unwrap_or(0);
            if let Ok(entry) = serde_json::from_slice(&v) {
                out.push((k, due, entry));
            }
        }
        Ok(out)
    }

    /// Everything still queued (admin view).
    pub fn outbox(&self, tenant: &str) -> Result<Vec<OutboxEntry>> {
        Ok(self
            .scan(&keys::outbox_all(), None, usize::MAX)?
            .into_iter()
            .filter_map(|(_, v)| serde_json::from_slice::<OutboxEntry>(&v).ok())
            .filter(|e| e.tenant == tenant)
            .collect())
    }

    pub fn outbox_message(&self, entry: &OutboxEntry) -> Result<Option<Message>> {
        self.read(entry.message_key.as_bytes())
    }

    /// The provider accepted the message.
    pub fn outbox_sent(
        &self,
        key: &[u8],
        entry: &OutboxEntry,
        provider_id: &str,
        status: DeliveryStatus,
    ) -> Result<()> {
        let (case_id, message_id) = {
            let _guard = self.write.lock().unwrap_or_else(|p| p.into_inner());
            let Some(mut message) = self.read::<Message>(entry.message_key.as_bytes())? else {
                self.commit.commit(vec![Op::Delete(key.to_vec())])?;
                return Ok(());
            };
            message.provider_id = Some(provider_id.to_string());
            // A receipt may have overtaken the send's answer.
            let orphan = keys::provider_message(&entry.tenant, &entry.channel, provider_id);
            message.status = status.max(message.status);
            message.failure = None;
            message.updated_ms = now_ms();
            let mut ops = vec![
                Op::Delete(key.to_vec()),
                Op::Put(orphan, entry.message_key.as_bytes().to_vec()),
            ];
            for (k, v) in self.scan(&keys::orphans(&entry.tenant), None, usize::MAX)? {
                if let Ok(r) = serde_json::from_slice::<OrphanReceipt>(&v) {
                    if r.channel == entry.channel && r.message_ref == provider_id {
                        if r.status == DeliveryStatus::Failed || r.status > message.status {
                            message.status = r.status;
                            message.failure = r.error.clone();
                        }
                        ops.push(Op::Delete(k));
                    }
                }
            }
            ops.push(put(entry.message_key.as_bytes().to_vec(), &message));
            self.commit.commit(ops)?;
            (message.case_id, message.id)
        };
        self.live.send(self.live_event(
            &entry.tenant,
            "delivery-status",
            &case_id,
            &entry.channel,
            serde_json::json!({"message": message_id, "status": status}),
        ));
        Ok(())
    }

    /// The send failed. `retry_at` reschedules it; `None` marks it failed for good.
    pub fn outbox_failed(
        &self,
        key: &[u8],
        entry: &OutboxEntry,
        error: &str,
        retry_at: Option<Millis>,
    ) -> Result<()> {
        let _guard = self.write.lock().unwrap_or_else(|p| p.into_inner());
        let Some(mut message) = self.read::<Message>(entry.message_key.as_bytes())? else {
            self.commit.commit(vec![Op::Delete(key.to_vec())])?;
            return Ok(());
        };
        let mut next = entry.clone();
        next.attempts += 1;
        next.last_error = Some(error.to_string());
        message.failure = Some(error.to_string());
        message.updated_ms = now_ms();
        let mut ops = vec![Op::Delete(key.to_vec())];
        match retry_at {
            Some(at) => ops.push(put(
                keys::outbox(at, &entry.tenant, &entry.message_key),
                &next,
            )),
            None => message.status = DeliveryStatus::Failed,
        }
        ops.push(put(entry.message_key.as_bytes().to_vec(), &message));
        self.commit.commit(ops)?;
        if message.status == DeliveryStatus::Failed {
            self.live.send(self.live_event(
                &entry.tenant,
                "delivery-status",
                &message.case_id,
                &entry.channel,
                serde_json::json!({"message": message.id, "status": "failed", "failure": message.failure}),
            ));
        }
        Ok(())
    }

    /// Queue a failed outbound message again (an agent's "retry").
    pub fn retry_message(&self, tenant: &str, case_id: &str, seq: u64) -> Result<Message> {
        let _guard = self.write.lock().unwrap_or_else(|p| p.into_inner());
        let case = self.case(tenant, case_id)?;
        let key = keys::message(tenant, case_id, seq);
        let mut message: Message = self
            .read(&key)?
            .ok_or_else(|| InboxError::NotFound(format!("no message {seq} in case `{case_id}`")))?;
        if message.direction != Direction::Outbound || message.status != DeliveryStatus::Failed {
            return Err(InboxError::Conflict(
                "only a failed outbound message can be retried".into(),
            ));
        }
        message.status = DeliveryStatus::Queued;
        message.updated_ms = now_ms();
        let now = now_ms();
        let entry = OutboxEntry {
            tenant: tenant.to_string(),
            channel: case.channel.clone(),
            conversation: case.conversation.clone(),
            message_key: String::from_utf8_lossy(&key).into_owned(),
            reply_to: None,
            attempts: 0,
            last_error: message.failure.clone(),
            created_ms: now,
        };
        self.commit.commit(vec![
            put(key, &message),
            put(keys::outbox(now, tenant, &entry.message_key), &entry),
        ])?;
        Ok(message)
    }
}
