//! The plugin runtime: one wasmtime [`Engine`] per process, compiled components cached on
//! disk, one `InstancePre` per plugin version, warm instances per channel, sandbox limits
//! (memory, CPU deadline that traps, deny-by-default egress), host imports, the plugin
//! registry and hot swap.
//!
//! `runtime` knows nothing about cases or the inbox. Generated bindings stay inside this
//! module; the rest of the host sees `crate::model` types (converted in `convert.rs`).
//!
//! Why warm instances rather than one instance per call: on this 2-core machine a fresh
//! instance costs ~11 µs to instantiate and makes a `receive` ~10× slower than a reused one,
//! and fresh instantiation did not scale across threads (`mprotect`/`madvise` per instance).
//! Isolation is kept where it matters: instances are per channel, recycled after
//! `recycle_after` calls, and dropped after any trap. `limits.instance_reuse = false` switches
//! to one instance per call; `inlet-bench` measures both.

mod bindings;
mod channel;
pub mod contract;
mod convert;
mod egress;
mod engine;
mod plugin;
mod registry;
pub mod sandbox;
mod state;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use wasmtime::component::{HasSelf, Linker};

pub use channel::{CallError, CallErrorKind, ChannelHandle, ChannelStats};
pub use engine::{content_hash, CompileSource, Engine};
pub use plugin::{LoadError, PluginInfo, PluginSource};
pub use registry::{scoped_key, ChannelConfigError, ChannelLimits, ChannelSpec, InstallReport};
pub use sandbox::Limits;

use bindings::Plugin;
use state::{HostServices, PluginState};

/// Options for [`Runtime::new`].
#[derive(Debug, Clone, Default)]
pub struct RuntimeOptions {
    /// Where compiled components are cached; `None` disables the cache.
    pub cache_dir: Option<PathBuf>,
    pub limits: Limits,
}

pub struct Runtime {
    engine: Arc<Engine>,
    linker: Linker<PluginState>,
    services: Arc<HostServices>,
    kv: Arc<dyn crate::store::KvStore>,
    plugins: registry::PluginMap,
    channels: registry::ChannelMap,
    swap_lock: tokio::sync::Mutex<()>,
}

impl Runtime {
    /// Build the runtime. Must be called inside a tokio runtime (plugin HTTP uses it).
    pub fn new(options: RuntimeOptions, kv: Arc<dyn crate::store::KvStore>) -> Result<Arc<Self>> {
        options.limits.validate().map_err(anyhow::Error::msg)?;
        let engine = Arc::new(Engine::new(options.cache_dir)?);
        let mut linker = Linker::new(engine.wasmtime());
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .map_err(|e| anyhow::anyhow!("cannot link WASI: {e}"))?;
        Plugin::add_to_linker::<PluginState, HasSelf<PluginState>>(&mut linker, |s| s)
            .map_err(|e| anyhow::anyhow!("cannot link host imports: {e}"))?;
        let services = Arc::new(HostServices {
            http: egress::HttpClient::new()?,
            tokio: tokio::runtime::Handle::try_current()
                .map_err(|_| anyhow::anyhow!("Runtime::new must run inside tokio"))?,
            limits: options.limits,
        });
        Ok(Arc::new(Self {
            engine,
            linker,
            services,
            kv,
            plugins: Default::default(),
            channels: Default::default(),
            swap_lock: tokio::sync::Mutex::new(()),
        }))
    }
}
