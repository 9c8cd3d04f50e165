//! In-memory stores for tests and tools.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, RwLock};

use super::{Entry, KvStore, Op, Store, StoreError};

/// A [`Store`] in a `BTreeMap`; `flush` is a no-op.
#[derive(Default)]
pub struct MemoryStore {
    map: RwLock<BTreeMap<Vec<u8>, Vec<u8>>>,
}

impl Store for MemoryStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .map
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .cloned())
    }

    fn scan(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        let map = self.map.read().unwrap_or_else(|p| p.into_inner());
        let start = after.map(<[u8]>::to_vec).unwrap_or_else(|| prefix.to_vec());
        Ok(map
            .range(start..)
            .filter(|(k, _)| Some(k.as_slice()) != after)
            .take_while(|(k, _)| k.starts_with(prefix))
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn apply(&self, ops: Vec<Op>) -> Result<(), StoreError> {
        let mut map = self.map.write().unwrap_or_else(|p| p.into_inner());
        for op in ops {
            match op {
                Op::Put(k, v) => {
                    map.insert(k, v);
                }
                Op::Delete(k) => {
                    map.remove(&k);
                }
            }
        }
        Ok(())
    }

    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn count(&self, prefix: &[u8]) -> Result<usize, StoreError> {
        let map = self.map.read().unwrap_or_else(|p| p.into_inner());
        Ok(map
            .range(prefix.to_vec()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .count())
    }
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
