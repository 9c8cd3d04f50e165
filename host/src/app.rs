//! Startup and the operations that span the runtime and the inbox: open the store, load
//! plugins and persisted channels, create/delete channels (validated by the plugin, stored by
//! the inbox), start delivery, the plugins-directory watcher and the HTTP server.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};

mod outbound;
pub use outbound::{ConversationInput, OutboundInput};

use crate::config::{ChannelEntry, Config};
use crate::delivery::Delivery;
use crate::inbox::{self, ChannelRecord, Inbox, InboxError, Settings, TenantStatus};
use crate::runtime::{ChannelConfigError, ChannelSpec, PluginSource, Runtime, RuntimeOptions};
use crate::store::{SledStore, Store, StoreKv};

/// The tenant that owns channels configured without one, and that the operator token acts
/// on when it names no tenant.
pub const DEFAULT_TENANT: &str = "default";

/// How often script timers and SLA deadlines are checked.
const AUTOMATION_TICK: Duration = Duration::from_millis(250);

pub struct App {
    pub runtime: Arc<Runtime>,
    pub inbox: Arc<Inbox>,
    pub delivery: Arc<Delivery>,
    /// Operator token: manages tenants and the plugin catalogue.
    pub operator_token: String,
    pub public_base_url: String,
    pub max_webhook_bytes: usize,
    /// Where plugin files live; uploaded versions under `versions/{owner}/{id}/`.
    pub plugins_dir: PathBuf,
    /// Per-tenant rate limits.
    pub webhook_limiter: crate::ratelimit::TenantLimiter,
    pub api_limiter: crate::ratelimit::TenantLimiter,
    /// Skill routing (queues, agents' load, SLA) and the script engine that feeds it.
    pub routing: Arc<crate::routing::Routing>,
    pub scripts: Arc<crate::scripts::Engine>,
}

/// What a tenant admin sends to create a channel.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelInput {
    pub id: String,
    pub plugin: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub config: std::collections::HashMap<String, String>,
    #[serde(default)]
    pub egress: Vec<String>,
    #[serde(default)]
    pub public_url: Option<String>,
    pub default_skill: String,
    pub default_script: String,
    /// Pin a plugin version (canary); absent follows the active version.
    #[serde(default)]
    pub plugin_version: Option<String>,
}

/// How a stored channel runs, under its tenant's plugin limits.
pub fn record_spec(r: &ChannelRecord, tenant: Option<&inbox::Tenant>) -> ChannelSpec {
    ChannelSpec {
        id: r.id.clone(),
        plugin: r.plugin.clone(),
        config: r.config.clone().into_iter().collect(),
        egress: r.egress.clone(),
        public_url: r.public_url.clone(),
        version: r.plugin_version.clone(),
        limits: tenant_limits(tenant),
    }
}

fn tenant_limits(tenant: Option<&inbox::Tenant>) -> Option<crate::runtime::ChannelLimits> {
    tenant
        .filter(|t| t.plugin_memory_mb.is_some() || t.plugin_cpu_ms.is_some())
        .map(|t| crate::runtime::ChannelLimits {
            memory_mb: t.plugin_memory_mb,
            cpu_ms: t.plugin_cpu_ms,
        })
}

/// What may change on a channel (absent fields stay as they are).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelPatch {
    pub name: Option<String>,
    pub config: Option<std::collections::HashMap<String, String>>,
    pub egress: Option<Vec<String>>,
    pub default_skill: Option<String>,
    pub default_script: Option<String>,
    pub enabled: Option<bool>,
    /// `"2.0.0"` pins that version, `null` unpins; absent leaves the pin as it is.
    #[serde(default, deserialize_with = "present")]
    pub plugin_version: Option<Option<String>>,
}

/// A field that is present (possibly `null`) deserialises to `Some(..)`; with
/// `#[serde(default)]` an absent one stays `None`. PATCH bodies use it to tell "clear" from
/// "leave as it is".
pub fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    serde::Deserialize::deserialize(d).map(Some)
}

impl From<ChannelEntry> for ChannelInput {
    fn from(e: ChannelEntry) -> Self {
        Self {
            id: e.id,
            plugin: e.plugin,
            name: e.name,
            config: e.config,
            egress: e.egress,
            public_url: e.public_url,
            default_skill: e.default_skill,
            default_script: e.default_script,
            plugin_version: None,
        }
    }
}

impl App {
    /// Validate `input` against the plugin (config keys, egress, region, health), start it,
    /// and persist it for `tenant`. On any error nothing is changed.
    pub async fn create_channel(
        &self,
        tenant: &str,
        input: ChannelInput,
    ) -> Result<ChannelRecord, InboxError> {
        if input.default_skill.trim().is_empty() || input.default_script.trim().is_empty() {
            return Err(InboxError::Invalid(
                "every channel needs a default_skill and a default_script".into(),
            ));
        }
        let owner = self
            .inbox
            .tenant(tenant)?
            .ok_or_else(|| InboxError::NotFound(format!("no tenant `{tenant}`")))?;
        let key = self
            .runtime
            .resolve_plugin(tenant, &input.plugin)
            .ok_or_else(|| {
                InboxError::NotFound(format!("plugin `{}` is not installed", input.plugin))
            })?;
        if let Some(plugin) = self.runtime.plugin(&key) {
            let regions = &plugin.manifest.regions;
            if !regions.is_empty()
                && !regions
                    .iter()
                    .any(|r| r.eq_ignore_ascii_case(&owner.region))
            {
                return Err(InboxError::Invalid(format!(
                    "plugin `{}` is offered only in {}; tenant `{tenant}` is in {}",
                    input.plugin,
                    regions.join(", "),
                    owner.region
                )));
            }
        }
        crate::scripts::check_channel_defaults(
            &self.inbox,
            tenant,
            &input.default_skill,
            &input.default_script,
        )?;
        if self.inbox.channel_owner(&input.id)?.is_some() {
            return Err(InboxError::Conflict(format!(
                "channel `{}` already exists",
                input.id
            )));
        }
        let spec = ChannelSpec {
            id: input.id.clone(),
            plugin: key.clone(),
            config: input.config.clone(),
            egress: input.egress.clone(),
            public_url: input.public_url.clone(),
            version: input.plugin_version.clone(),
            limits: tenant_limits(Some(&owner)),
        };
        self.runtime
            .add_channel(spec, &self.public_base_url)
            .await
            .map_err(|e| match e {
                ChannelConfigError::Exists(_) => InboxError::Conflict(e.to_string()),
                ChannelConfigError::UnknownPlugin(_) => InboxError::NotFound(e.to_string()),
                _ => InboxError::Invalid(e.to_string()),
            })?;
        let record = ChannelRecord {
            id: input.id.clone(),
            tenant: tenant.to_string(),
            name: input.name.unwrap_or_else(|| input.id.clone()),
            plugin: key,
            config: input.config.into_iter().collect(),
            egress: input.egress,
            default_skill: input.default_skill,
            default_script: input.default_script,
            plugin_version: input.plugin_version,
            enabled: true,
            public_url: input.public_url,
            created_ms: inbox::now_ms(),
        };
        let inbox = self.inbox.clone();
        let r = record.clone();
        let stored = tokio::task::spawn_blocking(move || inbox.put_channel(&r))
            .await
            .map_err(|e| InboxError::Invalid(e.to_string()))?;
        if let Err(e) = stored {
            self.runtime.remove_channel(&record.id);
            return Err(e);
        }
        Ok(record)
    }

    /// Change a channel. The new configuration is validated by the plugin (config keys,
    /// egress, health) before it replaces the running one; on any error the old one keeps
    /// running unchanged. `enabled = false` stops it: its webhooks answer 503 and store nothing.
    pub async fn update_channel(
        &self,
        tenant: &str,
        id: &str,
        patch: ChannelPatch,
    ) -> Result<ChannelRecord, InboxError> {
        let inbox = self.inbox.clone();
        let (t, i) = (tenant.to_string(), id.to_string());
        let old = tokio::task::spawn_blocking(move || inbox.channel(&t, &i))
            .await
            .map_err(|e| InboxError::Invalid(e.to_string()))??
            .ok_or_else(|| InboxError::NotFound(format!("unknown channel `{id}`")))?;
        let tenant_record = self.inbox.tenant(tenant)?;
        let mut new = old.clone();
        if let Some(config) = patch.config {
            // Secrets not re-sent (masked as ******** in reads) keep their stored value.
            new.config = config
                .into_iter()
                .filter_map(|(k, v)| {
                    if v == "********" {
                        old.config.get(&k).map(|o| (k, o.clone()))
                    } else {
                        Some((k, v))
                    }
                })
                .collect();
        }
        if let Some(e) = patch.egress {
            new.egress = e;
        }
        if let Some(n) = patch.name {
            new.name = n;
        }
        if let Some(s) = patch.default_skill {
            new.default_skill = s;
        }
        if let Some(s) = patch.default_script {
            new.default_script = s;
        }
        if let Some(e) = patch.enabled {
            new.enabled = e;
        }
        if let Some(v) = patch.plugin_version {
            new.plugin_version = v;
        }
        crate::scripts::check_channel_defaults(
            &self.inbox,
            tenant,
            &new.default_skill,
            &new.default_script,
        )?;
        let was_running = self.runtime.remove_channel(id);
        if new.enabled {
            if let Err(e) = self
                .runtime
                .add_channel(
                    record_spec(&new, tenant_record.as_ref()),
                    &self.public_base_url,
                )
                .await
            {
                if was_running {
                    let _ = self
                        .runtime
                        .add_channel(
                            record_spec(&old, tenant_record.as_ref()),
                            &self.public_base_url,
                        )
                        .await;
                }
                return Err(InboxError::Invalid(e.to_string()));
            }
        }
        let inbox = self.inbox.clone();
        let record = new.clone();
        let stored = tokio::task::spawn_blocking(move || inbox.put_channel(&record))
            .await
            .map_err(|e| InboxError::Invalid(e.to_string()))?;
        if let Err(e) = stored {
            self.runtime.remove_channel(id);
            if old.enabled {
                let _ = self
                    .runtime
                    .add_channel(
                        record_spec(&old, tenant_record.as_ref()),
                        &self.public_base_url,
                    )
                    .await;
            }
            return Err(e);
        }
        Ok(new)
    }

    pub async fn delete_channel(&self, tenant: &str, id: &str) -> Result<(), InboxError> {
        let inbox = self.inbox.clone();
        let (t, i) = (tenant.to_string(), id.to_string());
        tokio::task::spawn_blocking(move || inbox.delete_channel(&t, &i))
            .await
            .map_err(|e| InboxError::Invalid(e.to_string()))??;
        self.runtime.remove_channel(id);
        Ok(())
    }

    pub async fn delete_tenant(&self, tenant: &str) -> Result<(), InboxError> {
        let inbox = self.inbox.clone();
        let t = tenant.to_string();
        let channels = tokio::task::spawn_blocking(move || inbox.delete_tenant(&t))
            .await
            .map_err(|e| InboxError::Invalid(e.to_string()))??;
        for c in channels {
            self.runtime.remove_channel(&c);
        }
        self.runtime.remove_tenant_plugins(tenant);
        self.routing.forget(tenant);
        let _ = std::fs::remove_dir_all(self.plugins_dir.join("versions").join(tenant));
        Ok(())
    }

    /// Install a plugin version uploaded through the API: into the operator's catalogue
    /// (`owner = None`) or as a tenant's private (BYOC) plugin; `activate = false` stages it.
    /// The file is kept under `{plugins_dir}/versions/{owner}/{id}/{version}.wasm` (and the
    /// active version in `.../{id}/active`) so it loads again after a restart.
    pub async fn upload_plugin(
        &self,
        owner: Option<&str>,
        bytes: Vec<u8>,
        activate: bool,
    ) -> Result<crate::runtime::InstallReport, crate::runtime::LoadError> {
        let report = self
            .runtime
            .install_version(
                bytes.clone(),
                PluginSource::Upload,
                owner.map(str::to_string),
                activate,
            )
            .await?;
        let dir = versions_dir(&self.plugins_dir, owner, &report.id);
        let mut saved = std::fs::create_dir_all(&dir)
            .and_then(|_| std::fs::write(dir.join(format!("{}.wasm", report.version)), &bytes));
        if report.activated && saved.is_ok() {
            saved = std::fs::write(dir.join("active"), &report.version);
        }
        if let Err(e) = saved {
            tracing::error!(plugin = %report.id, version = %report.version, "plugin installed but not saved for restarts: {e}");
        }
        Ok(report)
    }

    /// Offer a catalogue plugin to chosen tenants only (`None` = all); saved for restarts.
    pub fn set_plugin_availability(
        &self,
        id: &str,
        tenants: Option<Vec<String>>,
    ) -> Result<(), InboxError> {
        for t in tenants.iter().flatten() {
            if self.inbox.tenant(t)?.is_none() {
                return Err(InboxError::NotFound(format!("no tenant `{t}`")));
            }
        }
        self.runtime
            .set_availability(id, tenants.clone())
            .map_err(InboxError::Invalid)?;
        let dir = versions_dir(&self.plugins_dir, None, id);
        let file = dir.join("available-to.json");
        let saved = match &tenants {
            Some(list) => std::fs::create_dir_all(&dir)
                .and_then(|_| std::fs::write(&file, serde_json::to_vec(list).unwrap_or_default())),
            None => std::fs::remove_file(&file).or_else(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    Ok(())
                } else {
                    Err(e)
                }
            }),
        };
        if let Err(e) = saved {
            tracing::error!(
                plugin = id,
                "availability set but not saved for restarts: {e}"
            );
        }
        Ok(())
    }

    /// Roll a loaded version out to every unpinned channel of the plugin (or roll back).
    pub async fn activate_plugin(
        &self,
        owner: Option<&str>,
        id: &str,
        version: &str,
    ) -> Result<crate::runtime::InstallReport, crate::runtime::LoadError> {
        let key = crate::runtime::scoped_key(owner, id);
        let report = self.runtime.activate(&key, version).await?;
        let dir = versions_dir(&self.plugins_dir, owner, id);
        if dir.exists() {
            let _ = std::fs::write(dir.join("active"), version);
        }
        Ok(report)
    }

    /// Set a tenant's plugin limits and restart its running channels under them.
    pub async fn set_tenant_limits(
        &self,
        tenant: &str,
        memory_mb: Option<u64>,
        cpu_ms: Option<u64>,
    ) -> Result<inbox::Tenant, InboxError> {
        crate::runtime::ChannelLimits { memory_mb, cpu_ms }
            .validate()
            .map_err(InboxError::Invalid)?;
        let updated = self.inbox.set_tenant_limits(tenant, memory_mb, cpu_ms)?;
        for record in self
            .inbox
            .channels(tenant)?
            .into_iter()
            .filter(|c| c.enabled)
        {
            self.runtime.remove_channel(&record.id);
            if let Err(e) = self
                .runtime
                .add_channel(record_spec(&record, Some(&updated)), &self.public_base_url)
                .await
            {
                tracing::error!(channel = %record.id, "channel cannot restart under the new limits: {e}");
            }
        }
        Ok(updated)
    }

    /// Whether a tenant accepts traffic.
    pub fn tenant_active(&self, tenant: &str) -> Result<bool, InboxError> {
        Ok(self
            .inbox
            .tenant(tenant)?
            .is_some_and(|t| t.status == TenantStatus::Active))
    }
}

/// A started server.
pub struct Running {
    pub app: Arc<App>,
    pub addr: SocketAddr,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// Keeps the demo's provider simulators alive.
    _demo: Option<crate::demo::Demo>,
}

impl Running {
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Wait until the server task ends (it runs until aborted).
    pub async fn wait(mut self) {
        if let Some(server) = self.tasks.first_mut() {
            let _ = server.await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

pub async fn start(mut config: Config) -> Result<Running> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create data dir {}", config.data_dir.display()))?;
    let operator_token = match &config.admin_token {
        Some(t) => t.clone(),
        None => load_or_create_token(&config.data_dir.join("admin-token"))?,
    };
    let store_dir = config.store_dir();
    let store: Arc<dyn Store> =
        Arc::new(tokio::task::spawn_blocking(move || SledStore::open(&store_dir)).await??);
    let inbox = Inbox::open(
        store.clone(),
        Settings {
            reopen_window_ms: config.reopen_window_hours * 3600 * 1000,
        },
    )?;
    if inbox.tenant(DEFAULT_TENANT)?.is_none() {
        inbox.create_tenant(DEFAULT_TENANT, "Default tenant", "EU")?;
    }
    let runtime = Runtime::new(
        RuntimeOptions {
            cache_dir: Some(config.cache_dir()),
            limits: config.limits.clone(),
        },
        Arc::new(StoreKv(store.clone())),
    )?;
    if config.bundled_plugins {
        for (name, bytes) in crate::bundled::BUNDLED {
            let report = runtime
                .install(bytes.to_vec(), PluginSource::Bundled)
                .await
                .with_context(|| format!("bundled plugin {name}"))?;
            tracing::info!(plugin = %report.id, version = %report.version, compile_ms = report.compile_ms, "bundled plugin loaded");
        }
    }
    let plugins_dir = config.plugins_dir();
    std::fs::create_dir_all(&plugins_dir)
        .with_context(|| format!("cannot create plugins dir {}", plugins_dir.display()))?;
    let mut watcher = DirWatcher::new(plugins_dir.clone());
    watcher.scan(&runtime).await;
    load_saved_versions(&runtime, &plugins_dir.join("versions")).await;

    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    // Bound first: with port 0 the real port is only known now, and webhook URLs need it.
    let public_base_url = config
        .public_base_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    let delivery = Delivery::new(inbox.clone(), runtime.clone());
    let kinds = runtime.clone();
    let routing = crate::routing::Routing::new(
        inbox.clone(),
        Arc::new(crate::clock::SystemClock),
        Arc::new(move |channel: &str| {
            kinds
                .channel(channel)
                .map(|c| crate::routing::work_kind(&c.plugin().manifest))
                .unwrap_or(inbox::WorkKind::Chat)
        }),
    );
    let wake = delivery.clone();
    let scripts = crate::scripts::Engine::new(
        inbox.clone(),
        routing.clone(),
        Box::new(move || wake.notify()),
    );
    let app = Arc::new(App {
        runtime: runtime.clone(),
        inbox: inbox.clone(),
        delivery: delivery.clone(),
        operator_token,
        public_base_url,
        max_webhook_bytes: config.max_webhook_kb * 1024,
        plugins_dir: plugins_dir.clone(),
        webhook_limiter: crate::ratelimit::TenantLimiter::new(config.tenant_limits.webhooks),
        api_limiter: crate::ratelimit::TenantLimiter::new(config.tenant_limits.api),
        routing,
        scripts: scripts.clone(),
    });

    // Channels stored by earlier runs come back first; the config file's channels are
    // created if they do not exist yet.
    for record in inbox.all_channels()?.into_iter().filter(|r| r.enabled) {
        if let Err(e) = runtime
            .add_channel(
                record_spec(&record, inbox.tenant(&record.tenant)?.as_ref()),
                &app.public_base_url,
            )
            .await
        {
            tracing::error!(channel = %record.id, tenant = %record.tenant, "stored channel cannot start: {e}");
        }
    }
    let demo = if config.demo {
        Some(crate::demo::Demo::start(&mut config).await?)
    } else {
        None
    };
    if demo.is_some() {
        // The simulators listen on new ports each run: demo channels are re-created so their
        // API base and egress grant follow. Their cases stay.
        for id in crate::demo::CHANNEL_IDS {
            if inbox.channel_owner(id)?.is_some() {
                app.delete_channel(DEFAULT_TENANT, id).await?;
            }
        }
    }
    for entry in config.channels.clone() {
        let tenant = entry
            .tenant
            .clone()
            .unwrap_or_else(|| DEFAULT_TENANT.into());
        if inbox.channel_owner(&entry.id)?.is_some() {
            continue;
        }
        let id = entry.id.clone();
        // Configured channels bring their own defaults: the skill, and a script that only
        // routes, are created if the tenant lacks them.
        crate::scripts::ensure_channel_defaults(
            &inbox,
            &tenant,
            &entry.default_skill,
            &entry.default_script,
        )
        .with_context(|| format!("defaults of channel `{id}` in the configuration"))?;
        app.create_channel(&tenant, entry.into())
            .await
            .with_context(|| format!("channel `{id}` in the configuration"))?;
    }

    let mut tasks = vec![tokio::spawn(crate::api::serve(app.clone(), listener))];
    tasks.push(tokio::spawn(delivery.run()));
    {
        let s = scripts.clone();
        tokio::task::spawn_blocking(move || s.rebuild()).await??;
    }
    tasks.push(scripts.start_driver(AUTOMATION_TICK));
    let scan_every = Duration::from_secs(config.plugins_scan_secs.max(1));
    tasks.push(tokio::spawn(async move {
        loop {
            tokio::time::sleep(scan_every).await;
            watcher.scan(&runtime).await;
        }
    }));
    if let Some(d) = &demo {
        tasks.push(d.customer_writes_in(app.clone()));
    }
    tracing::info!(%addr, plugins_dir = %plugins_dir.display(), "inlet listening");
    Ok(Running {
        app,
        addr,
        tasks,
        _demo: demo,
    })
}

/// Where uploaded versions of a plugin are kept.
fn versions_dir(plugins_dir: &Path, owner: Option<&str>, id: &str) -> PathBuf {
    plugins_dir
        .join("versions")
        .join(owner.unwrap_or(CATALOGUE_DIR))
        .join(id)
}

/// The operator catalogue's folder under `versions/` (tenant ids cannot start with `_`).
const CATALOGUE_DIR: &str = "_catalogue";

/// Versions uploaded by earlier runs: every one is loaded, then the recorded active one is
/// activated again.
async fn load_saved_versions(runtime: &Arc<Runtime>, dir: &Path) {
    let Ok(owners) = std::fs::read_dir(dir) else {
        return;
    };
    for owner_dir in owners.filter_map(|e| e.ok()) {
        let name = owner_dir.file_name().to_string_lossy().into_owned();
        let owner = (name != CATALOGUE_DIR).then_some(name);
        let Ok(plugins) = std::fs::read_dir(owner_dir.path()) else {
            continue;
        };
        for plugin_dir in plugins.filter_map(|e| e.ok()).map(|e| e.path()) {
            let Ok(files) = std::fs::read_dir(&plugin_dir) else {
                continue;
            };
            let mut files: Vec<PathBuf> = files
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
                .collect();
            files.sort();
            let mut key = None;
            for file in files {
                let Ok(bytes) = std::fs::read(&file) else {
                    continue;
                };
                let source = PluginSource::File(file.display().to_string());
                match runtime
                    .install_version(bytes, source, owner.clone(), false)
                    .await
                {
                    Ok(r) => key = Some(crate::runtime::scoped_key(owner.as_deref(), &r.id)),
                    Err(e) => tracing::error!(file = %file.display(), "saved plugin refused: {e}"),
                }
            }
            if owner.is_none() {
                let id = plugin_dir
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if let Some(list) = std::fs::read(plugin_dir.join("available-to.json"))
                    .ok()
                    .and_then(|b| serde_json::from_slice::<Vec<String>>(&b).ok())
                {
                    if let Err(e) = runtime.set_availability(&id, Some(list)) {
                        tracing::error!(plugin = %id, "saved availability not applied: {e}");
                    }
                }
            }
            let active = std::fs::read_to_string(plugin_dir.join("active")).ok();
            if let (Some(key), Some(version)) = (key, active) {
                if let Err(e) = runtime.activate(&key, version.trim()).await {
                    tracing::error!(plugin = %key, "cannot re-activate saved version: {e}");
                }
            }
        }
    }
}

fn load_or_create_token(path: &Path) -> Result<String> {
    if let Ok(existing) = std::fs::read_to_string(path) {
        let t = existing.trim().to_string();
        if t.len() >= 16 {
            return Ok(t);
        }
    }
    let mut bytes = [0u8; 24];
    inbox::random_bytes(&mut bytes).context("cannot read /dev/urandom")?;
    let token = hex::encode(bytes);
    std::fs::write(path, &token).with_context(|| format!("cannot write {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    }
    tracing::info!(path = %path.display(), "generated an operator API token");
    Ok(token)
}

/// Installs `.wasm` files dropped into the plugins directory and hot-swaps them when their
/// content changes. A file that fails to load is reported once per content and changes nothing.
struct DirWatcher {
    dir: PathBuf,
    seen: std::collections::HashMap<PathBuf, String>,
}

impl DirWatcher {
    fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            seen: Default::default(),
        }
    }

    async fn scan(&mut self, runtime: &Arc<Runtime>) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
            .collect();
        files.sort();
        for path in files {
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            let hash = crate::runtime::content_hash(&bytes);
            if self.seen.get(&path) == Some(&hash) {
                continue;
            }
            self.seen.insert(path.clone(), hash);
            let source = PluginSource::File(path.display().to_string());
            match runtime.install(bytes, source).await {
                Ok(r) if r.unchanged => {}
                Ok(r) => {
                    tracing::info!(file = %path.display(), plugin = %r.id, version = %r.version, replaced = ?r.replaced, "plugin file installed")
                }
                Err(e) => tracing::error!(file = %path.display(), "plugin file refused: {e}"),
            }
        }
    }
}
