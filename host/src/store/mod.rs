//! Persistence behind small traits, so the domain never sees sled.
//!
//! - [`Store`]: an ordered key-value map with atomic batches and an explicit durability point
//!   ([`Store::flush`]). Keys are bytes; the inbox builds them in `inbox::keys` (tenant data
//!   under a tenant prefix, operator records under `O`).
//! - [`GroupCommit`]: many writers wait for one flush (group commit), so durability before
//!   acknowledging a webhook does not cost one fsync per request.
//! - [`KvStore`]: per-channel plugin state, implemented on top of any [`Store`].
//!
//! sled is the embedded default ([`SledStore`]); [`MemoryStore`] serves tests and tools.

mod memory;
mod sled_store;

use std::sync::{Arc, Condvar, Mutex};

pub use memory::{MemoryKv, MemoryStore};
pub use sled_store::SledStore;

#[derive(Debug, thiserror::Error)]
#[error("storage error: {0}")]
pub struct StoreError(pub String);

/// One write in an atomic batch.
#[derive(Debug, Clone)]
pub enum Op {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
}

pub type Entry = (Vec<u8>, Vec<u8>);

pub trait Store: Send + Sync {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// Entries whose key starts with `prefix`, in key order, strictly after `after`.
    fn scan(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError>;
    /// Apply all ops or none.
    fn apply(&self, ops: Vec<Op>) -> Result<(), StoreError>;
    /// Make everything applied so far durable.
    fn flush(&self) -> Result<(), StoreError>;
    /// Number of keys under `prefix` (may scan).
    fn count(&self, prefix: &[u8]) -> Result<usize, StoreError>;
}

/// Coalesces concurrent durability requests into shared flushes.
pub struct GroupCommit {
    store: Arc<dyn Store>,
    state: Mutex<CommitState>,
    done: Condvar,
}

#[derive(Default)]
struct CommitState {
    requested: u64,
    flushed: u64,
    flushing: bool,
    error: Option<(u64, String)>,
}

impl GroupCommit {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            state: Mutex::new(CommitState::default()),
            done: Condvar::new(),
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Apply `ops` atomically and return once they are durable. Blocking.
    pub fn commit(&self, ops: Vec<Op>) -> Result<(), StoreError> {
        self.store.apply(ops)?;
        self.sync()
    }

    /// Return once everything applied before this call is durable. Blocking.
    pub fn sync(&self) -> Result<(), StoreError> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.requested += 1;
        let mine = st.requested;
        loop {
            if st.flushed >= mine {
                return match &st.error {
                    Some((at, e)) if *at >= mine => Err(StoreError(e.clone())),
                    _ => Ok(()),
                };
            }
            if !st.flushing {
                st.flushing = true;
                let target = st.requested;
                drop(st);
                let result = self.store.flush();
                st = self.state.lock().unwrap_or_else(|p| p.into_inner());
                st.flushing = false;
                st.flushed = target;
                if let Err(e) = result {
                    st.error = Some((target, e.0));
                }
                self.done.notify_all();
                continue;
            }
            st = self.done.wait(st).unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// Per-channel key-value state for plugins (cursors, tokens). Namespaced by channel.
pub trait KvStore: Send + Sync {
    fn get(&self, namespace: &str, key: &str) -> Option<Vec<u8>>;
    fn set(&self, namespace: &str, key: &str, value: &[u8]);
    fn delete(&self, namespace: &str, key: &str);
}

/// [`KvStore`] kept in a [`Store`] under `kv\0{namespace}\0{key}`.
pub struct StoreKv(pub Arc<dyn Store>);

impl StoreKv {
    fn key(namespace: &str, key: &str) -> Vec<u8> {
        format!("kv\u{0}{namespace}\u{0}{key}").into_bytes()
    }
}

impl KvStore for StoreKv {
    fn get(&self, namespace: &str, key: &str) -> Option<Vec<u8>> {
        self.0.get(&Self::key(namespace, key)).ok().flatten()
    }
    fn set(&self, namespace: &str, key: &str, value: &[u8]) {
        if let Err(e) = self
            .0
            .apply(vec![Op::Put(Self::key(namespace, key), value.to_vec())])
        {
            tracing::warn!(namespace, "plugin kv-set failed: {e}");
        }
    }
    fn delete(&self, namespace: &str, key: &str) {
        if let Err(e) = self.0.apply(vec![Op::Delete(Self::key(namespace, key))]) {
            tracing::warn!(namespace, "plugin kv-delete failed: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exercise(store: Arc<dyn Store>) {
        store
            .apply(vec![
                Op::Put(b"a/1".to_vec(), b"one".to_vec()),
                Op::Put(b"a/2".to_vec(), b"two".to_vec()),
                Op::Put(b"a/3".to_vec(), b"three".to_vec()),
                Op::Put(b"b/1".to_vec(), b"other".to_vec()),
            ])
            .expect("apply");
        assert_eq!(store.get(b"a/2").expect("get"), Some(b"two".to_vec()));
        let all = store.scan(b"a/", None, 10).expect("scan");
        assert_eq!(all.len(), 3);
        let after = store.scan(b"a/", Some(b"a/1"), 1).expect("scan");
        assert_eq!(after, vec![(b"a/2".to_vec(), b"two".to_vec())]);
        assert_eq!(store.count(b"a/").expect("count"), 3);
        store
            .apply(vec![Op::Delete(b"a/2".to_vec())])
            .expect("delete");
        assert_eq!(store.get(b"a/2").expect("get"), None);
        let gc = GroupCommit::new(store.clone());
        gc.commit(vec![Op::Put(b"c".to_vec(), b"d".to_vec())])
            .expect("commit");
        assert_eq!(store.get(b"c").expect("get"), Some(b"d".to_vec()));
    }

    #[test]
    fn memory_store_behaves_like_an_ordered_map() {
        exercise(Arc::new(MemoryStore::default()));
    }

    #[test]
    fn sled_store_behaves_like_an_ordered_map_and_survives_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(SledStore::open(dir.path()).expect("open"));
        exercise(store.clone());
        drop(store);
        let reopened = SledStore::open(dir.path()).expect("reopen");
        assert_eq!(reopened.get(b"c").expect("get"), Some(b"d".to_vec()));
    }

    #[test]
    fn opening_waits_for_the_previous_holder_of_the_directory_lock() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = SledStore::open(dir.path()).expect("open");
        first
            .apply(vec![Op::Put(b"k".to_vec(), b"v".to_vec())])
            .expect("write");
        first.flush().expect("flush");
        let closer = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(300));
            drop(first);
        });
        // Opened while `first` still holds the lock: waits instead of failing.
        let second = SledStore::open(dir.path()).expect("open after the holder let go");
        assert_eq!(second.get(b"k").expect("get"), Some(b"v".to_vec()));
        closer.join().expect("closer");
    }

    #[test]
    fn group_commit_serves_many_writers() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::default());
        let gc = Arc::new(GroupCommit::new(store.clone()));
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let gc = gc.clone();
                std::thread::spawn(move || {
                    for i in 0..100 {
                        gc.commit(vec![Op::Put(format!("k/{t}/{i:03}").into_bytes(), vec![1])])
                            .expect("commit");
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("join");
        }
        assert_eq!(store.count(b"k/").expect("count"), 800);
    }
}
