//! The durable outbox as the inbox sees it: queued replies, due times, outcomes.
//! `delivery` drives it (it owns the plugins); this module owns the records.
//!
//! A message leaves the outbox only when it was sent or failed permanently; a transient
//! failure reschedules it with its error recorded. A failed message can be queued again.

use serde::{Deserialize, Serialize};

use super::types::*;
use super::{keys, put, Inbox, InboxError, Result};
use crate::content::Offered;
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
    /// Parts already delivered when the transformer split a long message.
    #[serde(default)]
    pub parts_sent: u32,
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

    /// The provider accepted the message (all its parts). `provider_ids` are the parts' ids in
    /// order (the message shows the last; receipts for any of them find it). `offered` are the
    /// choices it carried (typed answers map back through them); `notes` say how it was
    /// adapted.
    pub fn outbox_sent(
        &self,
        key: &[u8],
        entry: &OutboxEntry,
        provider_ids: &[String],
        status: DeliveryStatus,
        offered: &[Offered],
        notes: &[String],
    ) -> Result<()> {
        let (case_id, message_id) = {
            let _guard = self.write.lock().unwrap_or_else(|p| p.into_inner());
            let Some(mut message) = self.read::<Message>(entry.message_key.as_bytes())? else {
                self.commit.commit(vec![Op::Delete(key.to_vec())])?;
                return Ok(());
            };
            message.provider_id = provider_ids.last().cloned();
            message.status = status.max(message.status);
            message.failure = None;
            message.delivery_notes = notes.to_vec();
            message.updated_ms = now_ms();
            let mut ops = vec![Op::Delete(key.to_vec())];
            for provider_id in provider_ids {
                let index = keys::provider_message(&entry.tenant, &entry.channel, provider_id);
                ops.push(Op::Put(index, entry.message_key.as_bytes().to_vec()));
                // Receipts that overtook the send's answer are filed under the provider id.
                let waiting = keys::orphans_for(&entry.tenant, &entry.channel, provider_id);
                for (k, v) in self.scan(&waiting, None, usize::MAX)? {
                    if let Ok(r) = serde_json::from_slice::<OrphanReceipt>(&v) {
                        if r.status == DeliveryStatus::Failed
                            || (message.status != DeliveryStatus::Failed
                                && r.status > message.status)
                        {
                            message.status = r.status;
                            message.failure = r.error.clone();
                        }
                    }
                    ops.push(Op::Delete(k));
                }
            }
            if !offered.is_empty() {
                ops.push(put(
                    keys::offered(&entry.tenant, &message.case_id),
                    &offered,
                ));
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
            None => {
                message.status = DeliveryStatus::Failed;
                ops.push(put(
                    keys::dead_letter(&entry.tenant, &entry.message_key),
                    &next,
                ));
            }
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

    /// Messages that failed for good and wait for a person: the dead-letter list, with the
    /// provider's reason in `last_error`.
    pub fn dead_letters(&self, tenant: &str) -> Result<Vec<OutboxEntry>> {
        Ok(self
            .scan_records(&keys::dead_letters(tenant))?
            .into_iter()
            .map(|(_, v)| v)
            .collect())
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
        let message_key = String::from_utf8_lossy(&key).into_owned();
        // Parts of a split message that went out before it failed are not sent again.
        let parts_sent = self
            .read::<OutboxEntry>(&keys::dead_letter(tenant, &message_key))?
            .map_or(0, |dead| dead.parts_sent);
        let entry = OutboxEntry {
            tenant: tenant.to_string(),
            channel: case.channel.clone(),
            conversation: case.conversation.clone(),
            message_key,
            reply_to: None,
            attempts: 0,
            last_error: message.failure.clone(),
            created_ms: now,
            parts_sent,
        };
        self.commit.commit(vec![
            Op::Delete(keys::dead_letter(tenant, &entry.message_key)),
            put(key, &message),
            put(keys::outbox(now, tenant, &entry.message_key), &entry),
        ])?;
        Ok(message)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::inbox::{CaseFilter, ChannelRecord, Inbox, ReplyRequest, Settings};
    use crate::model::{
        Contact as C, Content, DeliveryStatus, InboundEvent, InboundMessage, Receipt,
    };
    use crate::store::MemoryStore;

    #[test]
    fn a_receipt_that_overtakes_the_send_is_kept_and_applied_when_the_send_returns() {
        let inbox =
            Inbox::open(Arc::new(MemoryStore::default()), Settings::default()).expect("open");
        inbox.create_tenant("t", "T", "EU").expect("tenant");
        let channel = ChannelRecord {
            id: "sms".into(),
            tenant: "t".into(),
            name: "sms".into(),
            plugin: "twilio-sms".into(),
            config: Default::default(),
            egress: Vec::new(),
            default_skill: "s".into(),
            default_script: "w".into(),
            plugin_version: None,
            enabled: true,
            public_url: None,
            created_ms: 0,
        };
        let hello = InboundEvent::Message(InboundMessage {
            provider_id: "SM1".into(),
            conversation: "+1555".into(),
            contact: C {
                id: "+1555".into(),
                display_name: None,
                handle: None,
                locale: None,
            },
            text: Some("hi".into()),
            attachments: Vec::new(),
            reply_to: None,
            timestamp_ms: 0,
        });
        inbox.ingest(&channel, vec![hello]).expect("ingest");
        let case = inbox
            .list_cases("t", &CaseFilter::default(), None, 10)
            .expect("list")
            .cases[0]
            .id
            .clone();
        let reply = ReplyRequest {
            content: Content::text("on it"),
            reply_to: None,
        };
        let message = inbox
            .reply("t", &case, super::Author::System, reply)
            .expect("reply");
        // The delivery receipt arrives before `send` has returned the provider id.
        let receipt = InboundEvent::Receipt(Receipt {
            provider_id: "SM2:delivered".into(),
            message_ref: "SM2".into(),
            status: DeliveryStatus::Delivered,
            error: None,
            timestamp_ms: 0,
        });
        inbox.ingest(&channel, vec![receipt]).expect("receipt kept");
        let (key, _, entry) = inbox.queued_outbox(10).expect("outbox").remove(0);
        inbox
            .outbox_sent(
                &key,
                &entry,
                &["SM2".to_string()],
                DeliveryStatus::Queued,
                &[],
                &[],
            )
            .expect("sent");
        let view = inbox.case_view("t", &case).expect("view");
        let sent = view
            .messages
            .iter()
            .find(|m| m.id == message.id)
            .expect("message");
        assert_eq!(
            sent.status,
            DeliveryStatus::Delivered,
            "the early receipt was applied"
        );
        assert!(inbox
            .store()
            .scan(b"T\0t\0orphan\0", None, 10)
            .expect("scan")
            .is_empty());
    }
}
