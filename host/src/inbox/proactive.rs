//! Conversations the business starts (proactive outbound): the contact and its case are
//! created, or the conversation's open case is reused, and the first message is queued. The
//! channel's proactive policy is checked by the caller (`app`), which knows the plugin.

use super::types::*;
use super::{keys, Inbox, Result};
use crate::model as m;

impl Inbox {
    /// The case of a provider conversation, if there is one.
    pub fn conversation_case(
        &self,
        tenant: &str,
        channel: &str,
        conversation: &str,
    ) -> Result<Option<Case>> {
        match self
            .store
            .get(&keys::conversation(tenant, channel, conversation))?
        {
            Some(id) => self.read(&keys::case(tenant, &String::from_utf8_lossy(&id))),
            None => Ok(None),
        }
    }

    /// The case a proactive message to `to` goes into: the conversation's case if it is still
    /// new, open or pending, else a new pending one (waiting for the customer's answer).
    pub fn case_for_outbound(&self, channel: &ChannelRecord, to: &m::Contact) -> Result<Case> {
        let _guard = self.write.lock().unwrap_or_else(|p| p.into_inner());
        let t = &channel.tenant;
        if let Some(case) = self.conversation_case(t, &channel.id, &to.id)? {
            if matches!(
                case.status,
                CaseStatus::New | CaseStatus::Open | CaseStatus::Pending
            ) {
                return Ok(case);
            }
        }
        let conv_key = keys::conversation(t, &channel.id, &to.id);
        let mut ops = Vec::new();
        let contact = self.contact_for(channel, to, &mut ops)?;
        let mut case = self.new_case(channel, &to.id, &contact, &None, now_ms());
        // Waiting for the customer's answer.
        case.status = CaseStatus::Pending;
        ops.push(crate::store::Op::Put(conv_key, case.id.as_bytes().to_vec()));
        self.write_case(None, &case, &mut ops);
        self.commit.commit(ops)?;
        self.live.send(self.live_event(
            t,
            "case-created",
            &case.id,
            &channel.id,
            serde_json::json!({"contact": contact.id, "proactive": true}),
        ));
        Ok(case)
    }
}
