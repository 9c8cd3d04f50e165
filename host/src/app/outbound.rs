//! Outbound on behalf of agents and automation: replies, proactive conversations and saved
//! rich messages. Each is checked against the target channel's messaging window and proactive
//! policy (`policy`) before it is queued, so a refusal is an immediate, clear API error rather
//! than a provider rejection later.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::App;
use crate::content::{self, matrix, Audience};
use crate::inbox::{
    fill, Author, Case, ChannelRecord, InboxError, Message, ReplyRequest, RichMessage,
};
use crate::model::{self as m, Capabilities, Content};
use crate::policy::{self, Decision, WindowState};

/// Variables every saved message may use; `resolve` fills them from the case.
pub const BUILTIN: [&str; 5] = [
    "contact.name",
    "case.id",
    "agent.id",
    "agent.name",
    "channel.name",
];

/// What an agent or bot sends: content written now, or a saved rich message with values for
/// its variables.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboundInput {
    #[serde(default)]
    pub content: Option<Content>,
    #[serde(default)]
    pub rich_message: Option<String>,
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    #[serde(default)]
    pub reply_to: Option<String>,
}

/// Start a conversation with a contact on a channel.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConversationInput {
    pub channel: String,
    /// The provider's address of the contact (phone number, chat id, PSID).
    pub to: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub content: Option<Content>,
    #[serde(default)]
    pub rich_message: Option<String>,
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
}

impl ConversationInput {
    fn message(&self) -> OutboundInput {
        OutboundInput {
            content: self.content.clone(),
            rich_message: self.rich_message.clone(),
            variables: self.variables.clone(),
            reply_to: None,
        }
    }
}

impl App {
    /// The capabilities the channel's running plugin declares.
    pub fn channel_capabilities(&self, channel: &str) -> Option<Capabilities> {
        self.runtime
            .channel(channel)
            .map(|c| c.plugin().manifest.capabilities.clone())
    }

    /// The messaging window of a case, when its channel has one.
    pub fn window(&self, case: &Case) -> Option<WindowState> {
        let caps = self.channel_capabilities(&case.channel)?;
        policy::window_state(&caps, case.last_inbound_ms, crate::inbox::now_ms())
    }

    /// Queue a reply in a case, if the channel's window allows it.
    pub fn reply(
        &self,
        tenant: &str,
        case_id: &str,
        author: Author,
        input: OutboundInput,
    ) -> Result<Message, InboxError> {
        let case = self.inbox.case(tenant, case_id)?;
        let content = self.resolve(tenant, &case, &author, &input)?;
        self.check(&case, &author, &content)?;
        let message = self.inbox.reply(
            tenant,
            case_id,
            author,
            ReplyRequest {
                content,
                reply_to: input.reply_to,
            },
        )?;
        self.delivery.notify();
        Ok(message)
    }

    /// Start (or continue) a conversation the business opens, if the channel's proactive
    /// policy allows it.
    pub fn start_conversation(
        &self,
        tenant: &str,
        author: Author,
        input: ConversationInput,
    ) -> Result<(Case, Message), InboxError> {
        let channel: ChannelRecord = self
            .inbox
            .channel(tenant, &input.channel)?
            .ok_or_else(|| InboxError::NotFound(format!("no channel `{}`", input.channel)))?;
        if input.to.trim().is_empty() {
            return Err(InboxError::Invalid(
                "to: the contact's address is required".into(),
            ));
        }
        let caps = self.channel_capabilities(&channel.id).ok_or_else(|| {
            InboxError::Conflict(format!("channel `{}` is not running", channel.id))
        })?;
        let to = m::Contact {
            id: input.to.clone(),
            display_name: input.display_name.clone(),
            handle: None,
            locale: None,
        };
        // Check before anything is created: a refused message leaves no case behind.
        let message = input.message();
        let draft = self.resolve_content(tenant, &message, &BTreeMap::new())?;
        if let Some(existing) = self
            .inbox
            .conversation_case(tenant, &channel.id, &input.to)?
        {
            self.check(&existing, &author, &draft)?;
        } else if let Decision::Refuse(reason) = policy::check_proactive(&caps, &draft) {
            return Err(InboxError::Policy(reason));
        }
        let case = self.inbox.case_for_outbound(&channel, &to)?;
        let content = self.resolve(tenant, &case, &author, &message)?;
        let message = self.inbox.reply(
            tenant,
            &case.id,
            author,
            ReplyRequest {
                content,
                reply_to: None,
            },
        )?;
        self.delivery.notify();
        let case = self.inbox.case(tenant, &case.id)?;
        Ok((case, message))
    }

    /// Saved rich messages the case's channel offers `audience` (✓ or F for every kind used).
    pub fn rich_messages_for(
        &self,
        tenant: &str,
        case: &Case,
        audience: Audience,
    ) -> Result<Vec<RichMessage>, InboxError> {
        let all = self.inbox.rich_messages(tenant)?;
        let Some(caps) = self.channel_capabilities(&case.channel) else {
            return Ok(Vec::new());
        };
        let rich = audience.capabilities(&caps);
        Ok(all
            .into_iter()
            .filter(|r| r.kinds.iter().all(|k| matrix::support(rich, *k).offered()))
            .filter(|r| {
                // A template needs a channel with provider templates.
                !matches!(r.content.rich, Some(m::Rich::Template(_))) || rich.templates
            })
            .collect())
    }

    fn check(&self, case: &Case, author: &Author, content: &Content) -> Result<(), InboxError> {
        let Some(caps) = self.channel_capabilities(&case.channel) else {
            // Not running: the outbox keeps the message until the channel is back.
            return Ok(());
        };
        match policy::check_send(
            &caps,
            case.last_inbound_ms,
            crate::inbox::now_ms(),
            author.audience(),
            content,
        ) {
            Decision::Allow { .. } => Ok(()),
            Decision::Refuse(reason) => Err(InboxError::Policy(reason)),
        }
    }

    /// The content to send, with built-in variables (`contact.name`, `case.id`, `agent.id`,
    /// `channel.name`) available to saved messages.
    fn resolve(
        &self,
        tenant: &str,
        case: &Case,
        author: &Author,
        input: &OutboundInput,
    ) -> Result<Content, InboxError> {
        let mut values = BTreeMap::new();
        if let Ok((contact, _)) = self.inbox.contact_profile(tenant, &case.contact) {
            values.insert(
                "contact.name".to_string(),
                contact.display_name.clone().unwrap_or_default(),
            );
        }
        values.insert("case.id".into(), case.id.clone());
        if let Author::Agent(a) = author {
            values.insert("agent.id".into(), a.clone());
            if let Ok(Some(agent)) = self.inbox.agent(tenant, a) {
                values.insert("agent.name".into(), agent.name);
            }
        }
        if let Ok(Some(channel)) = self.inbox.channel(tenant, &case.channel) {
            values.insert("channel.name".into(), channel.name);
        }
        self.resolve_content(tenant, input, &values)
    }

    /// The content of `input`. Built-ins missing from `builtin` are blank, so a saved message
    /// checked before its case exists cannot fail on a built-in once it does.
    fn resolve_content(
        &self,
        tenant: &str,
        input: &OutboundInput,
        builtin: &BTreeMap<String, String>,
    ) -> Result<Content, InboxError> {
        match (&input.content, &input.rich_message) {
            (Some(content), None) => {
                content::validate(content).map_err(InboxError::Invalid)?;
                Ok(content.clone())
            }
            (None, Some(id)) => {
                let saved = self.inbox.rich_message(tenant, id)?;
                let mut values = builtin.clone();
                values.extend(input.variables.clone());
                for name in BUILTIN {
                    values.entry(name.to_string()).or_default();
                }
                fill(&saved.content, &values)
            }
            _ => Err(InboxError::Invalid(
                "give either `content` or `rich_message`".into(),
            )),
        }
    }
}
