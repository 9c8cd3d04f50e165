//! The embedded default [`Store`]: one sled tree; batches are atomic (`apply_batch`), and
//! `flush` fsyncs. Nothing outside this file names sled.

use std::path::Path;

use super::{Entry, Op, Store, StoreError};

pub struct SledStore {
    db: sled::Db,
}

fn err(e: sled::Error) -> StoreError {
    StoreError(e.to_string())
}

impl SledStore {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = sled::Config::new()
            .path(path)
            // We flush explicitly at every durability point (group commit); the background
            // flusher only bounds what a crash could lose of non-acknowledged writes.
            .flush_every_ms(Some(1000))
            .cache_capacity(256 * 1024 * 1024)
            .open()
            .map_err(|e| {
                StoreError(format!("cannot open sled store at {}: {e}", path.display()))
            })?;
        Ok(Self { db })
    }
}

impl Store for SledStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.db.get(key).map_err(err)?.map(|v| v.to_vec()))
    }

    fn scan(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        let mut out = Vec::new();
        let iter = match after {
            Some(a) => self.db.range(a.to_vec()..),
            None => self.db.range(prefix.to_vec()..),
        };
        for item in iter {
            let (k, v) = item.map_err(err)?;
            if Some(k.as_ref()) == after {
                continue;
            }
            if !k.starts_with(prefix) || out.len() >= limit {
                break;
            }
            out.push((k.to_vec(), v.to_vec()));
        }
        Ok(out)
    }

    fn apply(&self, ops: Vec<Op>) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for op in ops {
            match op {
                Op::Put(k, v) => batch.insert(k, v),
                Op::Delete(k) => batch.remove(k),
            }
        }
        self.db.apply_batch(batch).map_err(err)
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.db.flush().map(|_| ()).map_err(err)
    }

    fn count(&self, prefix: &[u8]) -> Result<usize, StoreError> {
        Ok(self.db.scan_prefix(prefix).count())
    }
}
