//! The digital inbox: tenants, channels, contacts, cases, messages, notes, tags, agents,
//! skills and API tokens, persisted through `store::Store`. Knows nothing about wasmtime:
//! it receives `model::InboundEvent`s and hands outbound messages to delivery.
//!
//! Durability: every ingest is one atomic batch (case + message + indexes + dedupe marker +
//! journal entry) followed by a group-commit flush; callers acknowledge providers only after
//! [`Inbox::ingest`] returns.

mod automation;
mod cases;
mod choices;
mod directory;
mod ingest;
pub mod keys;
mod live;
mod outbox;
mod proactive;
mod saved;
pub mod types;

use std::sync::{Arc, Mutex};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::store::{Entry, GroupCommit, Op, Store, StoreError};

pub use cases::{CaseFilter, CaseList, CaseView, ReplyRequest, StatusChange};
pub use directory::NewToken;
pub use ingest::IngestReport;
pub use live::LiveEvent;
pub use outbox::OutboxEntry;
pub use saved::{fill, placeholders, RichMessage, RichMessageInput};
pub use types::*;

/// The schema version this build writes; older stores are migrated on open.
pub const SCHEMA_VERSION: u32 = 1;

/// Errors the API turns into statuses.
#[derive(Debug, thiserror::Error)]
pub enum InboxError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    QuotaExceeded(String),
    /// The channel's messaging window or proactive policy refuses the message.
    #[error("{0}")]
    Policy(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub type Result<T, E = InboxError> = std::result::Result<T, E>;

pub struct Settings {
    /// A resolved case reopens when the customer writes within this period (ms).
    pub reopen_window_ms: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            reopen_window_ms: 7 * 24 * 3600 * 1000,
        }
    }
}

pub struct Inbox {
    store: Arc<dyn Store>,
    commit: GroupCommit,
    /// Serialises read-modify-write of inbox records; the durable flush happens outside it.
    write: Mutex<()>,
    live: live::Live,
    pub settings: Settings,
}

impl Inbox {
    /// Open the inbox on `store`, running migrations.
    pub fn open(store: Arc<dyn Store>, settings: Settings) -> Result<Arc<Self>> {
        let inbox = Self {
            commit: GroupCommit::new(store.clone()),
            store,
            write: Mutex::new(()),
            live: live::Live::new(),
            settings,
        };
        inbox.migrate()?;
        Ok(Arc::new(inbox))
    }

    fn migrate(&self) -> Result<()> {
        let current: u32 = self
            .store
            .get(keys::SCHEMA)?
            .and_then(|v| String::from_utf8(v).ok())
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        if current > SCHEMA_VERSION {
            return Err(InboxError::Invalid(format!(
                "the store has schema version {current}, newer than this build ({SCHEMA_VERSION}): refusing to open it"
            )));
        }
        // Version 0 → 1: an empty store; nothing to rewrite. Later migrations go here, one
        // step per version, each in its own atomic batch.
        if current < SCHEMA_VERSION {
            self.commit.commit(vec![Op::Put(
                keys::SCHEMA.to_vec(),
                SCHEMA_VERSION.to_string().into_bytes(),
            )])?;
            tracing::info!(from = current, to = SCHEMA_VERSION, "store schema migrated");
        }
        Ok(())
    }

    pub fn schema_version(&self) -> Result<u32> {
        Ok(self
            .store
            .get(keys::SCHEMA)?
            .and_then(|v| String::from_utf8(v).ok())
            .and_then(|s| s.parse().ok())
            .unwrap_or(0))
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<LiveEvent> {
        self.live.subscribe()
    }

    // ---- small helpers shared by the submodules

    fn read<T: DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>> {
        match self.store.get(key)? {
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| InboxError::Store(StoreError(format!("corrupt record: {e}")))),
            None => Ok(None),
        }
    }

    fn scan_values<T: DeserializeOwned>(&self, prefix: &[u8], limit: usize) -> Result<Vec<T>> {
        self.store
            .scan(prefix, None, limit)?
            .into_iter()
            .map(|(_, v)| {
                serde_json::from_slice(&v)
                    .map_err(|e| InboxError::Store(StoreError(format!("corrupt record: {e}"))))
            })
            .collect()
    }

    fn scan(&self, prefix: &[u8], after: Option<&[u8]>, limit: usize) -> Result<Vec<Entry>> {
        Ok(self.store.scan(prefix, after, limit)?)
    }

    /// Next value of a per-tenant counter (read and bumped inside the write lock).
    fn next_counter(&self, key: Vec<u8>, ops: &mut Vec<Op>) -> Result<u64> {
        let current: u64 = self
            .store
            .get(&key)?
            .and_then(|v| String::from_utf8(v).ok())
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let next = current + 1;
        ops.push(Op::Put(key, next.to_string().into_bytes()));
        Ok(next)
    }
}

fn put<T: Serialize>(key: Vec<u8>, value: &T) -> Op {
    Op::Put(key, serde_json::to_vec(value).unwrap_or_default())
}

/// Fill `buf` from the operating system's random source (tokens, id seeds).
pub fn random_bytes(buf: &mut [u8]) -> std::io::Result<()> {
    use std::io::Read;
    std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(buf))
}

/// A unique id: time, a process counter and a per-process random part read once, so making
/// ids on the ingest path costs no I/O.
pub fn new_id(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static SEED: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let seed = SEED.get_or_init(|| {
        let mut bytes = [0u8; 6];
        let _ = random_bytes(&mut bytes);
        hex::encode(bytes)
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    format!("{prefix}_{:x}{:04x}{}", nanos / 1000, n & 0xffff, seed)
}
