//! Operator configuration: `inlet.toml` plus `INLET_*` environment overrides, over embedded
//! defaults that run without any file (data in `./inlet-data`, listen on 127.0.0.1:8080,
//! bundled plugins). Unknown keys are errors, not silently ignored.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::runtime::Limits;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where state, the compile cache and the generated admin token live.
    pub data_dir: PathBuf,
    pub listen: String,
    /// The base URL providers reach this server at; each channel's webhook URL is
    /// `{public_base_url}/webhooks/{channel_id}` unless the channel sets `public_url`.
    pub public_base_url: Option<String>,
    /// `.wasm` files dropped here are installed, and hot-swapped when they change.
    /// Defaults to `{data_dir}/plugins`.
    pub plugins_dir: Option<PathBuf>,
    /// Seconds between scans of `plugins_dir`.
    pub plugins_scan_secs: u64,
    /// Load the plugins compiled into the binary.
    pub bundled_plugins: bool,
    /// Bearer token for `/api/v1`; generated into `{data_dir}/admin-token` when unset.
    pub admin_token: Option<String>,
    /// Largest webhook body accepted, KiB.
    pub max_webhook_kb: usize,
    pub limits: Limits,
    /// Per-tenant request rates (token buckets); `per_second = 0` means unlimited.
    pub tenant_limits: TenantLimits,
    /// A resolved case reopens when the customer writes again within this many hours.
    pub reopen_window_hours: u64,
    /// Start the bundled provider simulators with demo channels and a simulated customer
    /// (on by default when `inlet serve` runs without a config file).
    pub demo: bool,
    pub channels: Vec<ChannelEntry>,
}

/// Per-tenant rate limits, so one tenant's flood cannot starve another.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TenantLimits {
    /// Webhook requests per second across a tenant's channels.
    pub webhooks: crate::ratelimit::Rate,
    /// `/api/v1` requests per second across a tenant's tokens.
    pub api: crate::ratelimit::Rate,
}

impl Default for TenantLimits {
    fn default() -> Self {
        Self {
            webhooks: crate::ratelimit::Rate {
                per_second: 500.0,
                burst: 1000.0,
            },
            api: crate::ratelimit::Rate {
                per_second: 200.0,
                burst: 400.0,
            },
        }
    }
}

/// A `[[channels]]` entry: a channel of the `default` tenant (or of `tenant`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ChannelEntry {
    pub id: String,
    pub plugin: String,
    #[serde(default)]
    pub tenant: Option<String>,
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
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("inlet-data"),
            listen: "127.0.0.1:8080".into(),
            public_base_url: None,
            plugins_dir: None,
            plugins_scan_secs: 2,
            bundled_plugins: true,
            admin_token: None,
            max_webhook_kb: 1024,
            limits: Limits::default(),
            tenant_limits: TenantLimits::default(),
            reopen_window_hours: 168,
            demo: false,
            channels: Vec::new(),
        }
    }
}

impl Config {
    /// Read `path` (if given) and apply environment overrides.
    pub fn load(path: Option<&Path>) -> Result<Self, String> {
        let mut config = match path {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read config {}: {e}", path.display()))?;
                Self::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?
            }
            None => Self::default(),
        };
        config.apply_env(|k| std::env::var(k).ok())?;
        config.validate()?;
        Ok(config)
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// `INLET_DATA_DIR`, `INLET_LISTEN`, `INLET_PUBLIC_BASE_URL`, `INLET_PLUGINS_DIR`,
    /// `INLET_ADMIN_TOKEN`, `INLET_CPU_MS`, `INLET_MEMORY_MB`.
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<(), String> {
        if let Some(v) = get("INLET_DATA_DIR") {
            self.data_dir = v.into();
        }
        if let Some(v) = get("INLET_LISTEN") {
            self.listen = v;
        }
        if let Some(v) = get("INLET_PUBLIC_BASE_URL") {
            self.public_base_url = Some(v);
        }
        if let Some(v) = get("INLET_PLUGINS_DIR") {
            self.plugins_dir = Some(v.into());
        }
        if let Some(v) = get("INLET_ADMIN_TOKEN") {
            self.admin_token = Some(v);
        }
        if let Some(v) = get("INLET_CPU_MS") {
            self.limits.cpu_ms = v
                .parse()
                .map_err(|_| format!("INLET_CPU_MS=`{v}` is not a number of milliseconds"))?;
        }
        if let Some(v) = get("INLET_MEMORY_MB") {
            self.limits.memory_mb = v
                .parse()
                .map_err(|_| format!("INLET_MEMORY_MB=`{v}` is not a number of MiB"))?;
        }
        Ok(())
    }

    pub fn validate(&self) -> Result<(), String> {
        self.listen.parse::<std::net::SocketAddr>().map_err(|_| {
            format!(
                "listen = `{}` is not an address like 127.0.0.1:8080",
                self.listen
            )
        })?;
        self.limits.validate()?;
        self.tenant_limits
            .webhooks
            .validate("tenant_limits.webhooks")?;
        self.tenant_limits.api.validate("tenant_limits.api")?;
        if let Some(token) = &self.admin_token {
            if token.len() < 16 {
                return Err("admin_token must be at least 16 characters".into());
            }
        }
        let mut seen = std::collections::HashSet::new();
        for c in &self.channels {
            if !seen.insert(&c.id) {
                return Err(format!("channel `{}` is configured twice", c.id));
            }
        }
        Ok(())
    }

    pub fn public_base_url(&self) -> String {
        self.public_base_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
    }

    pub fn plugins_dir(&self) -> PathBuf {
        self.plugins_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("plugins"))
    }

    pub fn store_dir(&self) -> PathBuf {
        self.data_dir.join("store")
    }

    pub fn cache_dir(&self) -> PathBuf {
        self.data_dir.join("compiled")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_run_without_a_file() {
        let c = Config::default();
        assert!(c.validate().is_ok());
        assert_eq!(c.public_base_url(), "http://127.0.0.1:8080");
        assert_eq!(c.plugins_dir(), PathBuf::from("inlet-data/plugins"));
    }

    #[test]
    fn toml_with_channels_and_limits_parses() {
        let c = Config::parse(
            r#"
            listen = "127.0.0.1:9000"
            [limits]
            cpu_ms = 250
            [[channels]]
            id = "tg"
            plugin = "telegram"
            egress = ["https://api.telegram.org"]
            default_skill = "support"
            default_script = "welcome"
            config = { bot_token = "1:abc", webhook_secret = "s3cret" }
            "#,
        )
        .expect("valid");
        assert_eq!(c.limits.cpu_ms, 250);
        assert_eq!(c.limits.memory_mb, Limits::default().memory_mb);
        assert_eq!(c.channels[0].config["bot_token"], "1:abc");
    }

    #[test]
    fn unknown_keys_and_bad_values_are_clear_errors() {
        let err = Config::parse("lisen = \"x\"").unwrap_err();
        assert!(err.contains("lisen"), "{err}");
        let err = Config::parse("[limits]\ncpu = 5").unwrap_err();
        assert!(err.contains("cpu"), "{err}");
        let c = Config::parse("listen = \"nowhere\"").expect("parses");
        assert!(c.validate().unwrap_err().contains("nowhere"));
        let mut c = Config::default();
        let err = c
            .apply_env(|k| (k == "INLET_CPU_MS").then(|| "fast".to_string()))
            .unwrap_err();
        assert!(err.contains("INLET_CPU_MS"), "{err}");
    }

    #[test]
    fn environment_overrides_the_file() {
        let mut c = Config::default();
        c.apply_env(|k| match k {
            "INLET_LISTEN" => Some("127.0.0.1:9999".into()),
            "INLET_MEMORY_MB" => Some("16".into()),
            _ => None,
        })
        .expect("valid");
        assert_eq!(c.listen, "127.0.0.1:9999");
        assert_eq!(c.limits.memory_mb, 16);
    }
}
