//! What routing and scripts need from the inbox beyond the agent API: a case edit under the
//! write lock (priority, skill, team, SLA), publishing their own live events, and typed
//! records under the tenant's prefix (scripts, script runs, SLA policies), so tenant export
//! and delete cover them. Never decides anything itself.

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::types::*;
use super::{put, Inbox, Result};
use crate::store::Op;

impl Inbox {
    /// Change a case with `edit` under the write lock, keeping its inbox index right.
    /// Publishes `case-updated` with `detail` unless `detail` is null.
    pub fn update_case(
        &self,
        tenant: &str,
        id: &str,
        detail: serde_json::Value,
        edit: impl FnOnce(&mut Case),
    ) -> Result<Case> {
        let case = {
            let _guard = self.write.lock().unwrap_or_else(|p| p.into_inner());
            let old = self.case(tenant, id)?;
            let mut case = old.clone();
            edit(&mut case);
            if case == old {
                return Ok(case);
            }
            case.updated_ms = now_ms();
            let mut ops = Vec::new();
            self.write_case(Some(&old), &case, &mut ops);
            self.commit.commit(ops)?;
            case
        };
        if !detail.is_null() {
            self.publish(tenant, "case-updated", &case, detail);
        }
        Ok(case)
    }

    /// Publish a live event about `case` (routing and SLA events).
    pub fn publish(
        &self,
        tenant: &str,
        kind: &'static str,
        case: &Case,
        detail: serde_json::Value,
    ) {
        self.live
            .send(self.live_event(tenant, kind, &case.id, &case.channel, detail));
    }

    pub fn get_record<T: DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>> {
        self.read(key)
    }

    pub fn put_record<T: Serialize>(&self, key: Vec<u8>, value: &T) -> Result<()> {
        self.commit.commit(vec![put(key, value)])?;
        Ok(())
    }

    /// Write several records in one commit: all land or none.
    pub fn put_records<T: Serialize>(&self, records: &[(Vec<u8>, &T)]) -> Result<()> {
        let ops = records.iter().map(|(k, v)| put(k.clone(), *v)).collect();
        self.commit.commit(ops)?;
        Ok(())
    }

    /// Write one record and delete another in one commit (a run starts as its pending mark
    /// goes).
    pub fn put_and_delete<T: Serialize>(
        &self,
        key: Vec<u8>,
        value: &T,
        gone: Vec<u8>,
    ) -> Result<()> {
        self.commit
            .commit(vec![put(key, value), Op::Delete(gone)])?;
        Ok(())
    }

    pub fn delete_record(&self, key: Vec<u8>) -> Result<()> {
        self.commit.commit(vec![Op::Delete(key)])?;
        Ok(())
    }

    /// Every record under `prefix` with its key.
    pub fn scan_records<T: DeserializeOwned>(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, T)>> {
        let mut out = Vec::new();
        for (k, v) in self.scan(prefix, None, usize::MAX)? {
            if let Ok(value) = serde_json::from_slice(&v) {
                out.push((k, value));
            }
        }
        Ok(out)
    }

    /// The text of the case's newest inbound message (keyword branches). Messages are keyed by sequence number,
    /// so this reads newest first and usually stops at the first read: automation runs on
    /// the inbound message that woke it.
    pub fn last_inbound_text(&self, tenant: &str, case_id: &str) -> Result<Option<String>> {
        let case = self.case(tenant, case_id)?;
        for seq in (1..=case.message_count).rev() {
            let key = super::keys::message(tenant, case_id, seq);
            if let Some(m) = self.read::<Message>(&key)? {
                if m.direction == Direction::Inbound {
                    return Ok(m.text);
                }
            }
        }
        Ok(None)
    }

    /// Cases of a tenant that are still being worked (not resolved or closed).
    pub fn active_cases(&self, tenant: &str) -> Result<Vec<Case>> {
        let mut out = Vec::new();
        for status in [
            CaseStatus::New,
            CaseStatus::Open,
            CaseStatus::Pending,
            CaseStatus::Escalated,
        ] {
            for (k, _) in self.scan(
                &super::keys::inbox_status(tenant, status.as_str()),
                None,
                usize::MAX,
            )? {
                let id = super::keys::last_part(&k);
                if let Some(case) = self.read::<Case>(&super::keys::case(tenant, &id))? {
                    out.push(case);
                }
            }
        }
        Ok(out)
    }
}
