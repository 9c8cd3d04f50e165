//! Startup: build the runtime from a [`Config`], install bundled plugins and those in the
//! plugins directory, create the configured channels, start the plugins-directory watcher and
//! the HTTP server.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};

use crate::config::Config;
use crate::events::{EventSink, MemorySink};
use crate::runtime::{PluginSource, Runtime, RuntimeOptions};
use crate::store::MemoryKv;

pub struct App {
    pub runtime: Arc<Runtime>,
    pub sink: Arc<dyn EventSink>,
    pub admin_token: String,
    pub public_base_url: String,
    pub max_webhook_bytes: usize,
}

/// A started server.
pub struct Running {
    pub app: Arc<App>,
    pub addr: SocketAddr,
    server: Option<tokio::task::JoinHandle<()>>,
    watcher: Option<tokio::task::JoinHandle<()>>,
}

impl Running {
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Wait for the server task (it runs until aborted).
    pub async fn wait(mut self) {
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(s) = &self.server {
            s.abort();
        }
        if let Some(w) = &self.watcher {
            w.abort();
        }
    }
}

pub async fn start(config: Config) -> Result<Running> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create data dir {}", config.data_dir.display()))?;
    let admin_token = match &config.admin_token {
        Some(t) => t.clone(),
        None => load_or_create_token(&config.data_dir.join("admin-token"))?,
    };
    let runtime = Runtime::new(
        RuntimeOptions {
            cache_dir: Some(config.cache_dir()),
            limits: config.limits.clone(),
        },
        Arc::new(MemoryKv::default()),
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
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    // Bound first: with port 0 the real port is only known now, and webhook URLs need it.
    let public_base_url = config
        .public_base_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    for spec in config.channels.clone() {
        let id = spec.id.clone();
        runtime
            .add_channel(spec, &public_base_url)
            .await
            .with_context(|| format!("channel `{id}` in the configuration"))?;
    }
    let app = Arc::new(App {
        runtime: runtime.clone(),
        sink: Arc::new(MemorySink::default()),
        admin_token,
        public_base_url,
        max_webhook_bytes: config.max_webhook_kb * 1024,
    });
    let server = tokio::spawn(crate::api::serve(app.clone(), listener));
    let scan_every = Duration::from_secs(config.plugins_scan_secs.max(1));
    let watcher = Some(tokio::spawn(async move {
        loop {
            tokio::time::sleep(scan_every).await;
            watcher.scan(&runtime).await;
        }
    }));
    tracing::info!(%addr, plugins_dir = %plugins_dir.display(), "inlet listening");
    Ok(Running {
        app,
        addr,
        server: Some(server),
        watcher,
    })
}

fn load_or_create_token(path: &Path) -> Result<String> {
    if let Ok(existing) = std::fs::read_to_string(path) {
        let t = existing.trim().to_string();
        if t.len() >= 16 {
            return Ok(t);
        }
    }
    let mut bytes = [0u8; 24];
    getrandom(&mut bytes)?;
    let token = hex::encode(bytes);
    std::fs::write(path, &token).with_context(|| format!("cannot write {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    }
    tracing::info!(path = %path.display(), "generated an admin API token");
    Ok(token)
}

fn getrandom(buf: &mut [u8]) -> Result<()> {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(buf))
        .context("cannot read /dev/urandom")
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
