//! Inbox records: tenants, channels, contacts, cases, messages, notes, agents, tokens.
//! Every record below the tenant carries its tenant id, and every key it is stored under
//! starts with it (see `keys.rs`).

use serde::{Deserialize, Serialize};

use crate::model::{Attachment, Content, DeliveryStatus};

/// Milliseconds since the Unix epoch.
pub type Millis = u64;

pub fn now_ms() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TenantStatus {
    Active,
    Suspended,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    pub id: String,
    pub name: String,
    /// `EU`, `US`, `AU`, `JP`, ...
    pub region: String,
    pub status: TenantStatus,
    pub created_ms: Millis,
    /// The operator's per-tenant plugin limits; absent fields use the runtime's.
    #[serde(default)]
    pub plugin_memory_mb: Option<u64>,
    #[serde(default)]
    pub plugin_cpu_ms: Option<u64>,
    /// Storage quota for inbound data, KiB; absent = unlimited.
    #[serde(default)]
    pub storage_quota_kb: Option<u64>,
}

/// A configured instance of a plugin, owned by a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelRecord {
    pub id: String,
    pub tenant: String,
    pub name: String,
    pub plugin: String,
    /// Includes secrets: never serialised to an API response (`api::admin::channel_view`
    /// masks them).
    pub config: std::collections::BTreeMap<String, String>,
    pub egress: Vec<String>,
    pub default_skill: String,
    pub default_script: String,
    /// A pinned plugin version; `None` follows the plugin's active version.
    #[serde(default)]
    pub plugin_version: Option<String>,
    pub enabled: bool,
    pub public_url: Option<String>,
    pub created_ms: Millis,
}

/// One identity of a person on one channel; identities merge into one profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    pub id: String,
    pub tenant: String,
    pub channel: String,
    pub provider_user_id: String,
    pub display_name: Option<String>,
    pub handle: Option<String>,
    /// The profile this identity belongs to (its own id until merged).
    pub profile: String,
    pub created_ms: Millis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CaseStatus {
    New,
    Open,
    Pending,
    Escalated,
    Resolved,
    Closed,
}

impl CaseStatus {
    pub const ALL: [CaseStatus; 6] = [
        Self::New,
        Self::Open,
        Self::Pending,
        Self::Escalated,
        Self::Resolved,
        Self::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Open => "open",
            Self::Pending => "pending",
            Self::Escalated => "escalated",
            Self::Resolved => "resolved",
            Self::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// The documented transition rules (docs/inbox.md):
    /// - new → open, pending, escalated, resolved, closed
    /// - open ⇄ pending, open ⇄ escalated, pending ⇄ escalated
    /// - open, pending, escalated → resolved, closed
    /// - resolved → open (reopened), closed
    /// - closed is final.
    pub fn can_become(self, to: CaseStatus) -> bool {
        use CaseStatus::*;
        if self == to {
            return false;
        }
        match self {
            New => to != New,
            Open | Pending | Escalated => to != New,
            Resolved => matches!(to, Open | Closed),
            Closed => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    pub id: String,
    pub tenant: String,
    pub channel: String,
    pub contact: String,
    /// The provider's conversation (chat id, phone number).
    pub conversation: String,
    pub status: CaseStatus,
    /// 1 (highest) .. 9 (lowest).
    pub priority: u8,
    pub skill: String,
    pub assignee: Option<String>,
    pub tags: Vec<String>,
    pub subject: Option<String>,
    pub created_ms: Millis,
    pub updated_ms: Millis,
    pub last_inbound_ms: Option<Millis>,
    pub resolved_ms: Option<Millis>,
    pub message_count: u64,
    /// Only members of this team may be routed the case (a script's `assign` to a team).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// Service-level timers, set by routing when the case is first seen (`routing::sla`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sla: Option<CaseSla>,
}

/// A case's SLA: when the first agent answer and the resolution are due, and what happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseSla {
    pub first_response_due_ms: Option<Millis>,
    pub resolution_due_ms: Option<Millis>,
    #[serde(default)]
    pub first_response_ms: Option<Millis>,
    #[serde(default)]
    pub first_response_breached: bool,
    #[serde(default)]
    pub resolution_breached: bool,
    /// When the clock started (routing first saw the case); due times count from here.
    #[serde(default)]
    pub started_ms: Option<Millis>,
    /// The skill whose policy set the due times: a change of skill re-applies the policies.
    #[serde(default)]
    pub skill: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    Inbound,
    Outbound,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "kebab-case")]
pub enum Author {
    Contact(String),
    Agent(String),
    Bot(String),
    System,
}

impl Author {
    /// Which of a channel's capability sets applies to what this author writes: live agents
    /// get the agent set (the seed's Table B), everyone else the automation set (Table A).
    pub fn audience(&self) -> crate::content::Audience {
        match self {
            Author::Agent(_) => crate::content::Audience::Agent,
            _ => crate::content::Audience::Automation,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub id: String,
    pub tenant: String,
    pub case_id: String,
    pub seq: u64,
    pub direction: Direction,
    pub author: Author,
    /// Plain text of the message (inbound text, or the outbound fallback text).
    pub text: Option<String>,
    /// Outbound: the channel-neutral content as authored.
    pub content: Option<Content>,
    pub attachments: Vec<Attachment>,
    /// The provider's id (inbound: theirs; outbound: returned by `send`).
    pub provider_id: Option<String>,
    pub status: DeliveryStatus,
    pub failure: Option<String>,
    /// Postback payload when the customer tapped a button.
    pub postback: Option<String>,
    /// Inbound: the choice ids this message selects, from a tapped button or a typed answer
    /// to numbered options ("2", or the option's label).
    #[serde(default)]
    pub choices: Vec<String>,
    /// Outbound: how the content was adapted to the channel ("quick replies sent as a list").
    #[serde(default)]
    pub delivery_notes: Vec<String>,
    pub edited: bool,
    /// The customer deleted it on the provider's side; the text is kept for the record.
    #[serde(default)]
    pub deleted: bool,
    pub created_ms: Millis,
    pub updated_ms: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    pub id: String,
    pub case_id: String,
    pub author: String,
    pub text: String,
    pub created_ms: Millis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Admin,
    Supervisor,
    Agent,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agent {
    pub id: String,
    pub tenant: String,
    pub name: String,
    /// Channels this agent may see and act on; empty = none. A channel listed here without an
    /// entry in `permissions` grants read, reply-private and reply-public.
    pub channels: Vec<String>,
    pub skills: Vec<String>,
    /// Skill → proficiency 1 (lowest) ..= 10; a skill without an entry counts as 5.
    #[serde(default)]
    pub proficiency: std::collections::BTreeMap<String, u8>,
    /// How many cases of each kind of work the agent handles at once.
    #[serde(default)]
    pub capacity: Capacity,
    #[serde(default)]
    pub state: AgentState,
    #[serde(default)]
    pub team: Option<String>,
    /// Channel → what the agent may do there (overrides the default of `channels`).
    #[serde(default)]
    pub permissions: std::collections::BTreeMap<String, Vec<Permission>>,
}

impl Agent {
    /// What the agent may do on `channel`; `None` = the channel does not exist for them.
    pub fn permissions_on(&self, channel: &str) -> Option<Vec<Permission>> {
        if let Some(p) = self.permissions.get(channel) {
            return Some(p.clone());
        }
        self.channels
            .iter()
            .any(|c| c == channel)
            .then(|| Permission::DEFAULT.to_vec())
    }

    pub fn may(&self, channel: &str, permission: Permission) -> bool {
        self.permissions_on(channel)
            .is_some_and(|p| p.contains(&permission))
    }

    /// Channels the agent knows of (with or without `read`).
    pub fn known_channels(&self) -> Vec<String> {
        let mut out = self.channels.clone();
        for c in self.permissions.keys() {
            if !out.contains(c) {
                out.push(c.clone());
            }
        }
        out
    }

    /// Channels whose cases the agent may read.
    pub fn readable_channels(&self) -> Vec<String> {
        self.known_channels()
            .into_iter()
            .filter(|c| self.may(c, Permission::Read))
            .collect()
    }

    pub fn proficiency_in(&self, skill: &str) -> Option<u8> {
        self.skills
            .iter()
            .any(|s| s == skill)
            .then(|| self.proficiency.get(skill).copied().unwrap_or(5))
    }
}

/// What an agent may do on a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Permission {
    /// See the channel's cases, contacts and live events.
    Read,
    /// Answer in private (direct messages; every messaging channel).
    ReplyPrivate,
    /// Answer in public (comments and posts on social channels).
    ReplyPublic,
    /// Hide, delete or like public content on social channels.
    Moderate,
}

impl Permission {
    pub const DEFAULT: [Permission; 3] = [Self::Read, Self::ReplyPrivate, Self::ReplyPublic];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::ReplyPrivate => "reply-private",
            Self::ReplyPublic => "reply-public",
            Self::Moderate => "moderate",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AgentState {
    Available,
    Away,
    #[default]
    Offline,
}

/// The kinds of work capacity is counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WorkKind {
    /// Messaging and collaboration channels.
    Chat,
    Email,
    /// Public posts, comments and reviews.
    Social,
}

impl WorkKind {
    pub const ALL: [WorkKind; 3] = [Self::Chat, Self::Email, Self::Social];

    pub fn index(self) -> usize {
        self as usize
    }
}

/// Cases of each kind an agent handles at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Capacity {
    pub chat: u32,
    pub email: u32,
    pub social: u32,
}

impl Default for Capacity {
    fn default() -> Self {
        Self {
            chat: 3,
            email: 10,
            social: 10,
        }
    }
}

impl Capacity {
    pub fn of(&self, kind: WorkKind) -> u32 {
        match kind {
            WorkKind::Chat => self.chat,
            WorkKind::Email => self.email,
            WorkKind::Social => self.social,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skill {
    pub id: String,
    pub tenant: String,
    pub name: String,
}

/// A stored API token (only its SHA-256 is kept).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub id: String,
    pub tenant: String,
    pub role: Role,
    /// For agent tokens: who acts.
    pub agent: Option<String>,
    pub created_ms: Millis,
}

/// A receipt whose message is not (yet) known: kept, not dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrphanReceipt {
    pub channel: String,
    pub message_ref: String,
    pub status: DeliveryStatus,
    pub error: Option<String>,
    pub received_ms: Millis,
}

/// What the inbox index keeps per case, so filters need not load the case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseSummary {
    pub channel: String,
    pub assignee: Option<String>,
    pub skill: String,
    pub tags: Vec<String>,
}

/// An accepted inbound event as journalled (the `/api/v1/events` feed).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JournalEntry {
    pub seq: u64,
    pub channel: String,
    pub event: crate::model::InboundEvent,
    pub received_ms: Millis,
}
