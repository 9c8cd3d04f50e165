//! Delivery: drives the inbox's durable outbox through the channel plugins.
//!
//! - Entries are taken oldest first; per conversation, a message never overtakes an earlier
//!   one that is still waiting (order is kept even across retries).
//! - Transient failures and rate limits reschedule with exponential backoff and jitter,
//!   honouring the plugin's `retry-after`; permanent failures mark the message failed with the
//!   provider's reason, where the agent sees it and can retry it.
//! - The outbound message carries a stable idempotency key (the message id; `-pN` per part
//!   when the transformer split a long text) that plugins pass to providers that dedupe.
//! - Content is adapted (`content::adapt`) at send time, to the capabilities the channel's
//!   plugin declares now, for the author's audience (agent or automation). A split message
//!   records how many parts went out, so a retry resumes after them.
//! - Workers per channel (up to `WORKERS_PER_CHANNEL` conversations at once), channels in
//!   parallel: a slow or failing provider delays only its own channel, and one conversation's
//!   backlog never overtakes itself.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::content;
use crate::inbox::{now_ms, Inbox, OutboxEntry};
use crate::model::{ChannelError, Content, OutboundMessage};
use crate::policy;
use crate::runtime::{CallErrorKind, Runtime};

/// One conversation's due entries, oldest first: (outbox key, entry).
type Run = Vec<(Vec<u8>, OutboxEntry)>;

/// (tenant, channel, provider conversation).
type Conversation = (String, String, String);

fn conversation(entry: &OutboxEntry) -> Conversation {
    (
        entry.tenant.clone(),
        entry.channel.clone(),
        entry.conversation.clone(),
    )
}

/// Backoff for the `attempt`-th retry (1-based): 1 s, 2 s, 4 s ... capped at 5 min, ±20 %.
pub fn backoff_ms(attempt: u32, retry_after_ms: Option<u64>) -> u64 {
    let base = 1000u64
        .saturating_mul(1u64 << attempt.saturating_sub(1).min(9))
        .min(300_000);
    let jitter = (now_ms().wrapping_mul(2_654_435_761) % 400) as i64 - 200; // ±20 % of 1000
    let with_jitter = (base as i64 + base as i64 * jitter / 1000).max(100) as u64;
    retry_after_ms.map_or(with_jitter, |r| r.max(with_jitter.min(r + 1000)))
}

/// Conversations of one channel delivered at the same time (each one strictly in order).
pub const WORKERS_PER_CHANNEL: usize = 8;

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

    /// One pass over due entries: one worker per channel, channels in parallel, each keeping
    /// per-conversation order. Returns how many entries were attempted.
    pub async fn drain_once(self: &Arc<Self>) -> anyhow::Result<usize> {
        let inbox = self.inbox.clone();
        let now = now_ms();
        let queued = tokio::task::spawn_blocking(move || inbox.queued_outbox(10_000)).await??;
        // Per conversation, oldest first; the run stops at the first entry not yet due (a
        // message waiting for a retry holds back every younger one of its conversation).
        let mut conversations: HashMap<Conversation, Vec<(Vec<u8>, u64, OutboxEntry)>> =
            HashMap::new();
        for (key, due, entry) in queued {
            conversations
                .entry(conversation(&entry))
                .or_default()
                .push((key, due, entry));
        }
        let mut per_channel: HashMap<String, Vec<Run>> = HashMap::new();
        for (conv, mut entries) in conversations {
            entries.sort_by(|a, b| a.2.created_ms.cmp(&b.2.created_ms).then(a.0.cmp(&b.0)));
            let run: Run = entries
                .into_iter()
                .take_while(|(_, due, _)| *due <= now)
                .map(|(key, _, entry)| (key, entry))
                .collect();
            if !run.is_empty() {
                per_channel.entry(conv.1).or_default().push(run);
            }
        }
        let mut workers = tokio::task::JoinSet::new();
        for (_, runs) in per_channel {
            let me = self.clone();
            workers.spawn(me.deliver_channel(runs));
        }
        let mut attempted = 0;
        while let Some(done) = workers.join_next().await {
            attempted += done??;
        }
        Ok(attempted)
    }

    /// One channel's due conversations: up to [`WORKERS_PER_CHANNEL`] at once, each in order
    /// up to its first failure. Concurrent conversations share the store's flushes.
    async fn deliver_channel(self: Arc<Self>, conversations: Vec<Run>) -> anyhow::Result<usize> {
        let permits = Arc::new(tokio::sync::Semaphore::new(WORKERS_PER_CHANNEL));
        let mut runs = tokio::task::JoinSet::new();
        for run in conversations {
            let (me, permits) = (self.clone(), permits.clone());
            runs.spawn(async move {
                let _permit = permits.acquire_owned().await?;
                let mut attempted = 0;
                for (key, entry) in run {
                    attempted += 1;
                    if !me.deliver(&key, &entry).await? {
                        // Keep per-conversation order: later messages wait for this one.
                        break;
                    }
                }
                anyhow::Ok(attempted)
            });
        }
        let mut attempted = 0;
        while let Some(done) = runs.join_next().await {
            attempted += done??;
        }
        Ok(attempted)
    }

    /// Try one entry; true when it left the outbox as sent.
    async fn deliver(&self, key: &[u8], entry: &OutboxEntry) -> anyhow::Result<bool> {
        let inbox = self.inbox.clone();
        let e = entry.clone();
        let loaded = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
            let Some(message) = inbox.outbox_message(&e)? else {
                return Ok(None);
            };
            let case = inbox.case(&e.tenant, &message.case_id).ok();
            Ok(Some((message, case)))
        })
        .await??;
        let Some((message, case)) = loaded else {
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
        // Adapt the authored content to what the channel shows this audience now (a hot swap
        // may have changed its capabilities since the message was queued).
        let plugin = channel.plugin();
        let capabilities = &plugin.manifest.capabilities;
        let audience = message.author.audience();
        let authored = message
            .content
            .clone()
            .unwrap_or_else(|| Content::text(message.text.clone().unwrap_or_default()));
        let adapted = content::adapt(&authored, audience.capabilities(capabilities));
        // The window may have closed while the message waited: then it is not sent (the
        // provider would refuse it) and fails with the reason. Past the free window, a human
        // agent's answer carries the channel's human-agent tag.
        let tag = match policy::check_send(
            capabilities,
            case.as_ref().and_then(|c| c.last_inbound_ms),
            now_ms(),
            audience,
            &authored,
        ) {
            policy::Decision::Allow { tag } => tag,
            policy::Decision::Refuse(reason) => {
                self.fail(key, entry, format!("not sent: {reason}"), None)
                    .await?;
                return Ok(false);
            }
        };
        let parts = adapted.parts.len();
        let mut last = None;
        // Every part's provider id: a receipt for any part (a failed first SMS segment) must
        // find the message.
        let mut provider_ids = Vec::new();
        for (i, part) in adapted.parts.into_iter().enumerate() {
            if i < entry.parts_sent as usize {
                continue;
            }
            let outbound = OutboundMessage {
                idempotency_key: if parts > 1 {
                    format!("{}-p{}", message.id, i + 1)
                } else {
                    message.id.clone()
                },
                conversation: entry.conversation.clone(),
                recipient: None,
                content: part,
                reply_to: if i == 0 { entry.reply_to.clone() } else { None },
                tag: tag.clone(),
                public_reply: false,
            };
            match channel.send(outbound).await {
                Ok(sent) => {
                    provider_ids.push(sent.provider_id.clone());
                    last = Some(sent);
                }
                Err(err) => {
                    let mut progress = entry.clone();
                    progress.parts_sent = i as u32;
                    self.failed_send(key, &progress, err).await?;
                    return Ok(false);
                }
            }
        }
        let Some(sent) = last else {
            return Ok(true);
        };
        let inbox = self.inbox.clone();
        let (k, e) = (key.to_vec(), entry.clone());
        let (offered, notes) = (adapted.offered, adapted.notes);
        tokio::task::spawn_blocking(move || {
            inbox.outbox_sent(&k, &e, &provider_ids, sent.status, &offered, &notes)
        })
        .await??;
        Ok(true)
    }

    async fn failed_send(
        &self,
        key: &[u8],
        entry: &OutboxEntry,
        err: crate::runtime::CallError,
    ) -> anyhow::Result<()> {
        let retry_at = match &err.kind {
            CallErrorKind::Channel(ChannelError::RateLimited { retry_after_ms, .. }) => {
                Some(now_ms() + backoff_ms(entry.attempts + 1, *retry_after_ms))
            }
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
        self.fail(key, entry, reason, retry_at).await
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
