//! The process-wide wasmtime `Engine`, its epoch ticker, and the compiled-component cache.
//!
//! One engine per process (never one per plugin). Epoch interruption is on: a ticker thread
//! advances the epoch every [`TICK`], holding only a weak reference so it ends with the engine.
//! Compiled components are cached on disk as `<sha256 of the wasm>-<engine fingerprint>.cwasm`,
//! so a restart does not recompile and a wasmtime upgrade or config change never loads an
//! incompatible artefact.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use sha2::{Digest, Sha256};
use wasmtime::component::Component;

/// Epoch granularity: CPU deadlines are enforced to within about this much.
pub const TICK: Duration = Duration::from_millis(5);

/// How a component was obtained, for cold-start figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CompileSource {
    Compiled,
    Cache,
}

pub struct Engine {
    inner: wasmtime::Engine,
    cache_dir: Option<PathBuf>,
    fingerprint: String,
}

impl Engine {
    /// Build the engine. `cache_dir` = `None` disables the on-disk cache.
    pub fn new(cache_dir: Option<PathBuf>) -> Result<Self> {
        let mut config = wasmtime::Config::new();
        config.wasm_component_model(true);
        // Deadlines that trap, not just yield: see `channel.rs`.
        config.epoch_interruption(true);
        config.cranelift_opt_level(wasmtime::OptLevel::Speed);
        // A deep recursion in a plugin traps instead of exhausting the host thread's stack.
        config.max_wasm_stack(1024 * 1024);
        let inner = wasmtime::Engine::new(&config)
            .map_err(|e| anyhow::anyhow!("cannot configure wasmtime: {e}"))?;
        // SHA-256 rather than `DefaultHasher`, whose output may change between Rust releases.
        let mut hasher = ShaHasher(Sha256::new());
        inner.precompile_compatibility_hash().hash(&mut hasher);
        let fingerprint = hex::encode(&hasher.0.finalize()[..8]);
        if let Some(dir) = &cache_dir {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create compile cache {}", dir.display()))?;
        }
        let weak = inner.weak();
        std::thread::Builder::new()
            .name("inlet-epoch".into())
            .spawn(move || loop {
                std::thread::sleep(TICK);
                match weak.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => break,
                }
            })
            .context("cannot start the epoch ticker thread")?;
        Ok(Self {
            inner,
            cache_dir,
            fingerprint,
        })
    }

    pub fn wasmtime(&self) -> &wasmtime::Engine {
        &self.inner
    }

    /// Compile `bytes` (already checked by `contract::inspect_bytes`), or load the cached
    /// artefact compiled from identical bytes by an identical engine.
    pub fn compile(&self, bytes: &[u8]) -> Result<(Component, CompileSource, Duration)> {
        let started = Instant::now();
        let hash = content_hash(bytes);
        let cached = self
            .cache_dir
            .as_ref()
            .map(|d| d.join(format!("{hash}-{}.cwasm", self.fingerprint)));
        if let Some(path) = cached.as_ref().filter(|p| p.exists()) {
            // SAFETY: the file was written by `Component::serialize` of this same engine
            // configuration (the fingerprint is in the name) into the operator's data dir.
            match unsafe { Component::deserialize_file(&self.inner, path) } {
                Ok(component) => return Ok((component, CompileSource::Cache, started.elapsed())),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "discarding unreadable compile cache entry");
                    let _ = std::fs::remove_file(path);
                }
            }
        }
        let component = Component::new(&self.inner, bytes)
            .map_err(|e| anyhow::anyhow!("the component does not compile: {e:#}"))?;
        if let Some(path) = cached {
            if let Err(e) = write_cache(&component, &path) {
                tracing::warn!(path = %path.display(), error = %e, "cannot write compile cache entry");
            }
        }
        Ok((component, CompileSource::Compiled, started.elapsed()))
    }
}

fn write_cache(component: &Component, path: &Path) -> Result<()> {
    let bytes = component
        .serialize()
        .map_err(|e| anyhow::anyhow!("serialize: {e}"))?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// A `Hasher` feeding SHA-256, for a fingerprint that is stable across Rust releases.
struct ShaHasher(Sha256);

impl Hasher for ShaHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
    fn finish(&self) -> u64 {
        0
    }
}

/// Hex SHA-256 of a component's bytes: its identity in the cache and in `plugin list`.
pub fn content_hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
