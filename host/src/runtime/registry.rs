//! The plugin registry and hot swap.
//!
//! A [`PluginSlot`] holds the current version of one plugin behind an `ArcSwap`. Installing a
//! version of a plugin that is already loaded is a hot swap:
//!
//! 1. check, compile and link the new bytes on the blocking pool (off the hot path);
//! 2. health-check it (`describe` + `health`) against **every** channel that uses the plugin,
//!    with that channel's configuration;
//! 3. only then store it in the slot atomically. Calls in flight hold their own `Arc` and
//!    finish on the old version; new calls take the new one.
//!
//! If any step fails the slot is untouched and the old version keeps serving.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use serde::{Deserialize, Serialize};

use super::channel::{Binding, ChannelHandle};
use super::plugin::{LoadError, LoadedPlugin, PluginInfo, PluginSource};
use super::sandbox::EgressPolicy;
use super::state::ChannelContext;
use super::Runtime;

pub struct PluginSlot {
    /// The version unpinned channels run.
    current: ArcSwap<LoadedPlugin>,
    /// Every loaded version, by version string (staged, current, older for roll-back).
    versions: Mutex<BTreeMap<String, Arc<LoadedPlugin>>>,
    /// `None`: the operator's catalogue, visible to every tenant. `Some(tenant)`: a tenant's
    /// private (BYOC) plugin, visible to that tenant only.
    owner: Option<String>,
    /// For catalogue plugins: the tenants that may create channels with it (`None` = all).
    available_to: RwLock<Option<Vec<String>>>,
}

/// The registry key of a plugin: its id, or `{tenant}/{id}` for a tenant's private plugin.
pub fn scoped_key(owner: Option<&str>, id: &str) -> String {
    match owner {
        Some(t) => format!("{t}/{id}"),
        None => id.to_string(),
    }
}

impl PluginSlot {
    pub fn current(&self) -> Arc<LoadedPlugin> {
        self.current.load_full()
    }

    fn version(&self, version: &str) -> Option<Arc<LoadedPlugin>> {
        let versions = self.versions.lock().unwrap_or_else(|p| p.into_inner());
        versions.get(version).cloned()
    }

    fn add_version(&self, plugin: Arc<LoadedPlugin>) {
        let mut versions = self.versions.lock().unwrap_or_else(|p| p.into_inner());
        versions.insert(plugin.manifest.version.clone(), plugin);
    }

    /// May `tenant` use this plugin?
    fn visible_to(&self, tenant: &str) -> bool {
        match &self.owner {
            Some(owner) => owner == tenant,
            None => self
                .available_to
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .as_ref()
                .is_none_or(|list| list.iter().any(|t| t == tenant)),
        }
    }

    fn version_list(&self) -> Vec<String> {
        let versions = self.versions.lock().unwrap_or_else(|p| p.into_inner());
        versions.keys().cloned().collect()
    }
}

/// How an install went.
#[derive(Debug, Clone, Serialize)]
pub struct InstallReport {
    pub id: String,
    pub version: String,
    /// The version it replaced, for a hot swap.
    pub replaced: Option<String>,
    pub channels_checked: Vec<String>,
    pub compile_ms: f64,
    pub health_ms: f64,
    /// Time to publish the new version once it was ready.
    pub swap_us: f64,
    pub unchanged: bool,
    /// False when the version was only staged (`activate = false`).
    pub activated: bool,
}

/// A channel as the operator configures it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ChannelSpec {
    pub id: String,
    pub plugin: String,
    #[serde(default)]
    pub config: HashMap<String, String>,
    /// Operator grants, `scheme://host:port`.
    #[serde(default)]
    pub egress: Vec<String>,
    /// The URL providers call for this channel; defaults to `{public_base_url}/webhooks/{id}`.
    #[serde(default)]
    pub public_url: Option<String>,
    /// Pin a plugin version; `None` follows the plugin's active version.
    #[serde(default)]
    pub version: Option<String>,
    /// Overrides of the runtime's memory cap and CPU budget (a tenant's limits).
    #[serde(default)]
    pub limits: Option<ChannelLimits>,
}

/// Per-channel overrides of [`Limits`](super::Limits); absent fields keep the runtime's.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ChannelLimits {
    pub memory_mb: Option<u64>,
    pub cpu_ms: Option<u64>,
}

impl ChannelLimits {
    pub fn validate(&self) -> Result<(), String> {
        if self.memory_mb.is_some_and(|m| m == 0 || m > 4096) {
            return Err("plugin memory_mb must be 1..=4096".into());
        }
        if self.cpu_ms.is_some_and(|c| c == 0 || c > 60_000) {
            return Err("plugin cpu_ms must be 1..=60000".into());
        }
        Ok(())
    }
}

/// A channel configuration the plugin cannot accept. Nothing is changed.
#[derive(Debug, thiserror::Error)]
pub enum ChannelConfigError {
    #[error("channel id `{0}` must be 1-64 characters of a-z, 0-9, `-` or `_`")]
    BadId(String),
    #[error("channel `{0}` already exists")]
    Exists(String),
    #[error("plugin `{0}` is not installed")]
    UnknownPlugin(String),
    #[error("channel `{channel}`: {reason}")]
    Invalid { channel: String, reason: String },
}

impl Runtime {
    /// Install a plugin version, or hot-swap it in if the plugin is loaded already.
    pub async fn install(
        self: &Arc<Self>,
        bytes: Vec<u8>,
        source: PluginSource,
    ) -> Result<InstallReport, LoadError> {
        self.install_version(bytes, source, None, true).await
    }

    /// Install a version. With `activate = false` it is only loaded (staged): channels can pin
    /// it (canary), and [`Runtime::activate`] rolls it out to the rest later.
    pub async fn install_version(
        self: &Arc<Self>,
        bytes: Vec<u8>,
        source: PluginSource,
        owner: Option<String>,
        activate: bool,
    ) -> Result<InstallReport, LoadError> {
        let _one_at_a_time = self.swap_lock.lock().await;
        let this = self.clone();
        let started = Instant::now();
        let candidate = tokio::task::spawn_blocking(move || this.prepare(&bytes, source))
            .await
            .map_err(|e| LoadError::Compile(format!("compile task failed: {e}")))??;
        let compile_ms = ms(started.elapsed());
        let candidate = Arc::new(candidate);
        let id = scoped_key(owner.as_deref(), &candidate.manifest.id);
        let Some(slot) = self.slot(&id) else {
            let slot = Arc::new(PluginSlot {
                current: ArcSwap::new(candidate.clone()),
                versions: Mutex::new(
                    [(candidate.manifest.version.clone(), candidate.clone())].into(),
                ),
                owner: owner.clone(),
                available_to: RwLock::new(None),
            });
            let mut plugins = self.plugins.write().unwrap_or_else(|p| p.into_inner());
            plugins.insert(id.clone(), slot);
            let report = self.report(&candidate, None, Vec::new(), compile_ms, 0.0, 0.0, false);
            tracing::info!(plugin = %id, version = %report.version, compile_ms, "plugin installed");
            return Ok(report);
        };
        if slot.current().hash == candidate.hash {
            return Ok(self.report(&candidate, None, Vec::new(), compile_ms, 0.0, 0.0, true));
        }
        if !activate {
            slot.add_version(candidate.clone());
            let mut report = self.report(&candidate, None, Vec::new(), compile_ms, 0.0, 0.0, false);
            report.activated = false;
            tracing::info!(plugin = %id, version = %report.version, "plugin version staged (not active)");
            return Ok(report);
        }
        let (replaced, checked, health_ms, swap_us) =
            self.publish(&id, &slot, candidate.clone()).await?;
        slot.add_version(candidate.clone());
        let report = self.report(
            &candidate, replaced, checked, compile_ms, health_ms, swap_us, false,
        );
        tracing::info!(plugin = %report.id, version = %report.version, replaced = ?report.replaced, compile_ms, health_ms, swap_us, "plugin installed");
        Ok(report)
    }

    /// Make a loaded version the one unpinned channels run: roll out a staged version, or
    /// roll back to an earlier one. Health-checked per channel like any swap.
    pub async fn activate(
        self: &Arc<Self>,
        key: &str,
        version: &str,
    ) -> Result<InstallReport, LoadError> {
        let _one_at_a_time = self.swap_lock.lock().await;
        let slot = self
            .slot(key)
            .ok_or_else(|| LoadError::Invalid(format!("no plugin `{key}`")))?;
        let candidate = slot.version(version).ok_or_else(|| {
            LoadError::Invalid(format!(
                "plugin `{key}` has no loaded version {version} (loaded: {})",
                slot.version_list().join(", ")
            ))
        })?;
        let (replaced, checked, health_ms, swap_us) =
            self.publish(key, &slot, candidate.clone()).await?;
        Ok(self.report(
            &candidate, replaced, checked, 0.0, health_ms, swap_us, false,
        ))
    }

    /// Health-check `candidate` against every unpinned channel of the plugin, then swap it in
    /// atomically and rebind those channels.
    async fn publish(
        &self,
        key: &str,
        slot: &Arc<PluginSlot>,
        candidate: Arc<LoadedPlugin>,
    ) -> Result<(Option<String>, Vec<String>, f64, f64), LoadError> {
        let health_started = Instant::now();
        let users: Vec<Arc<ChannelHandle>> = self
            .channels()
            .into_iter()
            .filter(|c| c.spec.plugin == key && c.spec.version.is_none())
            .collect();
        let mut rebinds = Vec::new();
        for channel in &users {
            let check = {
                let channel = channel.clone();
                let candidate = candidate.clone();
                let kv = self.kv.clone();
                let defaults = self.services.limits.clone();
                tokio::task::spawn_blocking(move || {
                    // The new version's manifest may declare other defaults or egress.
                    let ctx = build_context(
                        &candidate.manifest,
                        &channel.spec,
                        &channel.public_base_url,
                        kv,
                        &defaults,
                    )?;
                    let binding = Binding {
                        plugin: candidate,
                        ctx: Arc::new(ctx),
                    };
                    channel.health_check(&binding).map(|_| binding)
                })
                .await
                .unwrap_or_else(|e| Err(format!("health task failed: {e}")))
            };
            match check {
                Ok(binding) => rebinds.push((channel.clone(), binding)),
                Err(reason) => {
                    tracing::warn!(plugin = %key, version = %candidate.manifest.version, channel = %channel.id, "refusing plugin version: {reason}");
                    return Err(LoadError::Health {
                        channel: channel.id.clone(),
                        reason,
                    });
                }
            }
        }
        let health_ms = ms(health_started.elapsed());
        let swap_started = Instant::now();
        let old = slot.current.swap(candidate);
        for (channel, binding) in rebinds {
            channel.rebind(binding);
        }
        let swap_us = swap_started.elapsed().as_secs_f64() * 1e6;
        let checked = users.iter().map(|c| c.id.clone()).collect();
        Ok((
            Some(old.manifest.version.clone()),
            checked,
            health_ms,
            swap_us,
        ))
    }

    #[allow(clippy::too_many_arguments)]
    fn report(
        &self,
        p: &LoadedPlugin,
        replaced: Option<String>,
        channels_checked: Vec<String>,
        compile_ms: f64,
        health_ms: f64,
        swap_us: f64,
        unchanged: bool,
    ) -> InstallReport {
        InstallReport {
            id: p.manifest.id.clone(),
            version: p.manifest.version.clone(),
            replaced,
            channels_checked,
            compile_ms,
            health_ms,
            swap_us,
            unchanged,
            activated: true,
        }
    }

    /// Check, compile, link and describe without installing (`plugin inspect`). Blocking.
    pub fn prepare(&self, bytes: &[u8], source: PluginSource) -> Result<LoadedPlugin, LoadError> {
        LoadedPlugin::load(&self.engine, &self.linker, &self.services, bytes, source)
    }

    fn slot(&self, id: &str) -> Option<Arc<PluginSlot>> {
        let plugins = self.plugins.read().unwrap_or_else(|p| p.into_inner());
        plugins.get(id).cloned()
    }

    /// The current version of every installed plugin (operator view).
    pub fn plugins(&self) -> Vec<PluginInfo> {
        let plugins = self.plugins.read().unwrap_or_else(|p| p.into_inner());
        plugins.iter().map(|(k, s)| slot_info(k, s)).collect()
    }

    /// What `tenant` can use: the operator's catalogue and its own private plugins.
    pub fn plugins_for(&self, tenant: &str) -> Vec<PluginInfo> {
        let plugins = self.plugins.read().unwrap_or_else(|p| p.into_inner());
        plugins
            .iter()
            .filter(|(_, s)| s.visible_to(tenant))
            .map(|(k, s)| slot_info(k, s))
            .collect()
    }

    /// A plugin by registry key.
    pub fn plugin(&self, key: &str) -> Option<PluginInfo> {
        self.slot(key).map(|s| slot_info(key, &s))
    }

    /// The registry key `name` means for `tenant`: its own private plugin of that id first,
    /// then the operator's. Other tenants' private plugins are never found.
    pub fn resolve_plugin(&self, tenant: &str, name: &str) -> Option<String> {
        if name.contains('/') {
            // Already a key: only the owner may use a private one.
            return name
                .split_once('/')
                .filter(|(owner, _)| *owner == tenant)
                .and_then(|_| self.slot(name).map(|_| name.to_string()));
        }
        let private = scoped_key(Some(tenant), name);
        if self.slot(&private).is_some() {
            return Some(private);
        }
        self.slot(name)
            .filter(|s| s.owner.is_none() && s.visible_to(tenant))
            .map(|_| name.to_string())
    }

    /// Offer a catalogue plugin to chosen tenants only (`None` = every tenant). Channels that
    /// exist keep running; new channels follow the list.
    pub fn set_availability(&self, key: &str, tenants: Option<Vec<String>>) -> Result<(), String> {
        let slot = self.slot(key).ok_or_else(|| format!("no plugin `{key}`"))?;
        if slot.owner.is_some() {
            return Err("a tenant's private plugin is only ever available to that tenant".into());
        }
        *slot.available_to.write().unwrap_or_else(|p| p.into_inner()) = tenants;
        Ok(())
    }

    /// Remove every private plugin of `tenant`; returns how many.
    pub fn remove_tenant_plugins(&self, tenant: &str) -> usize {
        let mut plugins = self.plugins.write().unwrap_or_else(|p| p.into_inner());
        let before = plugins.len();
        plugins.retain(|_, s| s.owner.as_deref() != Some(tenant));
        before - plugins.len()
    }

    /// Create a channel, validating its configuration against the plugin's manifest.
    pub async fn add_channel(
        self: &Arc<Self>,
        spec: ChannelSpec,
        public_base_url: &str,
    ) -> Result<Arc<ChannelHandle>, ChannelConfigError> {
        if !crate::model::is_valid_id(&spec.id) {
            return Err(ChannelConfigError::BadId(spec.id));
        }
        if self.channel(&spec.id).is_some() {
            return Err(ChannelConfigError::Exists(spec.id));
        }
        let slot = self
            .slot(&spec.plugin)
            .ok_or_else(|| ChannelConfigError::UnknownPlugin(spec.plugin.clone()))?;
        let plugin = match &spec.version {
            Some(v) => slot.version(v).ok_or_else(|| ChannelConfigError::Invalid {
                channel: spec.id.clone(),
                reason: format!(
                    "plugin `{}` has no loaded version {v} (loaded: {})",
                    spec.plugin,
                    slot.version_list().join(", ")
                ),
            })?,
            None => slot.current(),
        };
        let ctx = build_context(
            &plugin.manifest,
            &spec,
            public_base_url,
            self.kv.clone(),
            &self.services.limits,
        )
        .map_err(|reason| ChannelConfigError::Invalid {
            channel: spec.id.clone(),
            reason,
        })?;
        let id = spec.id.clone();
        let handle = Arc::new(ChannelHandle::new(
            spec,
            public_base_url.to_string(),
            Binding {
                plugin,
                ctx: Arc::new(ctx),
            },
            self.engine.clone(),
            self.services.clone(),
        ));
        handle
            .health()
            .await
            .map_err(|e| ChannelConfigError::Invalid {
                channel: id.clone(),
                reason: format!("health check failed: {e}"),
            })?;
        let mut channels = self.channels.write().unwrap_or_else(|p| p.into_inner());
        if channels.contains_key(&id) {
            return Err(ChannelConfigError::Exists(id));
        }
        channels.insert(id, handle.clone());
        Ok(handle)
    }

    pub fn remove_channel(&self, id: &str) -> bool {
        let mut channels = self.channels.write().unwrap_or_else(|p| p.into_inner());
        channels.remove(id).is_some()
    }

    pub fn channel(&self, id: &str) -> Option<Arc<ChannelHandle>> {
        let channels = self.channels.read().unwrap_or_else(|p| p.into_inner());
        channels.get(id).cloned()
    }

    pub fn channels(&self) -> Vec<Arc<ChannelHandle>> {
        let channels = self.channels.read().unwrap_or_else(|p| p.into_inner());
        channels.values().cloned().collect()
    }
}

/// The channel's context for one plugin version: config keys checked against the manifest,
/// defaults filled in, `inlet.*` keys added, egress = declared ∩ granted.
fn build_context(
    manifest: &crate::model::Manifest,
    spec: &ChannelSpec,
    public_base_url: &str,
    kv: Arc<dyn crate::store::KvStore>,
    defaults: &super::Limits,
) -> Result<ChannelContext, String> {
    let limits = spec.limits.unwrap_or_default();
    limits.validate()?;
    let declared: Vec<&str> = manifest.config.iter().map(|k| k.name.as_str()).collect();
    for key in spec.config.keys() {
        if !declared.contains(&key.as_str()) {
            return Err(format!(
                "unknown config key `{key}`; plugin `{}` declares: {}",
                manifest.id,
                declared.join(", ")
            ));
        }
    }
    let mut config: HashMap<String, String> = manifest
        .config
        .iter()
        .filter_map(|k| Some((k.name.clone(), k.default_value.clone()?)))
        .collect();
    config.extend(spec.config.clone());
    check_config(manifest, &config)?;
    let public_url = spec.public_url.clone().unwrap_or_else(|| {
        format!(
            "{}/webhooks/{}",
            public_base_url.trim_end_matches('/'),
            spec.id
        )
    });
    config.insert("inlet.public_url".into(), public_url);
    config.insert("inlet.channel_id".into(), spec.id.clone());
    let egress = EgressPolicy::new(&manifest.egress, &config, &spec.egress)?;
    if !egress.missing_grants().is_empty() {
        let missing: Vec<String> = egress
            .missing_grants()
            .iter()
            .map(|o| o.to_string())
            .collect();
        tracing::warn!(channel = %spec.id, plugin = %manifest.id, "plugin declares egress the operator has not granted: {}", missing.join(", "));
    }
    Ok(ChannelContext {
        channel_id: spec.id.clone(),
        config,
        egress,
        kv,
        memory_mb: limits.memory_mb.unwrap_or(defaults.memory_mb),
        cpu_ms: limits.cpu_ms.unwrap_or(defaults.cpu_ms),
    })
}

/// Every required key without a default has a non-empty value.
fn check_config(
    manifest: &crate::model::Manifest,
    config: &HashMap<String, String>,
) -> Result<(), String> {
    let missing: Vec<&str> = manifest
        .config
        .iter()
        .filter(|k| k.required && config.get(&k.name).is_none_or(|v| v.is_empty()))
        .map(|k| k.name.as_str())
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "missing required config for plugin `{}`: {}",
            manifest.id,
            missing.join(", ")
        ))
    }
}

fn slot_info(key: &str, slot: &PluginSlot) -> PluginInfo {
    let mut info = slot.current().info();
    info.key = key.to_string();
    info.owner = slot.owner.clone();
    info.versions = slot.version_list();
    info.available_to = slot
        .available_to
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    info
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub(super) type PluginMap = RwLock<BTreeMap<String, Arc<PluginSlot>>>;
pub(super) type ChannelMap = RwLock<BTreeMap<String, Arc<ChannelHandle>>>;
