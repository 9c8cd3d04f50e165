//! Delivery: drives the inbox's durable outbox through the channel plugins.
//!
//! - Entries are taken oldest first; per conversation, a message never overtakes an earlier
//!   one that is still waiting (order is kept even across retries).
//! - Transient failures and rate limits reschedule with exponential backoff and jitter,
//!   honouring the plugin's `retry-after`; permanent failures mark the message failed with the
//!   provider's reason, where the agent sees it and can retry it.
//! - The outbound message carries a stable idempotency key (the message id) that plugins pass
//!   to providers that dedupe.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use crate::inbox::{now_ms, Inbox, OutboxEntry};
use crate::model::{ChannelError, Content, OutboundMessage};
use crate::runtime::{CallErrorKind, Runtime};

/// Backoff for the `attempt`-th retry (1-based): 1 s, 2 s, 4 s ... capped at 5 min, ±20 %.
pub fn backoff_ms(attempt: u32, retry_after_ms: Option<u64>) -> u64 {
    let base = 1000u64
        .saturating_mul(1u64 << attempt.saturating_sub(1).min(9))
        .min(300_000);
    let jitter = (now_ms().wrapping_mul(2_654_435_761) % 400) as i64 - 200; // ±20 % of 1000
    let with_jitter = (base as i64 + base as i64 * jitter / 1000).max(100) as u64;
    retry_after_ms.map_or(with_jitter, |r| r.max(with_jitter.min(r + 1000)))
}

/// Give up retrying after this many attempts (the message is then failed, retryable by hand).
pub const MAX_ATTEMPTS: u32 = 12;

pub struct Delivery {
    inbox: Arc<Inbox>,
    runtime: Arc<Runtime>,
    wake: tokio::sync::Notify,
}

impl Delivery {
    pub fn new(inbox: Arc<Inbox>, runtime: Arc<Runtime>) -> Arc<Self> {
        Arc::new(Self {
            inbox,
            runtime,
            wake: tokio::sync::Notify::new(),
        })
    }

    /// New work was queued.
    pub fn notify(&self) {
        self.wake.notify_one();
    }

    /// Run forever: drain what is due, then sleep until woken or 250 ms pass.
    pub async fn run(self: Arc<Self>) {
        loop {
            if let Err(e) = self.drain_once().await {
                tracing::error!("delivery pass failed: {e}");
            }
            let _ = tokio::time::timeout(Duration::from_millis(250), self.wake.notified()).await;
        }
    }

    /// One pass over due entries. Returns how many were attempted.
    pub async fn drain_once(&self) -> anyhow::Result<usize> {
        let inbox = self.inbox.clone();
        let now = now_ms();
        let queued = tokio::task::spawn_blocking(move || inbox.queued_outbox(10_000)).await??;
        // The oldest queued message of each conversation goes first, even when it is waiting
        // for a retry and a younger one is due now.
        let mut oldest: HashMap<(String, String, String), u64> = HashMap::new();
        for (_, _, entry) in &queued {
            let conv = (
                entry.tenant.clone(),
                entry.channel.clone(),
                entry.conversation.clone(),
            );
            let first = oldest.entry(conv).or_insert(entry.created_ms);
            *first = (*first).min(entry.created_ms);
        }
        let mut blocked: HashSet<(String, String, String)> = HashSet::new();
        let mut attempted = 0;
        for (key, due, entry) in queued {
            if due > now {
                continue;
            }
            let conv = (
                entry.tenant.clone(),
                entry.channel.clone(),
                entry.conversation.clone(),
            );
            if blocked.contains(&conv) || oldest.get(&conv).is_some_and(|o| *o < entry.created_ms) {
                continue;
            }
            attempted += 1;
            if !self.deliver(&key, &entry).await? {
                // Keep per-conversation order: later messages wait for this one.
                blocked.insert(conv);
            }
        }
        Ok(attempted)
    }

    /// Try one entry; true when it left the outbox as sent.
    async fn deliver(&self, key: &[u8], entry: &OutboxEntry) -> anyhow::Result<bool> {
        let inbox = self.inbox.clone();
        let e = entry.clone();
        let message = tokio::task::spawn_blocking(move || inbox.outbox_message(&e)).await??;
        let Some(message) = message else {
            return Ok(true);
        };
        let Some(channel) = self.runtime.channel(&entry.channel) else {
            self.fail(
                key,
                entry,
                format!("channel `{}` is not running", entry.channel),
                (entry.attempts + 1 < MAX_ATTEMPTS)
                    .then(|| now_ms() + backoff_ms(entry.attempts + 1, None)),
            )
            .await?;
            return Ok(false);
        };
        let outbound = OutboundMessage {
            idempotency_key: message.id.clone(),
            conversation: entry.conversation.clone(),
            recipient: None,
            content: message
                .content
                .clone()
                .unwrap_or_else(|| Content::text(message.text.clone().unwrap_or_default())),
            reply_to: entry.reply_to.clone(),
            tag: None,
            public_reply: false,
        };
        match channel.send(outbound).await {
            Ok(sent) => {
                let inbox = self.inbox.clone();
                let (k, e) = (key.to_vec(), entry.clone());
                tokio::task::spawn_blocking(move || {
                    inbox.outbox_sent(&k, &e, &sent.provider_id, sent.status)
                })
                .await??;
                Ok(true)
            }
            Err(err) => {
                let retry_at = match &err.kind {
                    CallErrorKind::Channel(ChannelError::RateLimited {
                        retry_after_ms, ..
                    }) => Some(now_ms() + backoff_ms(entry.attempts + 1, *retry_after_ms)),
                    CallErrorKind::Channel(ce) if ce.is_retryable() => {
                        Some(now_ms() + backoff_ms(entry.attempts + 1, None))
                    }
                    CallErrorKind::Channel(_) => None,
                    // A plugin that traps or times out may be fixed by a hot swap: retry.
                    _ => Some(now_ms() + backoff_ms(entry.attempts + 1, None)),
                };
                let retry_at = retry_at.filter(|_| entry.attempts + 1 < MAX_ATTEMPTS);
                tracing::info!(channel = %entry.channel, attempts = entry.attempts + 1, retry = retry_at.is_some(), "send failed: {err}");
                let reason = match err.channel_error().and_then(|c| c.provider_code()) {
                    Some(code) => format!("{err} (provider code {code})"),
                    None => err.to_string(),
                };
                self.fail(key, entry, reason, retry_at).await?;
                Ok(false)
            }
        }
    }

    async fn fail(
        &self,
        key: &[u8],
        entry: &OutboxEntry,
        error: String,
        retry_at: Option<u64>,
    ) -> anyhow::Result<()> {
        let inbox = self.inbox.clone();
        let (k, e) = (key.to_vec(), entry.clone());
        tokio::task::spawn_blocking(move || inbox.outbox_failed(&k, &e, &error, retry_at))
            .await??;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_honours_retry_after() {
        let first = backoff_ms(1, None);
        assert!((800..=1200).contains(&first), "{first}");
        let fourth = backoff_ms(4, None);
        assert!((6400..=9600).contains(&fourth), "{fourth}");
        assert!(backoff_ms(30, None) <= 360_000);
        assert!(backoff_ms(1, Some(7000)) >= 7000);
    }
}
