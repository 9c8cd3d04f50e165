//! SLA policies: how long the first agent answer and the resolution may take, per channel and
//! skill. The most specific policy wins (channel and skill, then channel, then skill, then the
//! tenant default). The clock starts when routing first sees a case; due times are stored on
//! the case (`Case::sla`), so they survive restarts and show in the inbox. When the case moves
//! to another skill, the policies are applied again with the same start (`reapply`): the new
//! skill's targets count from when the customer's case arrived, and what was already achieved
//! or breached stays so.

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

pub fn start(policy: &SlaPolicy, skill: &str, now_ms: u64) -> CaseSla {
    CaseSla {
        first_response_due_ms: policy.first_response_s.map(|s| now_ms + s * 1000),
        resolution_due_ms: policy.resolution_s.map(|s| now_ms + s * 1000),
        first_response_ms: None,
        first_response_breached: false,
        resolution_breached: false,
        started_ms: Some(now_ms),
        skill: Some(skill.to_string()),
    }
}

/// The SLA after the case moved to `case.skill`: due times from the policy for the new skill,
/// counted from the original start. A target already met or breached keeps that outcome, and
/// a kind the new policy does not set is no longer watched. `None` when nothing changes (same
/// skill, or an SLA recorded without its start).
pub fn reapply(sla: &CaseSla, policies: &[SlaPolicy], case: &Case) -> Option<CaseSla> {
    let started = sla.started_ms?;
    if sla.skill.as_deref() == Some(case.skill.as_str()) {
        return None;
    }
    let policy = policy_for(policies, case);
    let due = |s: Option<u64>| s.map(|s| started + s * 1000);
    Some(CaseSla {
        first_response_due_ms: due(policy.and_then(|p| p.first_response_s)),
        resolution_due_ms: due(policy.and_then(|p| p.resolution_s)),
        skill: Some(case.skill.clone()),
        ..sla.clone()
    })
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

    #[test]
    fn a_new_skill_moves_the_targets_but_not_what_was_already_met_or_breached() {
        let policies = vec![
            p(None, Some("support"), 3600),
            p(None, Some("billing"), 600),
        ];
        let mut case: Case = serde_json::from_value(serde_json::json!({
            "id": "c", "tenant": "t", "channel": "wa", "contact": "x", "conversation": "x",
            "status": "open", "priority": 5, "skill": "support", "assignee": null, "tags": [],
            "subject": null, "created_ms": 0, "updated_ms": 0, "last_inbound_ms": null,
            "resolved_ms": null, "message_count": 1
        }))
        .expect("case");
        let mut sla = start(&policies[0], "support", 1_000);
        assert_eq!(reapply(&sla, &policies, &case), None, "same skill");
        case.skill = "billing".into();
        sla.first_response_ms = Some(2_000);
        sla.resolution_breached = true;
        let moved = reapply(&sla, &policies, &case).expect("moved");
        assert_eq!(moved.first_response_due_ms, Some(601_000));
        assert_eq!(moved.first_response_ms, Some(2_000), "met stays met");
        assert!(moved.resolution_breached, "breached stays breached");
        let legacy = CaseSla {
            started_ms: None,
            ..sla
        };
        assert_eq!(
            reapply(&legacy, &policies, &case),
            None,
            "no start, no move"
        );
    }
}
