//! SLA policies: how long the first agent answer and the resolution may take, per channel and
//! skill. The most specific policy wins (channel and skill, then channel, then skill, then the
//! tenant default). A case's due times are fixed when routing first sees it and stored on the
//! case (`Case::sla`), so they survive restarts and show in the inbox.

use serde::{Deserialize, Serialize};

use crate::inbox::{Case, CaseSla};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaPolicy {
    /// `None` = every channel.
    #[serde(default)]
    pub channel: Option<String>,
    /// `None` = every skill.
    #[serde(default)]
    pub skill: Option<String>,
    /// Seconds until the first answer by an agent is due.
    #[serde(default)]
    pub first_response_s: Option<u64>,
    /// Seconds until the case must be resolved.
    #[serde(default)]
    pub resolution_s: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SlaKind {
    FirstResponse,
    Resolution,
}

impl SlaKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FirstResponse => "first-response",
            Self::Resolution => "resolution",
        }
    }
}

/// Check a policy list: seconds positive, no two policies for the same channel and skill.
pub fn validate(policies: &[SlaPolicy]) -> Result<(), String> {
    for (i, p) in policies.iter().enumerate() {
        if p.first_response_s == Some(0) || p.resolution_s == Some(0) {
            return Err(format!("/{i}: durations must be at least 1 second"));
        }
        if p.first_response_s.is_none() && p.resolution_s.is_none() {
            return Err(format!("/{i}: set first_response_s, resolution_s or both"));
        }
        if policies[..i]
            .iter()
            .any(|q| q.channel == p.channel && q.skill == p.skill)
        {
            return Err(format!(
                "/{i}: a second policy for the same channel and skill"
            ));
        }
    }
    Ok(())
}

/// The policy for a case's channel and skill.
pub fn policy_for<'a>(policies: &'a [SlaPolicy], case: &Case) -> Option<&'a SlaPolicy> {
    let rank = |p: &SlaPolicy| -> Option<u8> {
        let ch = match &p.channel {
            Some(c) if c == &case.channel => Some(2),
            Some(_) => None,
            None => Some(0),
        }?;
        let sk = match &p.skill {
            Some(s) if s == &case.skill => Some(1),
            Some(_) => None,
            None => Some(0),
        }?;
        Some(ch + sk)
    };
    policies
        .iter()
        .filter_map(|p| rank(p).map(|r| (r, p)))
        .max_by_key(|(r, _)| *r)
        .map(|(_, p)| p)
}

pub fn start(policy: &SlaPolicy, now_ms: u64) -> CaseSla {
    CaseSla {
        first_response_due_ms: policy.first_response_s.map(|s| now_ms + s * 1000),
        resolution_due_ms: policy.resolution_s.map(|s| now_ms + s * 1000),
        first_response_ms: None,
        first_response_breached: false,
        resolution_breached: false,
    }
}

/// The deadlines of `sla` still to watch.
pub fn pending(sla: &CaseSla) -> Vec<(u64, SlaKind)> {
    let mut out = Vec::new();
    if let (Some(due), None, false) = (
        sla.first_response_due_ms,
        sla.first_response_ms,
        sla.first_response_breached,
    ) {
        out.push((due, SlaKind::FirstResponse));
    }
    if let (Some(due), false) = (sla.resolution_due_ms, sla.resolution_breached) {
        out.push((due, SlaKind::Resolution));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(channel: Option<&str>, skill: Option<&str>, fr: u64) -> SlaPolicy {
        SlaPolicy {
            channel: channel.map(str::to_string),
            skill: skill.map(str::to_string),
            first_response_s: Some(fr),
            resolution_s: None,
        }
    }

    #[test]
    fn the_most_specific_policy_wins() {
        let policies = vec![
            p(None, None, 1),
            p(None, Some("billing"), 2),
            p(Some("wa"), None, 3),
            p(Some("wa"), Some("billing"), 4),
        ];
        let mut case: Case = serde_json::from_value(serde_json::json!({
            "id": "c", "tenant": "t", "channel": "wa", "contact": "x", "conversation": "x",
            "status": "new", "priority": 5, "skill": "billing", "assignee": null, "tags": [],
            "subject": null, "created_ms": 0, "updated_ms": 0, "last_inbound_ms": null,
            "resolved_ms": null, "message_count": 1
        }))
        .expect("case");
        assert_eq!(
            policy_for(&policies, &case).and_then(|p| p.first_response_s),
            Some(4)
        );
        case.skill = "support".into();
        assert_eq!(
            policy_for(&policies, &case).and_then(|p| p.first_response_s),
            Some(3)
        );
        case.channel = "sms".into();
        assert_eq!(
            policy_for(&policies, &case).and_then(|p| p.first_response_s),
            Some(1)
        );
        assert!(validate(&[p(None, None, 1), p(None, None, 2)]).is_err());
    }
}
