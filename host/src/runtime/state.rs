//! What one plugin instance sees of the host: its channel's context, WASI with nothing granted
//! (no files, env, args or sockets), and the `inlet:channel/host` imports. Every log line and
//! every egress attempt is tagged with plugin, version and channel.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::{imports, wit};
use super::egress::{FetchError, HttpClient};
use super::sandbox::{Budget, EgressPolicy, Limiter, Limits};
use crate::store::KvStore;

/// Largest value a plugin may store under one key.
const KV_VALUE_MAX: usize = 64 * 1024;
/// Longest log line kept from a plugin.
const LOG_LINE_MAX: usize = 4096;
/// Guest stderr captured per instance (panic messages); instances are recycled long before.
const STDERR_CAPACITY: usize = 1024 * 1024;

/// Everything about one configured channel that its plugin calls need.
pub struct ChannelContext {
    pub channel_id: String,
    /// Effective configuration: manifest defaults, then the channel's values, then `inlet.*`.
    pub config: HashMap<String, String>,
    pub egress: EgressPolicy,
    pub kv: Arc<dyn KvStore>,
    /// This channel's memory cap (MiB) and CPU budget per call (ms): the runtime's limits,
    /// or its tenant's where the operator set them.
    pub memory_mb: u64,
    pub cpu_ms: u64,
}

/// Services shared by all instances.
pub struct HostServices {
    pub http: HttpClient,
    pub tokio: tokio::runtime::Handle,
    pub limits: Limits,
}

/// Names carried into logs and errors.
#[derive(Debug, Clone)]
pub struct Labels {
    pub plugin: String,
    pub version: String,
    pub channel: String,
}

pub struct PluginState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub ctx: Arc<ChannelContext>,
    pub labels: Labels,
    pub limiter: Limiter,
    pub budget: Budget,
    services: Arc<HostServices>,
    stderr: MemoryOutputPipe,
    stderr_seen: usize,
}

impl PluginState {
    pub fn new(ctx: Arc<ChannelContext>, labels: Labels, services: Arc<HostServices>) -> Self {
        let stderr = MemoryOutputPipe::new(STDERR_CAPACITY);
        let mut builder = wasmtime_wasi::WasiCtxBuilder::new();
        builder
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        let memory =
            usize::try_from(ctx.memory_mb.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX);
        let cpu = Duration::from_millis(ctx.cpu_ms);
        Self {
            wasi: builder.build(),
            table: ResourceTable::new(),
            ctx,
            labels,
            limiter: Limiter::new(memory),
            budget: Budget::new(cpu),
            stderr,
            stderr_seen: 0,
            services,
        }
    }

    /// Forward what the guest wrote to stderr since the last call into `tracing`, and return
    /// it (a panic message, usually; at most 1 KiB) for error reports.
    pub fn drain_stderr(&mut self) -> Option<String> {
        let contents = self.stderr.contents();
        if contents.len() <= self.stderr_seen {
            return None;
        }
        let new = String::from_utf8_lossy(&contents[self.stderr_seen..]).into_owned();
        self.stderr_seen = contents.len();
        let l = &self.labels;
        let mut lines = Vec::new();
        for line in new.lines().filter(|l| !l.trim().is_empty()) {
            let line = truncate(line, LOG_LINE_MAX);
            tracing::warn!(target: "inlet::plugin", plugin = %l.plugin, version = %l.version, channel = %l.channel, stream = "stderr", "{line}");
            lines.push(line);
        }
        Some(truncate(&lines.join(" | "), 1024).to_string())
    }
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl wit::Host for PluginState {}

impl imports::Host for PluginState {
    fn log(&mut self, level: imports::LogLevel, message: String) {
        let l = &self.labels;
        let m = truncate(&message, LOG_LINE_MAX);
        use imports::LogLevel as L;
        match level {
            L::Trace => {
                tracing::trace!(target: "inlet::plugin", plugin = %l.plugin, version = %l.version, channel = %l.channel, "{m}")
            }
            L::Debug => {
                tracing::debug!(target: "inlet::plugin", plugin = %l.plugin, version = %l.version, channel = %l.channel, "{m}")
            }
            L::Info => {
                tracing::info!(target: "inlet::plugin", plugin = %l.plugin, version = %l.version, channel = %l.channel, "{m}")
            }
            L::Warn => {
                tracing::warn!(target: "inlet::plugin", plugin = %l.plugin, version = %l.version, channel = %l.channel, "{m}")
            }
            L::Error => {
                tracing::error!(target: "inlet::plugin", plugin = %l.plugin, version = %l.version, channel = %l.channel, "{m}")
            }
        }
    }

    fn config_get(&mut self, key: String) -> Option<String> {
        self.ctx.config.get(&key).cloned()
    }

    fn kv_get(&mut self, key: String) -> Option<Vec<u8>> {
        self.ctx.kv.get(&self.ctx.channel_id, &key)
    }

    fn kv_set(&mut self, key: String, value: Vec<u8>) {
        if value.len() > KV_VALUE_MAX || key.len() > 512 {
            let l = &self.labels;
            tracing::warn!(plugin = %l.plugin, version = %l.version, channel = %l.channel, key = %truncate(&key, 64), bytes = value.len(), "kv-set refused: key over 512 bytes or value over 64 KiB");
            return;
        }
        self.ctx.kv.set(&self.ctx.channel_id, &key, &value)
    }

    fn kv_delete(&mut self, key: String) {
        self.ctx.kv.delete(&self.ctx.channel_id, &key)
    }

    fn http_fetch(
        &mut self,
        request: imports::OutgoingRequest,
    ) -> Result<wit::HttpResponse, imports::HttpError> {
        let started = Instant::now();
        let url = request.url.clone();
        let services = self.services.clone();
        let ctx = self.ctx.clone();
        let result = services.tokio.block_on(services.http.fetch(
            &ctx.egress,
            request.into(),
            &services.limits,
        ));
        // Waiting for the network is not CPU time: keep it out of the deadline.
        self.budget.in_host += started.elapsed();
        let l = &self.labels;
        // Log the origin only: paths may carry tokens (Telegram puts the bot token there).
        let origin = super::sandbox::Origin::parse(&url)
            .map(|o| o.to_string())
            .unwrap_or_else(|_| "<invalid url>".into());
        match &result {
            Ok(r) => {
                tracing::debug!(plugin = %l.plugin, version = %l.version, channel = %l.channel, %origin, status = r.status, ms = started.elapsed().as_millis() as u64, "plugin egress")
            }
            Err(FetchError::Denied(why)) => {
                tracing::warn!(plugin = %l.plugin, version = %l.version, channel = %l.channel, %origin, "plugin egress denied: {why}")
            }
            Err(e) => {
                tracing::info!(plugin = %l.plugin, version = %l.version, channel = %l.channel, %origin, error = ?e, "plugin egress failed")
            }
        }
        result.map(Into::into).map_err(|e| match e {
            FetchError::Denied(why) => imports::HttpError::Denied(why),
            FetchError::InvalidRequest(why) => imports::HttpError::InvalidRequest(why),
            FetchError::Timeout => imports::HttpError::Timeout,
            FetchError::Connection(why) => imports::HttpError::Connection(why),
            FetchError::TooLarge => imports::HttpError::TooLarge,
        })
    }

    fn now_ms(&mut self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }
}
