//! Harness for end-to-end tests: start a real Inlet server (bundled, compiled plugins) on a
//! loopback port with a temporary data dir, and talk to its HTTP API.

use std::collections::HashMap;

use anyhow::Result;
use http::Method;
use inlet::app::{ChannelInput, Running, DEFAULT_TENANT};
use inlet::config::Config;
use inlet::runtime::{ChannelSpec, Limits};
use serde_json::Value;

pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

pub struct Inlet {
    pub running: Running,
    _data: tempfile::TempDir,
}

impl Inlet {
    /// Start a server with the given channels and limits.
    pub async fn start(channels: Vec<ChannelSpec>, limits: Limits) -> Result<Self> {
        Self::start_with(channels, limits, |_| {}).await
    }

    /// Start a server, adjusting the configuration first.
    pub async fn start_with(
        channels: Vec<ChannelSpec>,
        limits: Limits,
        adjust: impl FnOnce(&mut Config),
    ) -> Result<Self> {
        let data = tempfile::tempdir()?;
        let config = Config {
            data_dir: data.path().to_path_buf(),
            listen: "127.0.0.1:0".into(),
            admin_token: Some(ADMIN_TOKEN.into()),
            limits,
            plugins_scan_secs: 1,
            channels: Vec::new(),
            ..Config::default()
        };
        let mut config = config;
        adjust(&mut config);
        let running = inlet::app::start(config).await?;
        let inlet = Self {
            running,
            _data: data,
        };
        inlet.provision(DEFAULT_TENANT)?;
        let running = &inlet.running;
        for spec in channels {
            let input = ChannelInput {
                id: spec.id,
                plugin: spec.plugin,
                name: None,
                config: spec.config,
                egress: spec.egress,
                public_url: spec.public_url,
                default_skill: "support".into(),
                default_script: "welcome".into(),
                plugin_version: None,
            };
            running.app.create_channel(DEFAULT_TENANT, input).await?;
        }
        Ok(inlet)
    }

    /// Give a tenant the skill `support` and the script `welcome` (which only routes), the
    /// defaults the tests' channels name.
    pub fn provision(&self, tenant: &str) -> Result<()> {
        inlet::scripts::ensure_channel_defaults(
            &self.running.app.inbox,
            tenant,
            "support",
            "welcome",
        )?;
        Ok(())
    }

    /// The plugins directory the server scans.
    pub fn plugins_dir(&self) -> std::path::PathBuf {
        self._data.path().join("plugins")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.running.base_url())
    }

    pub fn webhook(&self, channel: &str) -> String {
        self.url(&format!("/webhooks/{channel}"))
    }

    /// An API call with the operator token; returns status and parsed JSON body.
    pub async fn api(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value)> {
        self.api_as(ADMIN_TOKEN, method, path, body).await
    }

    /// An API call with `token`. A body that is not JSON comes back as a JSON string.
    pub async fn api_as(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value)> {
        let auth = format!("Bearer {token}");
        let mut headers = vec![("authorization", auth.as_str())];
        let bytes = match &body {
            Some(b) => {
                headers.push(("content-type", "application/json"));
                b.to_string().into_bytes()
            }
            None => Vec::new(),
        };
        let r = inlet_simulators::request(
            method,
            &self.url(&format!("/api/v1{path}")),
            &headers,
            bytes,
        )
        .await?;
        let json = serde_json::from_slice(&r.body).unwrap_or_else(|_| Value::String(r.text()));
        Ok((r.status, json))
    }

    /// The cases the operator sees (`GET /cases`).
    pub async fn cases(&self) -> Result<Vec<Value>> {
        let (status, body) = self.api(Method::GET, "/cases", None).await?;
        anyhow::ensure!(status == 200, "cases: HTTP {status}: {body}");
        Ok(body["cases"].as_array().cloned().unwrap_or_default())
    }

    /// A reply with the operator token (an API, that is automation, reply): status and body.
    pub async fn reply(&self, case: &str, content: Value) -> Result<(u16, Value)> {
        self.reply_as(ADMIN_TOKEN, case, content).await
    }

    /// A reply with `token` (an agent's token: a live agent's reply).
    pub async fn reply_as(&self, token: &str, case: &str, content: Value) -> Result<(u16, Value)> {
        self.api_as(
            token,
            Method::POST,
            &format!("/cases/{case}/replies"),
            Some(serde_json::json!({ "content": content })),
        )
        .await
    }

    /// Read the case view until `check` holds (delivery and automation run in the
    /// background); fails after 30 s naming `what` and showing the last view.
    pub async fn wait_for_case(
        &self,
        case: &str,
        what: &str,
        check: impl Fn(&Value) -> bool,
    ) -> Result<Value> {
        let started = std::time::Instant::now();
        loop {
            let (_, view) = self
                .api(Method::GET, &format!("/cases/{case}"), None)
                .await?;
            if check(&view) {
                return Ok(view);
            }
            anyhow::ensure!(
                started.elapsed() < std::time::Duration::from_secs(30),
                "timed out waiting for {what}: {view}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Events recorded for a channel.
    pub async fn events(&self, channel: &str) -> Result<Vec<Value>> {
        let (status, body) = self
            .api(Method::GET, &format!("/events?channel={channel}"), None)
            .await?;
        anyhow::ensure!(status == 200, "events: HTTP {status}: {body}");
        Ok(body.as_array().cloned().unwrap_or_default())
    }
}

/// A sandbox test plugin built by `host/build.rs` (`misbehave-v1.wasm`, ...).
pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/{name}", inlet::bundled::FIXTURE_DIR);
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

/// A channel spec from literal pairs.
pub fn channel(id: &str, plugin: &str, config: &[(&str, &str)], egress: &[&str]) -> ChannelSpec {
    ChannelSpec {
        id: id.into(),
        plugin: plugin.into(),
        config: config
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<HashMap<_, _>>(),
        egress: egress.iter().map(|e| e.to_string()).collect(),
        public_url: None,
        version: None,
        limits: None,
    }
}

/// A Telegram channel `id` pointed at `sim` (bot token from the simulator), verified with
/// `webhook_secret`.
pub fn telegram_channel(
    id: &str,
    sim: &inlet_simulators::TelegramSim,
    webhook_secret: &str,
) -> ChannelSpec {
    let base = sim.base_url();
    channel(
        id,
        "telegram",
        &[
            ("bot_token", sim.token()),
            ("webhook_secret", webhook_secret),
            ("api_base", &base),
        ],
        &[&base],
    )
}

/// A Twilio SMS channel `id` pointed at `sim`, sending from `from_number`.
pub fn twilio_channel(
    id: &str,
    sim: &inlet_simulators::TwilioSim,
    auth_token: &str,
    from_number: &str,
) -> ChannelSpec {
    let base = sim.base_url();
    channel(
        id,
        "twilio-sms",
        &[
            ("account_sid", sim.account_sid()),
            ("auth_token", auth_token),
            ("from_number", from_number),
            ("api_base", &base),
        ],
        &[&base],
    )
}

/// A Messenger channel `id` pointed at `sim` (Page token from the simulator), webhooks signed
/// with `app_secret` and verified with `verify_token`.
pub fn messenger_channel(
    id: &str,
    sim: &inlet_simulators::MessengerSim,
    app_secret: &str,
    verify_token: &str,
) -> ChannelSpec {
    let base = sim.base_url();
    channel(
        id,
        "messenger",
        &[
            ("access_token", sim.access_token()),
            ("app_secret", app_secret),
            ("verify_token", verify_token),
            ("page_id", sim.page_id()),
            ("api_base", &base),
        ],
        &[&base],
    )
}
