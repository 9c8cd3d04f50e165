//! Messaging windows and proactive policy, as plugins declare them and the host enforces them.
//!
//! - A channel with a window (WhatsApp, Messenger: 24 hours) lets the business answer freely
//!   only within `hours` of the customer's last message. Outside it: WhatsApp takes approved
//!   templates only; Messenger lets human agents answer up to `human-agent-hours` (7 days)
//!   with the human-agent tag, which delivery puts on the message.
//! - Starting a conversation (no customer message yet) follows `proactive`: `allowed`,
//!   `templates-only`, or `never` (Telegram, LINE, Apple, Google Business Messages).
//!
//! Refusals carry a message an agent can act on. Pure functions of capabilities and times.

use serde::Serialize;

use crate::content::Audience;
use crate::model::{Capabilities, Content, ProactivePolicy, Rich};

const HOUR_MS: u64 = 3_600_000;

/// What the agent API shows about a case's window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WindowState {
    /// The free-form window is open now.
    pub open: bool,
    /// When it closes (or closed): the customer's last message + the window.
    pub closes_ms: Option<u64>,
    /// Time left, 0 when closed.
    pub remaining_ms: u64,
    /// The longer window for human agents (Messenger's 7 days), when the channel has one.
    pub human_agent_closes_ms: Option<u64>,
    pub human_agent_remaining_ms: Option<u64>,
    pub human_agent_tag: Option<String>,
    /// Outside the window only provider templates may be sent.
    pub templates_only: bool,
}

/// The window of a case on a channel with one; `None` when the channel has none.
pub fn window_state(
    caps: &Capabilities,
    last_inbound_ms: Option<u64>,
    now: u64,
) -> Option<WindowState> {
    let window = caps.window.as_ref()?;
    let closes = last_inbound_ms.map(|t| t + u64::from(window.hours) * HOUR_MS);
    let human = window
        .human_agent_hours
        .and_then(|h| last_inbound_ms.map(|t| t + u64::from(h) * HOUR_MS));
    let open = closes.is_some_and(|c| now < c);
    Some(WindowState {
        open,
        closes_ms: closes,
        remaining_ms: closes.map_or(0, |c| c.saturating_sub(now)),
        human_agent_closes_ms: human,
        human_agent_remaining_ms: human.map(|h| h.saturating_sub(now)),
        human_agent_tag: window.human_agent_tag.clone(),
        templates_only: !open && (caps.automation.templates || caps.agent.templates),
    })
}

/// The outcome of a policy check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Send, with this provider message tag if one is needed.
    Allow {
        tag: Option<String>,
    },
    Refuse(String),
}

fn is_template(content: &Content) -> bool {
    matches!(content.rich, Some(Rich::Template(_)))
}

/// May `audience` send `content` into a conversation whose customer last wrote at
/// `last_inbound_ms` (`None`: the customer never wrote: a proactive message)?
pub fn check_send(
    caps: &Capabilities,
    last_inbound_ms: Option<u64>,
    now: u64,
    audience: Audience,
    content: &Content,
) -> Decision {
    if is_template(content) && !caps.automation.templates && !caps.agent.templates {
        return Decision::Refuse("this channel has no provider templates".into());
    }
    let Some(last) = last_inbound_ms else {
        return check_proactive(caps, content);
    };
    let Some(state) = window_state(caps, Some(last), now) else {
        return Decision::Allow { tag: None };
    };
    if state.open {
        return Decision::Allow { tag: None };
    }
    let hours = caps.window.as_ref().map_or(0, |w| w.hours);
    let ago = human_duration(now.saturating_sub(last));
    if audience == Audience::Agent {
        if let (Some(remaining), Some(tag)) = (
            state.human_agent_remaining_ms,
            state.human_agent_tag.clone(),
        ) {
            if remaining > 0 {
                return Decision::Allow { tag: Some(tag) };
            }
        }
    }
    if is_template(content) {
        return Decision::Allow { tag: None };
    }
    let mut reason =
        format!("the {hours}-hour messaging window closed: the customer last wrote {ago} ago");
    if state.human_agent_remaining_ms.is_some() {
        let human_hours = caps
            .window
            .as_ref()
            .and_then(|w| w.human_agent_hours)
            .unwrap_or(0);
        if audience == Audience::Agent {
            reason.push_str(&format!(
                ", and the {human_hours}-hour window for human agents closed too"
            ));
        } else {
            reason.push_str(&format!(
                "; a human agent may still answer within {human_hours} hours"
            ));
        }
    }
    if state.templates_only {
        reason.push_str("; only an approved template can be sent now");
    }
    Decision::Refuse(reason)
}

/// May the business start a conversation with `content`?
pub fn check_proactive(caps: &Capabilities, content: &Content) -> Decision {
    match caps.proactive {
        ProactivePolicy::Allowed => Decision::Allow { tag: None },
        ProactivePolicy::TemplatesOnly if is_template(content) => Decision::Allow { tag: None },
        ProactivePolicy::TemplatesOnly => Decision::Refuse(
            "this channel starts conversations only with an approved template".into(),
        ),
        ProactivePolicy::Never => Decision::Refuse(
            "this channel allows no proactive outbound: the customer must write first".into(),
        ),
    }
}

fn human_duration(ms: u64) -> String {
    let minutes = ms / 60_000;
    match minutes {
        0..=119 => format!("{minutes} minutes"),
        120..=2879 => format!("{} hours", minutes / 60),
        _ => format!("{} days", minutes / 1440),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{MessagingWindow, ProviderTemplate, RichCapabilities};

    fn caps(
        proactive: ProactivePolicy,
        window: Option<MessagingWindow>,
        templates: bool,
    ) -> Capabilities {
        let mut rich = RichCapabilities::plain_text(1000);
        rich.templates = templates;
        Capabilities {
            private_messages: true,
            public_content: false,
            publish: false,
            moderation: Vec::new(),
            proactive,
            window,
            receipts: true,
            inbound_attachments: true,
            automation: rich.clone(),
            agent: rich,
        }
    }

    fn whatsapp() -> Capabilities {
        caps(
            ProactivePolicy::TemplatesOnly,
            Some(MessagingWindow {
                hours: 24,
                human_agent_hours: None,
                human_agent_tag: None,
            }),
            true,
        )
    }

    fn messenger() -> Capabilities {
        caps(
            ProactivePolicy::Never,
            Some(MessagingWindow {
                hours: 24,
                human_agent_hours: Some(168),
                human_agent_tag: Some("HUMAN_AGENT".into()),
            }),
            false,
        )
    }

    fn template() -> Content {
        let mut c = Content::text("");
        c.rich = Some(Rich::Template(ProviderTemplate {
            name: "order_update".into(),
            language: "en".into(),
            parameters: Vec::new(),
        }));
        c
    }

    const NOW: u64 = 1_800_000_000_000;

    #[test]
    fn whatsapp_answers_freely_for_24_hours_then_templates_only() {
        let text = Content::text("hi");
        let fresh = Some(NOW - 23 * HOUR_MS);
        let stale = Some(NOW - 25 * HOUR_MS);
        assert_eq!(
            check_send(&whatsapp(), fresh, NOW, Audience::Agent, &text),
            Decision::Allow { tag: None }
        );
        let Decision::Refuse(reason) = check_send(&whatsapp(), stale, NOW, Audience::Agent, &text)
        else {
            panic!("refusal expected")
        };
        assert_eq!(
            reason,
            "the 24-hour messaging window closed: the customer last wrote 25 hours ago; only an approved template can be sent now"
        );
        assert_eq!(
            check_send(&whatsapp(), stale, NOW, Audience::Agent, &template()),
            Decision::Allow { tag: None }
        );
        let state = window_state(&whatsapp(), fresh, NOW).expect("window");
        assert!(state.open && !state.templates_only);
        assert_eq!(state.remaining_ms, HOUR_MS);
    }

    #[test]
    fn messenger_extends_to_seven_days_for_human_agents_with_the_tag() {
        let text = Content::text("hi");
        let three_days = Some(NOW - 72 * HOUR_MS);
        assert_eq!(
            check_send(&messenger(), three_days, NOW, Audience::Agent, &text),
            Decision::Allow {
                tag: Some("HUMAN_AGENT".into())
            }
        );
        let Decision::Refuse(bot) =
            check_send(&messenger(), three_days, NOW, Audience::Automation, &text)
        else {
            panic!("bots have 24 hours only")
        };
        assert!(
            bot.contains("a human agent may still answer within 168 hours"),
            "{bot}"
        );
        let eight_days = Some(NOW - 192 * HOUR_MS);
        let Decision::Refuse(late) =
            check_send(&messenger(), eight_days, NOW, Audience::Agent, &text)
        else {
            panic!("closed after 7 days")
        };
        assert!(
            late.contains("8 days ago") && late.contains("168-hour window for human agents closed"),
            "{late}"
        );
    }

    #[test]
    fn proactive_policy_decides_first_messages() {
        let text = Content::text("hello");
        assert!(matches!(
            check_send(&messenger(), None, NOW, Audience::Agent, &text),
            Decision::Refuse(r) if r.contains("no proactive outbound")
        ));
        assert!(matches!(
            check_send(&whatsapp(), None, NOW, Audience::Automation, &text),
            Decision::Refuse(r) if r.contains("only with an approved template")
        ));
        assert_eq!(
            check_send(&whatsapp(), None, NOW, Audience::Automation, &template()),
            Decision::Allow { tag: None }
        );
        let sms = caps(ProactivePolicy::Allowed, None, false);
        assert_eq!(
            check_send(&sms, None, NOW, Audience::Automation, &text),
            Decision::Allow { tag: None }
        );
        assert!(matches!(
            check_send(&sms, Some(NOW), NOW, Audience::Agent, &template()),
            Decision::Refuse(r) if r.contains("no provider templates")
        ));
    }
}
