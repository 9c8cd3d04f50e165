//! Where received events go. Until the inbox exists this is an in-memory sink that dedupes on
//! (channel, provider id), so a provider's redelivery is recognised; the inbox replaces it
//! with a durable store behind the same trait.

use std::collections::HashSet;
use std::sync::Mutex;

use serde::Serialize;

use crate::model::InboundEvent;

/// An event as stored, with its channel.
#[derive(Debug, Clone, Serialize)]
pub struct StoredEvent {
    pub seq: u64,
    pub channel: String,
    pub event: InboundEvent,
}

pub trait EventSink: Send + Sync {
    /// Record events; returns how many were new. Must be durable before it returns `Ok`.
    fn record(&self, channel: &str, events: Vec<InboundEvent>) -> Result<usize, String>;
    fn list(&self, channel: Option<&str>, after: u64, limit: usize) -> Vec<StoredEvent>;
}

#[derive(Default)]
pub struct MemorySink {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    seen: HashSet<(String, String)>,
    events: Vec<StoredEvent>,
}

impl EventSink for MemorySink {
    fn record(&self, channel: &str, events: Vec<InboundEvent>) -> Result<usize, String> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut new = 0;
        for event in events {
            let key = (channel.to_string(), event.provider_id().to_string());
            if !inner.seen.insert(key) {
                continue;
            }
            let seq = inner.events.len() as u64 + 1;
            inner.events.push(StoredEvent {
                seq,
                channel: channel.to_string(),
                event,
            });
            new += 1;
        }
        Ok(new)
    }

    fn list(&self, channel: Option<&str>, after: u64, limit: usize) -> Vec<StoredEvent> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner
            .events
            .iter()
            .filter(|e| e.seq > after && channel.is_none_or(|c| e.channel == c))
            .take(limit)
            .cloned()
            .collect()
    }
}
