//! A configured channel: one plugin (whatever version is current) plus this channel's
//! configuration, egress grants and warm instances.
//!
//! Invariants:
//! - A warm instance belongs to exactly one channel (its config and state never serve
//!   another channel or tenant) and to exactly one plugin version.
//! - Every call re-arms the CPU budget and the epoch deadline; a call that exceeds either
//!   limit traps, and a trapped instance is dropped, never reused.
//! - A call reads the current plugin version once at its start and finishes on it, so a hot
//!   swap never interrupts a call in flight; instances of an old version are dropped when
//!   next checked out.
//! - Calls never starve the reactor: on a multi-thread runtime they run in `block_in_place`
//!   (the worker's other tasks move to another thread), otherwise on the blocking pool.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use wasmtime::Store;

use arc_swap::ArcSwap;

use super::bindings::{guest, wit, Plugin};
use super::plugin::{new_store, ticks, LoadedPlugin};
use super::registry::ChannelSpec;
use super::state::{ChannelContext, HostServices, PluginState};
use super::Engine;
use crate::model as m;

/// A plugin call that did not succeed. Always names the plugin, its version and the channel.
#[derive(Debug, thiserror::Error)]
#[error("plugin {plugin}@{version} on channel {channel}: {kind}")]
pub struct CallError {
    pub plugin: String,
    pub version: String,
    pub channel: String,
    pub kind: CallErrorKind,
}

#[derive(Debug, thiserror::Error)]
pub enum CallErrorKind {
    /// The plugin answered with a structured error.
    #[error("{0}")]
    Channel(m::ChannelError),
    #[error("CPU deadline of {0:?} exceeded; the call was stopped")]
    Deadline(Duration),
    #[error("memory limit of {0} MiB exceeded; the call was stopped")]
    Memory(u64),
    #[error("trapped: {0}")]
    Trap(String),
    #[error("cannot instantiate: {0}")]
    Instantiate(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl CallError {
    /// The plugin's structured error, if that is what this is.
    pub fn channel_error(&self) -> Option<&m::ChannelError> {
        match &self.kind {
            CallErrorKind::Channel(e) => Some(e),
            _ => None,
        }
    }
}

/// A plugin version together with this channel's context built for that version's manifest
/// (config defaults, egress). Swapped as one value, so a call never mixes the two.
pub struct Binding {
    pub plugin: Arc<LoadedPlugin>,
    pub ctx: Arc<ChannelContext>,
}

struct Warm {
    binding: Arc<Binding>,
    store: Store<PluginState>,
    bindings: Plugin,
    calls: u32,
}

/// Counters for `plugin list` and the admin API.
#[derive(Debug, Default, Serialize, Clone)]
pub struct ChannelStats {
    pub calls: u64,
    pub errors: u64,
    pub traps: u64,
    pub instantiations: u64,
}

#[derive(Default)]
struct Counters {
    calls: AtomicU64,
    errors: AtomicU64,
    traps: AtomicU64,
    instantiations: AtomicU64,
}

pub struct ChannelHandle {
    pub id: String,
    /// As the operator configured it; re-validated against every new plugin version.
    pub(super) spec: ChannelSpec,
    pub(super) public_base_url: String,
    binding: ArcSwap<Binding>,
    engine: Arc<Engine>,
    services: Arc<HostServices>,
    pool: Mutex<Vec<Warm>>,
    counters: Counters,
}

type GuestResult<W> = wasmtime::Result<Result<W, wit::ChannelError>>;

impl ChannelHandle {
    pub(super) fn new(
        spec: ChannelSpec,
        public_base_url: String,
        binding: Binding,
        engine: Arc<Engine>,
        services: Arc<HostServices>,
    ) -> Self {
        Self {
            id: spec.id.clone(),
            spec,
            public_base_url,
            binding: ArcSwap::from_pointee(binding),
            engine,
            services,
            pool: Mutex::new(Vec::new()),
            counters: Counters::default(),
        }
    }

    /// The plugin version serving new calls.
    pub fn plugin(&self) -> Arc<LoadedPlugin> {
        self.binding.load().plugin.clone()
    }

    /// The channel's effective configuration value (including `inlet.*` keys).
    pub fn config_value(&self, key: &str) -> Option<String> {
        self.binding.load().ctx.config.get(key).cloned()
    }

    /// Publish a new plugin version with its context (hot swap).
    pub(super) fn rebind(&self, binding: Binding) {
        self.binding.store(Arc::new(binding));
    }

    pub fn stats(&self) -> ChannelStats {
        let c = &self.counters;
        ChannelStats {
            calls: c.calls.load(Ordering::Relaxed),
            errors: c.errors.load(Ordering::Relaxed),
            traps: c.traps.load(Ordering::Relaxed),
            instantiations: c.instantiations.load(Ordering::Relaxed),
        }
    }

    pub async fn receive(
        self: &Arc<Self>,
        request: m::HttpRequest,
    ) -> Result<m::Received, CallError> {
        let request: wit::HttpRequest = request.into();
        self.call(move |g, s| g.call_receive(s, &request)).await
    }

    /// `receive` for callers already on a blocking thread (benchmarks, batch tools): the same
    /// path without the hop onto tokio's blocking pool.
    pub fn receive_blocking(&self, request: m::HttpRequest) -> Result<m::Received, CallError> {
        let request: wit::HttpRequest = request.into();
        self.call_blocking(self.binding.load_full(), move |g, s| {
            g.call_receive(s, &request)
        })
    }

    pub async fn send(self: &Arc<Self>, message: m::OutboundMessage) -> Result<m::Sent, CallError> {
        let message: wit::OutboundMessage = message.into();
        self.call(move |g, s| g.call_send(s, &message)).await
    }

    pub async fn poll(self: &Arc<Self>, cursor: Option<String>) -> Result<m::Polled, CallError> {
        self.call(move |g, s| g.call_poll(s, cursor.as_deref()))
            .await
    }

    pub async fn act(self: &Arc<Self>, request: m::ModerationRequest) -> Result<(), CallError> {
        let request: wit::ModerationRequest = request.into();
        self.call(move |g, s| g.call_act(s, &request)).await
    }

    pub async fn health(self: &Arc<Self>) -> Result<(), CallError> {
        self.call(move |g, s| g.call_health(s)).await
    }

    /// Run `f` on a warm (or new) instance of the current version, on the blocking pool.
    async fn call<W, R, F>(self: &Arc<Self>, f: F) -> Result<R, CallError>
    where
        W: Into<R> + Send + 'static,
        R: Send + 'static,
        F: FnOnce(&guest::Guest, &mut Store<PluginState>) -> GuestResult<W> + Send + 'static,
    {
        let binding = self.binding.load_full();
        // On a multi-thread runtime the call runs right here: `block_in_place` hands this
        // worker's other tasks to another thread, so a CPU-bound plugin never stalls the
        // reactor, and the call avoids the thread hand-off of `spawn_blocking` (most of the
        // cost of a warm call, see inlet-bench). Elsewhere it falls back to the blocking pool.
        let multi_thread = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        if multi_thread {
            return tokio::task::block_in_place(|| self.call_blocking(binding, f));
        }
        let this = self.clone();
        let labels = binding.plugin.labels(&self.id);
        tokio::task::spawn_blocking(move || this.call_blocking(binding, f))
            .await
            .unwrap_or_else(|e| {
                Err(CallError {
                    plugin: labels.plugin,
                    version: labels.version,
                    channel: labels.channel,
                    kind: CallErrorKind::Internal(format!("plugin call task failed: {e}")),
                })
            })
    }

    /// The synchronous core of every call (public for benchmarks on a dedicated thread).
    fn call_blocking<W, R, F>(&self, binding: Arc<Binding>, f: F) -> Result<R, CallError>
    where
        W: Into<R>,
        F: FnOnce(&guest::Guest, &mut Store<PluginState>) -> GuestResult<W>,
    {
        self.counters.calls.fetch_add(1, Ordering::Relaxed);
        let plugin = binding.plugin.clone();
        let error = |kind| CallError {
            plugin: plugin.manifest.id.clone(),
            version: plugin.manifest.version.clone(),
            channel: self.id.clone(),
            kind,
        };
        let mut warm = self
            .checkout(&binding)
            .map_err(|e| error(CallErrorKind::Instantiate(e)))?;
        let cpu = Duration::from_millis(binding.ctx.cpu_ms);
        {
            let state = warm.store.data_mut();
            state.budget = super::sandbox::Budget::new(cpu);
        }
        warm.store.set_epoch_deadline(ticks(cpu));
        let result = f(warm.bindings.inlet_channel_channel(), &mut warm.store);
        let stderr_tail = warm.store.data_mut().drain_stderr();
        warm.calls += 1;
        match result {
            Ok(Ok(value)) => {
                self.checkin(warm);
                Ok(value.into())
            }
            Ok(Err(channel_error)) => {
                self.counters.errors.fetch_add(1, Ordering::Relaxed);
                self.checkin(warm);
                Err(error(CallErrorKind::Channel(channel_error.into())))
            }
            Err(trap) => {
                self.counters.traps.fetch_add(1, Ordering::Relaxed);
                let state = warm.store.data();
                let kind = if state.budget.exceeded {
                    CallErrorKind::Deadline(cpu)
                } else if state.limiter.memory_exceeded {
                    CallErrorKind::Memory(binding.ctx.memory_mb)
                } else {
                    // The trap code ("wasm `unreachable` instruction executed") without the
                    // wasm backtrace, which goes to the debug log instead.
                    tracing::debug!(channel = %self.id, "trap detail: {trap:?}");
                    let mut msg = match trap.downcast_ref::<wasmtime::Trap>() {
                        Some(code) => code.to_string(),
                        None => format!("{trap}"),
                    };
                    if let Some(tail) = stderr_tail {
                        msg.push_str(&format!(" (stderr: {tail})"));
                    }
                    CallErrorKind::Trap(msg)
                };
                let err = error(kind);
                tracing::warn!(plugin = %err.plugin, version = %err.version, channel = %err.channel, "plugin call stopped: {}", err.kind);
                // `warm` is dropped here: a trapped instance is never reused.
                Err(err)
            }
        }
    }

    fn checkout(&self, binding: &Arc<Binding>) -> Result<Warm, String> {
        if self.services.limits.instance_reuse {
            let mut pool = self.pool.lock().unwrap_or_else(|p| p.into_inner());
            // Instances of a version (or context) that was swapped out are dropped.
            pool.retain(|w| Arc::ptr_eq(&w.binding, binding));
            if let Some(warm) = pool.pop() {
                return Ok(warm);
            }
        }
        self.counters.instantiations.fetch_add(1, Ordering::Relaxed);
        let plugin = &binding.plugin;
        let state = PluginState::new(
            binding.ctx.clone(),
            plugin.labels(&self.id),
            self.services.clone(),
        );
        let mut store = new_store(&self.engine, state);
        let bindings = plugin
            .pre
            .instantiate(&mut store)
            .map_err(|e| format!("{e:#}"))?;
        Ok(Warm {
            binding: binding.clone(),
            store,
            bindings,
            calls: 0,
        })
    }

    fn checkin(&self, warm: Warm) {
        let limits = &self.services.limits;
        if !limits.instance_reuse || warm.calls >= limits.recycle_after {
            return;
        }
        if !Arc::ptr_eq(&warm.binding, &self.binding.load()) {
            return;
        }
        let mut pool = self.pool.lock().unwrap_or_else(|p| p.into_inner());
        if pool.len() < limits.pool_size {
            pool.push(warm);
        }
    }

    /// Call `health` on a fresh instance of a candidate version with this channel's
    /// configuration (its manifest was read with `describe` when it loaded): the gate a new
    /// version passes before it takes traffic.
    pub(super) fn health_check(&self, candidate: &Binding) -> Result<(), String> {
        let state = PluginState::new(
            candidate.ctx.clone(),
            candidate.plugin.labels(&self.id),
            self.services.clone(),
        );
        let mut store = new_store(&self.engine, state);
        let cpu = Duration::from_millis(candidate.ctx.cpu_ms);
        store.set_epoch_deadline(ticks(cpu));
        let bindings = candidate
            .plugin
            .pre
            .instantiate(&mut store)
            .map_err(|e| format!("cannot instantiate: {e:#}"))?;
        let result = bindings.inlet_channel_channel().call_health(&mut store);
        store.data_mut().drain_stderr();
        match result {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(m::ChannelError::from(e).to_string()),
            Err(trap) => Err(format!("trapped: {trap:#}")),
        }
    }
}
