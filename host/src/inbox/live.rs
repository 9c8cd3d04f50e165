//! Live events for agents (new case, new message, status change, assignment), fanned out
//! over a broadcast channel; the API filters them per tenant and per agent permission.

use serde::Serialize;
use tokio::sync::broadcast;

#[derive(Debug, Clone, Serialize)]
pub struct LiveEvent {
    #[serde(skip)]
    pub tenant: String,
    pub kind: &'static str,
    pub case_id: String,
    pub channel: String,
    pub detail: serde_json::Value,
    pub at_ms: u64,
}

pub struct Live {
    tx: broadcast::Sender<LiveEvent>,
}

impl Live {
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(4096);
        Self { tx }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<LiveEvent> {
        self.tx.subscribe()
    }

    pub fn send(&self, event: LiveEvent) {
        // No subscribers is fine.
        let _ = self.tx.send(event);
    }
}
