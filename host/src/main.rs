//! `inlet`: the command line. `serve` runs the host; `plugin inspect|list|swap` work with
//! plugin files and a running server.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use clap::{Parser, Subcommand};
use inlet::config::Config;
use inlet::runtime::{PluginInfo, PluginSource, Runtime, RuntimeOptions};
use inlet::store::MemoryKv;

#[derive(Parser)]
#[command(
    name = "inlet",
    version,
    about = "Digital customer engagement: one inbox, every channel as a sandboxed plugin"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (embedded defaults when no config is given).
    Serve {
        /// TOML configuration; `INLET_*` environment variables override it.
        #[arg(long, env = "INLET_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Work with channel plugins.
    Plugin {
        #[command(subcommand)]
        command: PluginCommand,
    },
}

#[derive(Subcommand)]
enum PluginCommand {
    /// Show a plugin file's manifest, capabilities, config keys, egress needs and contract.
    Inspect {
        file: PathBuf,
        /// Print JSON instead of a summary.
        #[arg(long)]
        json: bool,
    },
    /// List the plugins `serve` would load: bundled ones and those in the plugins directory.
    List {
        #[arg(long, env = "INLET_CONFIG")]
        config: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Install or hot-swap a plugin on a running server through the admin API.
    Swap {
        file: PathBuf,
        /// Base URL of the running server.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        server: String,
        /// Admin token (default: read from `{data_dir}/admin-token`).
        #[arg(long, env = "INLET_ADMIN_TOKEN")]
        token: Option<String>,
        #[arg(long, env = "INLET_CONFIG")]
        config: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    init_tracing();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("INLET_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::env::var("INLET_LOG_FORMAT").is_ok_and(|v| v == "json") {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Serve { config } => {
            let mut settings = Config::load(config.as_deref()).map_err(anyhow::Error::msg)?;
            // Without a config file: the demo (bundled provider simulators, demo channels,
            // a simulated customer). `INLET_DEMO=0` turns it off.
            if config.is_none() && std::env::var("INLET_DEMO").map_or(true, |v| v != "0") {
                settings.demo = true;
            }
            let config = settings;
            let running = inlet::app::start(config.clone()).await?;
            println!("inlet listening on {}", running.base_url());
            println!(
                "admin API: {}/api/v1 (token in {})",
                running.base_url(),
                token_hint(&config)
            );
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {
                    tracing::info!("shutting down");
                }
                _ = running.wait() => {}
            }
            Ok(())
        }
        Command::Plugin { command } => plugin_command(command).await,
    }
}

fn token_hint(config: &Config) -> String {
    if config.admin_token.is_some() {
        "the configuration".into()
    } else {
        config.data_dir.join("admin-token").display().to_string()
    }
}

fn offline_runtime() -> Result<Arc<Runtime>> {
    Runtime::new(RuntimeOptions::default(), Arc::new(MemoryKv::default()))
}

async fn plugin_command(command: PluginCommand) -> Result<()> {
    match command {
        PluginCommand::Inspect { file, json } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let runtime = offline_runtime()?;
            let source = PluginSource::File(file.display().to_string());
            let info = tokio::task::spawn_blocking(move || {
                runtime.prepare(&bytes, source).map(|p| p.info())
            })
            .await?
            .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&info)?);
            } else {
                print_summary(&info);
            }
            Ok(())
        }
        PluginCommand::List { config, json } => {
            let config = Config::load(config.as_deref()).map_err(anyhow::Error::msg)?;
            let runtime = offline_runtime()?;
            let mut found: Vec<(String, Result<PluginInfo, String>)> = Vec::new();
            if config.bundled_plugins {
                for (name, bytes) in inlet::bundled::BUNDLED {
                    let r = runtime.clone();
                    let info = tokio::task::spawn_blocking(move || {
                        r.prepare(bytes, PluginSource::Bundled).map(|p| p.info())
                    })
                    .await?
                    .map_err(|e| e.to_string());
                    found.push((format!("bundled:{name}"), info));
                }
            }
            let dir = config.plugins_dir();
            if let Ok(entries) = std::fs::read_dir(&dir) {
                let mut paths: Vec<PathBuf> = entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
                    .collect();
                paths.sort();
                for path in paths {
                    let bytes = std::fs::read(&path)?;
                    let r = runtime.clone();
                    let source = PluginSource::File(path.display().to_string());
                    let info = tokio::task::spawn_blocking(move || {
                        r.prepare(&bytes, source).map(|p| p.info())
                    })
                    .await?
                    .map_err(|e| e.to_string());
                    found.push((path.display().to_string(), info));
                }
            }
            if json {
                let list: Vec<serde_json::Value> = found
                    .iter()
                    .map(|(src, r)| match r {
                        Ok(i) => serde_json::json!({"source": src, "plugin": i}),
                        Err(e) => serde_json::json!({"source": src, "error": e}),
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                println!(
                    "{:<28} {:<10} {:<9} {:<14} SOURCE",
                    "PLUGIN", "VERSION", "CONTRACT", "SHA256"
                );
                for (src, r) in &found {
                    match r {
                        Ok(i) => println!(
                            "{:<28} {:<10} {:<9} {:<14} {src}",
                            i.id,
                            i.version,
                            i.contract,
                            &i.sha256[..12]
                        ),
                        Err(e) => println!(
                            "{:<28} {:<10} {:<9} {:<14} {src}  ({e})",
                            "(invalid)", "-", "-", "-"
                        ),
                    }
                }
            }
            Ok(())
        }
        PluginCommand::Swap {
            file,
            server,
            token,
            config,
        } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let token = match token {
                Some(t) => t,
                None => {
                    let config = Config::load(config.as_deref()).map_err(anyhow::Error::msg)?;
                    let path = config.data_dir.join("admin-token");
                    std::fs::read_to_string(&path)
                        .with_context(|| {
                            format!("no --token given and cannot read {}", path.display())
                        })?
                        .trim()
                        .to_string()
                }
            };
            let (status, body) = post_plugin(&server, &token, bytes).await?;
            println!("{body}");
            if !(200..300).contains(&status) {
                anyhow::bail!("server answered HTTP {status}");
            }
            Ok(())
        }
    }
}

async fn post_plugin(server: &str, token: &str, bytes: Vec<u8>) -> Result<(u16, String)> {
    use http_body_util::{BodyExt, Full};
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<bytes::Bytes>>();
    let req = http::Request::post(format!("{}/api/v1/plugins", server.trim_end_matches('/')))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/wasm")
        .body(Full::new(bytes::Bytes::from(bytes)))?;
    let resp = client
        .request(req)
        .await
        .with_context(|| format!("cannot reach {server}"))?;
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await?.to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

fn print_summary(i: &PluginInfo) {
    let m = &i.manifest;
    let c = &m.capabilities;
    println!("{} ({}) version {}", m.name, m.id, m.version);
    println!("  contract      inlet:channel@{}", i.contract);
    println!("  sha256        {}", i.sha256);
    println!(
        "  kind          {:?}; ingress: webhook={} polling={}",
        m.kind, m.ingress.webhook, m.ingress.polling
    );
    println!("  handshakes    {:?}", m.handshakes);
    println!(
        "  regions       {}",
        if m.regions.is_empty() {
            "everywhere".to_string()
        } else {
            m.regions.join(", ")
        }
    );
    println!("  proactive     {:?}; window: {:?}", c.proactive, c.window);
    println!(
        "  egress needs  {}",
        if m.egress.is_empty() {
            "none".to_string()
        } else {
            m.egress.join(", ")
        }
    );
    println!("  config keys:");
    for k in &m.config {
        let flags = match (k.required, k.secret) {
            (true, true) => "required, secret",
            (true, false) => "required",
            (false, true) => "optional, secret",
            (false, false) => "optional",
        };
        let default = k
            .default_value
            .as_deref()
            .map(|d| format!(" [default {d}]"))
            .unwrap_or_default();
        println!("    {:<24} {flags}{default} — {}", k.name, k.description);
    }
    for (audience, r) in [("automation", &c.automation), ("agent", &c.agent)] {
        println!(
            "  {audience:<11} text≤{} formats {:?} rich-link={:?} quick-replies={:?} buttons={:?} list={:?} time-picker={:?} form={} card={:?} carousel={:?} attachments={}",
            r.max_text_length, r.formats, r.rich_link.map(|l| l.max_title_length), r.quick_replies.map(|q| q.max_options), r.buttons.map(|q| q.max_options),
            r.list_picker.map(|l| l.max_rows), r.time_picker.map(|t| t.max_slots), r.form, r.adaptive_card, r.carousel.map(|c| c.max_cards), r.attachments.len()
        );
    }
}
