//! Persistence behind small traits. The runtime only needs per-channel key-value state;
//! the inbox's record store arrives with it. sled is the embedded default; the in-memory
//! implementation serves tests and tools.

use std::collections::HashMap;
use std::sync::Mutex;

/// Per-channel key-value state for plugins (cursors, tokens). Namespaced by channel id.
pub trait KvStore: Send + Sync {
    fn get(&self, namespace: &str, key: &str) -> Option<Vec<u8>>;
    fn set(&self, namespace: &str, key: &str, value: &[u8]);
    fn delete(&self, namespace: &str, key: &str);
}

/// Volatile [`KvStore`].
#[derive(Default)]
pub struct MemoryKv {
    map: Mutex<HashMap<(String, String), Vec<u8>>>,
}

impl KvStore for MemoryKv {
    fn get(&self, namespace: &str, key: &str) -> Option<Vec<u8>> {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&(namespace.to_string(), key.to_string())).cloned()
    }

    fn set(&self, namespace: &str, key: &str, value: &[u8]) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.insert((namespace.to_string(), key.to_string()), value.to_vec());
    }

    fn delete(&self, namespace: &str, key: &str) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&(namespace.to_string(), key.to_string()));
    }
}
