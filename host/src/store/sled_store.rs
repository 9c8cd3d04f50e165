//! The embedded default [`Store`]: one sled tree; batches are atomic (`apply_batch`), and
//! `flush` fsyncs. Nothing outside this file names sled.

use std::path::Path;
use std::time::{Duration, Instant};

use super::{Entry, Op, Store, StoreError};

pub struct SledStore {
    db: sled::Db,
}

fn err(e: sled::Error) -> StoreError {
    StoreError(e.to_string())
}

/// How long `open` waits for a previous holder of the directory's file lock to let go.
const LOCK_WAIT: Duration = Duration::from_secs(10);

impl SledStore {
    /// Open (or create) the store in `path`. sled holds an exclusive file lock on the
    /// directory; a store closed a moment ago (in this process, or a process that is still
    /// exiting during a restart) releases it only when its background flusher stops, so a
    /// lock conflict is retried for up to [`LOCK_WAIT`] before it becomes an error.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let started = Instant::now();
        let mut pause = Duration::from_millis(10);
        loop {
            match Self::try_open(path) {
                Ok(db) => return Ok(Self { db }),
                // sled reports the conflict as `Other` with this message (sled 0.34 config.rs).
                Err(sled::Error::Io(e))
                    if e.to_string().contains("could not acquire lock")
                        && started.elapsed() < LOCK_WAIT =>
                {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(500));
                }
                Err(e) => {
                    return Err(StoreError(format!(
                        "cannot open sled store at {}: {e}",
                        path.display()
                    )))
                }
            }
        }
    }

    fn try_open(path: &Path) -> Result<sled::Db, sled::Error> {
        sled::Config::new()
            .path(path)
            // We flush explicitly at every durability point (group commit); the background
            // flusher only bounds what a crash could lose of non-acknowledged writes.
            .flush_every_ms(Some(1000))
            .cache_capacity(256 * 1024 * 1024)
            .open()
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
