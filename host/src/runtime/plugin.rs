//! One loaded plugin version: checked, compiled, linked (`InstancePre`) and described.
//! Immutable once built; hot swap replaces the whole value.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use wasmtime::component::Linker;
use wasmtime::Store;

use super::bindings::PluginPre;
use super::contract::{self, Version};
use super::engine::{content_hash, CompileSource, Engine};
use super::state::{ChannelContext, HostServices, Labels, PluginState};
use crate::model::Manifest;

/// Where a plugin came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "detail", rename_all = "kebab-case")]
pub enum PluginSource {
    Bundled,
    File(String),
    Upload,
}

/// A plugin file that cannot be loaded, and why. Nothing is changed when this is returned.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("rejected before compiling: {0}")]
    Invalid(String),
    #[error("does not compile: {0}")]
    Compile(String),
    #[error("does not link against the inlet:channel host: {0}")]
    Link(String),
    #[error("describe() failed: {0}")]
    Describe(String),
    #[error("manifest is invalid: {0}")]
    Manifest(String),
    #[error("health check failed on channel {channel}: {reason}")]
    Health { channel: String, reason: String },
}

pub struct LoadedPlugin {
    pub manifest: Manifest,
    pub hash: String,
    pub contract: Version,
    pub pre: PluginPre<PluginState>,
    pub source: PluginSource,
    pub compile_source: CompileSource,
    pub compile_time: Duration,
    pub loaded_at: SystemTime,
    pub size_bytes: usize,
}

/// Listing and inspection view.
#[derive(Debug, Clone, Serialize)]
pub struct PluginInfo {
    /// Registry key: the id, or `{tenant}/{id}` for a tenant's private plugin.
    pub key: String,
    /// The tenant owning a private plugin; absent for the operator's catalogue.
    pub owner: Option<String>,
    /// Every loaded version; `version` is the active one.
    pub versions: Vec<String>,
    /// Catalogue plugins offered to chosen tenants only; absent = every tenant.
    pub available_to: Option<Vec<String>>,
    pub id: String,
    pub name: String,
    pub version: String,
    pub contract: String,
    pub sha256: String,
    pub size_bytes: usize,
    pub source: PluginSource,
    pub compiled_from: CompileSource,
    pub compile_ms: f64,
    pub manifest: Manifest,
}

impl LoadedPlugin {
    /// Check, compile, link and describe `bytes`. Blocking (compiles): call off the async path.
    pub fn load(
        engine: &Engine,
        linker: &Linker<PluginState>,
        services: &Arc<HostServices>,
        bytes: &[u8],
        source: PluginSource,
    ) -> Result<Self, LoadError> {
        let contract = contract::check(bytes).map_err(LoadError::Invalid)?;
        let (component, compile_source, compile_time) = engine
            .compile(bytes)
            .map_err(|e| LoadError::Compile(format!("{e:#}")))?;
        let instance_pre = linker
            .instantiate_pre(&component)
            .map_err(|e| LoadError::Link(format!("{e:#}")))?;
        let pre = PluginPre::new(instance_pre).map_err(|e| LoadError::Link(format!("{e:#}")))?;
        let mut plugin = Self {
            manifest: placeholder_manifest(),
            hash: content_hash(bytes),
            contract,
            pre,
            source,
            compile_source,
            compile_time,
            loaded_at: SystemTime::now(),
            size_bytes: bytes.len(),
        };
        plugin.manifest = plugin.describe(engine, services)?;
        validate_manifest(&plugin.manifest).map_err(LoadError::Manifest)?;
        Ok(plugin)
    }

    /// Call `describe()` in a sandbox with no configuration and no egress.
    fn describe(
        &self,
        engine: &Engine,
        services: &Arc<HostServices>,
    ) -> Result<Manifest, LoadError> {
        let ctx = Arc::new(ChannelContext {
            channel_id: String::new(),
            config: Default::default(),
            egress: Default::default(),
            kv: Arc::new(crate::store::MemoryKv::default()),
            memory_mb: services.limits.memory_mb,
            cpu_ms: services.limits.cpu_ms,
        });
        let labels = Labels {
            plugin: "(loading)".into(),
            version: "?".into(),
            channel: "-".into(),
        };
        let mut store = new_store(engine, PluginState::new(ctx, labels, services.clone()));
        let bindings = self
            .pre
            .instantiate(&mut store)
            .map_err(|e| LoadError::Describe(format!("cannot instantiate: {e:#}")))?;
        let manifest = bindings
            .inlet_channel_channel()
            .call_describe(&mut store)
            .map_err(|e| LoadError::Describe(format!("{e:#}")))?;
        store.data_mut().drain_stderr();
        Ok(manifest.into())
    }

    pub fn info(&self) -> PluginInfo {
        PluginInfo {
            key: self.manifest.id.clone(),
            owner: None,
            versions: vec![self.manifest.version.clone()],
            available_to: None,
            id: self.manifest.id.clone(),
            name: self.manifest.name.clone(),
            version: self.manifest.version.clone(),
            contract: self.contract.to_string(),
            sha256: self.hash.clone(),
            size_bytes: self.size_bytes,
            source: self.source.clone(),
            compiled_from: self.compile_source,
            compile_ms: self.compile_time.as_secs_f64() * 1000.0,
            manifest: self.manifest.clone(),
        }
    }

    pub fn labels(&self, channel: &str) -> Labels {
        Labels {
            plugin: self.manifest.id.clone(),
            version: self.manifest.version.clone(),
            channel: channel.to_string(),
        }
    }
}

/// A store with the memory limiter and the CPU-budget deadline callback installed.
pub fn new_store(engine: &Engine, state: PluginState) -> Store<PluginState> {
    let mut store = Store::new(engine.wasmtime(), state);
    store.limiter(|s| &mut s.limiter);
    store.epoch_deadline_callback(|mut ctx| {
        let budget = &mut ctx.data_mut().budget;
        let used = budget.used();
        if used >= budget.cpu {
            budget.exceeded = true;
            return Ok(wasmtime::UpdateDeadline::Interrupt);
        }
        Ok(wasmtime::UpdateDeadline::Continue(ticks(budget.cpu - used)))
    });
    store
}

/// Epoch ticks covering `d` (at least one).
pub fn ticks(d: Duration) -> u64 {
    let tick = super::engine::TICK.as_micros().max(1);
    (d.as_micros().div_ceil(tick)).max(1) as u64
}

fn placeholder_manifest() -> Manifest {
    use crate::model::*;
    let rich = RichCapabilities::plain_text(0);
    Manifest {
        id: String::new(),
        name: String::new(),
        version: String::new(),
        kind: ChannelKind::Messaging,
        ingress: Ingress {
            webhook: false,
            polling: false,
        },
        handshakes: Vec::new(),
        config: Vec::new(),
        egress: Vec::new(),
        regions: Vec::new(),
        poll_interval_secs: None,
        capabilities: Capabilities {
            private_messages: false,
            public_content: false,
            publish: false,
            moderation: Vec::new(),
            proactive: ProactivePolicy::Never,
            window: None,
            receipts: false,
            inbound_attachments: false,
            automation: rich.clone(),
            agent: rich,
        },
    }
}

/// Manifest rules the contract cannot express in types.
pub fn validate_manifest(m: &Manifest) -> Result<(), String> {
    if !crate::model::is_valid_id(&m.id) {
        return Err(format!(
            "id `{}` must be 1-64 characters of a-z, 0-9, `-` or `_`",
            m.id
        ));
    }
    if contract::Version::parse(&m.version).is_none() {
        return Err(format!("version `{}` is not MAJOR.MINOR.PATCH", m.version));
    }
    let mut names = std::collections::HashSet::new();
    for key in &m.config {
        if key.name.starts_with("inlet.") {
            return Err(format!(
                "config key `{}`: the `inlet.` prefix is reserved",
                key.name
            ));
        }
        if !names.insert(&key.name) {
            return Err(format!("config key `{}` is declared twice", key.name));
        }
    }
    if !m.ingress.webhook && !m.ingress.polling {
        return Err("ingress must include webhook or polling".into());
    }
    Ok(())
}
