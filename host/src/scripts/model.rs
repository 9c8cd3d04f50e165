//! The script format: a trigger, optional business hours and a list of steps. Branches nest
//! steps; [`compile`] flattens them into a program of instructions with jumps, so a running
//! case is resumable from one number (`Run::pc`) after a wait or a restart.

use serde::{Deserialize, Serialize};

use crate::inbox::CaseStatus;
use crate::model::Content;

/// A stored script version (versions are never changed: an edit adds the next one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScriptVersion {
    pub id: String,
    pub tenant: String,
    pub version: u32,
    pub name: String,
    pub trigger: Trigger,
    #[serde(default)]
    pub business_hours: Option<BusinessHours>,
    pub steps: Vec<Step>,
    pub created_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trigger {
    pub event: TriggerEvent,
    /// Only on these channels; empty = every channel of the tenant.
    #[serde(default)]
    pub channels: Vec<String>,
}

impl Default for Trigger {
    fn default() -> Self {
        Self {
            event: TriggerEvent::NewCase,
            channels: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TriggerEvent {
    /// A customer's first message opens a case (the channel's default script always runs on
    /// its new cases).
    NewCase,
    /// Every later inbound message of a case no script is running on.
    InboundMessage,
    /// A status change made by an agent, a supervisor or routing (not by a script).
    StatusChanged,
}

/// Opening hours in a fixed UTC offset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusinessHours {
    #[serde(default)]
    pub utc_offset_minutes: i32,
    /// `mon` .. `sun`; default Monday to Friday.
    #[serde(default = "weekdays")]
    pub days: Vec<String>,
    /// `HH:MM`, local time.
    pub open: String,
    pub close: String,
}

fn weekdays() -> Vec<String> {
    ["mon", "tue", "wed", "thu", "fri"]
        .iter()
        .map(|d| d.to_string())
        .collect()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Step {
    SetSkill {
        skill: String,
    },
    SetPriority {
        priority: u8,
    },
    /// An automated answer (the bot audience), channel-neutral rich content.
    Reply {
        content: Content,
    },
    Tag {
        tags: Vec<String>,
    },
    /// To one agent, or to a team (routing picks the member).
    Assign {
        #[serde(default)]
        agent: Option<String>,
        #[serde(default)]
        team: Option<String>,
    },
    SetStatus {
        status: CaseStatus,
    },
    /// Pause the script; it goes on after `until` happens or `timeout_s` passes, whichever
    /// comes first (`wait_timed_out` tells which).
    Wait {
        until: WaitUntil,
        #[serde(default)]
        timeout_s: Option<u64>,
    },
    Branch {
        #[serde(rename = "if")]
        condition: Condition,
        #[serde(default)]
        then: Vec<Step>,
        #[serde(default, rename = "else")]
        otherwise: Vec<Step>,
    },
    /// End the script here and queue the case for its skill.
    Route,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WaitUntil {
    /// The next opening time (goes on at once during business hours).
    BusinessHours,
    /// The customer's next message.
    Inbound,
    /// Only the timeout.
    Timeout,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// The latest customer message contains one of these words (case-insensitive).
    Keyword(Vec<String>),
    ContactAttribute(AttributeTest),
    /// The case is on one of these channels.
    Channel(Vec<String>),
    /// Whether it is within the script's business hours now.
    BusinessHours(bool),
    /// Whether the last wait ended by its timeout.
    WaitTimedOut(bool),
    All(Vec<Condition>),
    Any(Vec<Condition>),
    Not(Box<Condition>),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeTest {
    /// `display_name`, `handle`, `provider_user_id` or `channel`.
    pub name: String,
    #[serde(default)]
    pub equals: Option<String>,
    #[serde(default)]
    pub contains: Option<String>,
}

pub const ATTRIBUTES: [&str; 4] = ["display_name", "handle", "provider_user_id", "channel"];

/// One instruction of a compiled script.
#[derive(Debug, Clone, PartialEq)]
pub enum Instr {
    Do(Step),
    /// Go to `target` unless the condition holds.
    JumpUnless(Condition, usize),
    Jump(usize),
}

pub fn compile(steps: &[Step]) -> Vec<Instr> {
    let mut out = Vec::new();
    emit(steps, &mut out);
    out
}

fn emit(steps: &[Step], out: &mut Vec<Instr>) {
    for step in steps {
        match step {
            Step::Branch {
                condition,
                then,
                otherwise,
            } => {
                let test = out.len();
                out.push(Instr::Jump(0));
                emit(then, out);
                let skip = out.len();
                out.push(Instr::Jump(0));
                let else_start = out.len();
                emit(otherwise, out);
                let end = out.len();
                out[test] = Instr::JumpUnless(condition.clone(), else_start);
                out[skip] = Instr::Jump(end);
            }
            other => out.push(Instr::Do(other.clone())),
        }
    }
}

/// A case's running script, stored under `keys::script_run` while it runs or waits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    pub script: String,
    /// The version the case started with; it keeps it to the end.
    pub version: u32,
    pub pc: usize,
    #[serde(default)]
    pub waiting: Option<WaitUntil>,
    #[serde(default)]
    pub wake_ms: Option<u64>,
    #[serde(default)]
    pub timed_out: bool,
    pub started_ms: u64,
}

const DAY_MS: i64 = 86_400_000;
pub const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// `HH:MM` → minutes after midnight.
pub fn minutes(hhmm: &str) -> Option<i64> {
    let (h, m) = hhmm.split_once(':')?;
    let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
    ((0..24).contains(&h) && (0..60).contains(&m) && hhmm.len() == 5).then_some(h * 60 + m)
}

impl BusinessHours {
    fn parts(&self) -> (i64, i64, i64) {
        (
            self.utc_offset_minutes as i64 * 60_000,
            minutes(&self.open).unwrap_or(0) * 60_000,
            minutes(&self.close).unwrap_or(0) * 60_000,
        )
    }

    fn open_on(&self, day: i64) -> bool {
        // 1970-01-01 was a Thursday.
        let name = DAYS[(day + 3).rem_euclid(7) as usize];
        self.days.iter().any(|d| d == name)
    }

    pub fn is_open(&self, now_ms: u64) -> bool {
        let (offset, open, close) = self.parts();
        let local = now_ms as i64 + offset;
        let (day, t) = (local.div_euclid(DAY_MS), local.rem_euclid(DAY_MS));
        self.open_on(day) && t >= open && t < close
    }

    /// The next opening at or after `now_ms` (now, if open).
    pub fn next_open(&self, now_ms: u64) -> u64 {
        if self.is_open(now_ms) {
            return now_ms;
        }
        let (offset, open, _) = self.parts();
        let local = now_ms as i64 + offset;
        let day = local.div_euclid(DAY_MS);
        for d in day..day + 8 {
            let at = d * DAY_MS + open;
            if at >= local && self.open_on(d) {
                return (at - offset).max(0) as u64;
            }
        }
        now_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branches_compile_to_jumps_that_skip_the_other_arm() {
        let steps = vec![
            Step::Branch {
                condition: Condition::BusinessHours(false),
                then: vec![Step::SetPriority { priority: 1 }],
                otherwise: vec![Step::SetPriority { priority: 2 }],
            },
            Step::Route,
        ];
        let p = compile(&steps);
        assert_eq!(p.len(), 5);
        assert_eq!(p[0], Instr::JumpUnless(Condition::BusinessHours(false), 3));
        assert_eq!(p[2], Instr::Jump(4));
        assert_eq!(p[4], Instr::Do(Step::Route));
    }

    #[test]
    fn business_hours_know_weekends_and_the_next_opening() {
        let h = BusinessHours {
            utc_offset_minutes: 60,
            days: weekdays(),
            open: "08:00".into(),
            close: "18:00".into(),
        };
        // Friday 2024-03-01 21:00 UTC = 22:00 local: closed; next opening Monday 08:00 local.
        let fri_22 = 1_709_326_800_000;
        assert!(!h.is_open(fri_22));
        let monday_8 = 1_709_535_600_000; // 2024-03-04 07:00 UTC
        assert_eq!(h.next_open(fri_22), monday_8);
        assert!(h.is_open(monday_8));
        assert!(!h.is_open(monday_8 - 1));
    }
}
