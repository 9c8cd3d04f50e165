//! Sandbox policy: per-call limits (memory, CPU time) and the egress allowlist.
//!
//! Egress is denied by default. A destination is reachable only when the plugin's manifest
//! declares it **and** the operator granted it for the channel; both are `scheme://host:port`
//! origins. Wildcards and "allow all" entries are refused with a clear message rather than
//! silently widening access. The check runs inside the only egress path a plugin has
//! (`http-fetch`); WASI sockets are not granted at all.

use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Limits applied to every plugin call.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Linear memory a plugin instance may grow to, in MiB.
    pub memory_mb: u64,
    /// Time one call may spend executing WebAssembly (host calls such as HTTP excluded), ms.
    pub cpu_ms: u64,
    /// Upper bound for one outbound HTTP request, ms.
    pub http_timeout_ms: u64,
    /// Largest outbound HTTP response body a plugin may read, KiB.
    pub http_max_response_kb: u64,
    /// Keep warm instances per channel (10x cheaper calls) instead of one per call.
    pub instance_reuse: bool,
    /// Recycle a warm instance after this many calls (bounds leaks inside a plugin).
    pub recycle_after: u32,
    /// Warm instances kept per channel.
    pub pool_size: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_mb: 64,
            cpu_ms: 1000,
            http_timeout_ms: 10_000,
            http_max_response_kb: 4096,
            instance_reuse: true,
            recycle_after: 1000,
            pool_size: 4,
        }
    }
}

impl Limits {
    pub fn memory_bytes(&self) -> usize {
        usize::try_from(self.memory_mb.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX)
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.memory_mb == 0 || self.memory_mb > 4096 {
            return Err(format!(
                "limits.memory_mb must be 1..=4096, got {}",
                self.memory_mb
            ));
        }
        if self.cpu_ms == 0 || self.cpu_ms > 60_000 {
            return Err(format!(
                "limits.cpu_ms must be 1..=60000, got {}",
                self.cpu_ms
            ));
        }
        if self.http_timeout_ms == 0 {
            return Err("limits.http_timeout_ms must be positive".into());
        }
        if self.pool_size == 0 {
            return Err("limits.pool_size must be at least 1".into());
        }
        Ok(())
    }
}

/// `scheme://host:port`, lower-cased, with the default port filled in.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Origin {
    pub scheme: String,
    pub host: String,
    pub port: u16,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
    }
}

impl Origin {
    /// Parse an allowlist entry or a request URL (path and query are ignored for URLs).
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text == "*" || text.contains('*') {
            return Err(format!(
                "`{text}`: wildcards are not allowed; name each destination as scheme://host:port"
            ));
        }
        let uri: http::Uri = text
            .parse()
            .map_err(|e| format!("`{text}` is not a URL: {e}"))?;
        let scheme = uri
            .scheme_str()
            .ok_or_else(|| format!("`{text}` has no scheme (expected http:// or https://)"))?
            .to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            other => {
                return Err(format!(
                    "`{text}`: scheme `{other}` is not allowed (http or https)"
                ))
            }
        };
        let host = uri
            .host()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| format!("`{text}` has no host"))?
            .to_ascii_lowercase();
        if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
            return Err(format!("`{text}`: credentials in URLs are not allowed"));
        }
        Ok(Self {
            scheme,
            host,
            port: uri.port_u16().unwrap_or(default_port),
        })
    }
}

/// What one channel's plugin may reach.
#[derive(Debug, Clone, Default)]
pub struct EgressPolicy {
    allowed: Vec<Origin>,
    /// Declared but not granted: reported in denials so operators see what is missing.
    missing_grants: Vec<Origin>,
}

impl EgressPolicy {
    /// Intersect the manifest's declared destinations (with `{config_key}` references resolved
    /// against `config`) with the operator's grants.
    pub fn new(
        declared: &[String],
        config: &HashMap<String, String>,
        granted: &[String],
    ) -> Result<Self, String> {
        let granted: Vec<Origin> = granted
            .iter()
            .map(|g| Origin::parse(g).map_err(|e| format!("egress grant {e}")))
            .collect::<Result<_, _>>()?;
        let mut policy = Self::default();
        for entry in declared {
            let resolved = resolve_placeholders(entry, config)?;
            let origin =
                Origin::parse(&resolved).map_err(|e| format!("plugin egress declaration {e}"))?;
            if granted.contains(&origin) {
                policy.allowed.push(origin);
            } else {
                policy.missing_grants.push(origin);
            }
        }
        Ok(policy)
    }

    /// Is `url` reachable? `Err` says why not.
    pub fn check(&self, url: &str) -> Result<Origin, String> {
        let origin = Origin::parse(url)?;
        if self.allowed.contains(&origin) {
            return Ok(origin);
        }
        if self.missing_grants.contains(&origin) {
            Err(format!(
                "{origin} is declared by the plugin but not granted by the operator"
            ))
        } else {
            Err(format!("{origin} is not declared in the plugin's manifest"))
        }
    }

    pub fn allowed(&self) -> &[Origin] {
        &self.allowed
    }

    pub fn missing_grants(&self) -> &[Origin] {
        &self.missing_grants
    }
}

/// Replace `{key}` with the channel's config value.
fn resolve_placeholders(entry: &str, config: &HashMap<String, String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = entry;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("egress entry `{entry}` has an unclosed `{{`"))?;
        let key = &after[..end];
        let value = config
            .get(key)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("egress entry `{entry}` needs config key `{key}`"))?;
        out.push_str(value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Memory limiter for one store: refuses growth past the cap and remembers that it did, so the
/// resulting trap is reported as "memory limit" rather than a generic trap.
pub struct Limiter {
    max_memory: usize,
    pub memory_exceeded: bool,
}

impl Limiter {
    pub fn new(max_memory: usize) -> Self {
        Self {
            max_memory,
            memory_exceeded: false,
        }
    }
}

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_memory {
            self.memory_exceeded = true;
            return Err(wasmtime::format_err!(
                "memory limit exceeded: wanted {desired} bytes, cap {}",
                self.max_memory
            ));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// CPU budget of the current call: wall time minus time spent waiting in host calls.
pub struct Budget {
    pub started: Instant,
    pub in_host: Duration,
    pub cpu: Duration,
    pub exceeded: bool,
}

impl Budget {
    pub fn new(cpu: Duration) -> Self {
        Self {
            started: Instant::now(),
            in_host: Duration::ZERO,
            cpu,
            exceeded: false,
        }
    }

    /// Time spent running WebAssembly so far.
    pub fn used(&self) -> Duration {
        self.started.elapsed().saturating_sub(self.in_host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn origins_normalise_scheme_host_and_default_port() {
        let o = Origin::parse("HTTPS://API.Telegram.org/bot123/sendMessage?x=1").expect("valid");
        assert_eq!(o.to_string(), "https://api.telegram.org:443");
        assert_eq!(
            Origin::parse("http://127.0.0.1:9000").expect("valid").port,
            9000
        );
    }

    #[test]
    fn wildcards_credentials_and_odd_schemes_are_refused() {
        assert!(Origin::parse("*").unwrap_err().contains("wildcards"));
        assert!(Origin::parse("https://*.example.com")
            .unwrap_err()
            .contains("wildcards"));
        assert!(Origin::parse("ftp://example.com")
            .unwrap_err()
            .contains("scheme"));
        assert!(Origin::parse("https://user:pw@example.com")
            .unwrap_err()
            .contains("credentials"));
        assert!(Origin::parse("example.com").is_err());
    }

    #[test]
    fn a_destination_needs_both_declaration_and_grant() {
        let declared = vec![
            "{api_base}".to_string(),
            "https://files.example.com".to_string(),
        ];
        let config = cfg(&[("api_base", "http://127.0.0.1:9000")]);
        let policy = EgressPolicy::new(&declared, &config, &["http://127.0.0.1:9000".into()])
            .expect("valid policy");
        assert!(policy.check("http://127.0.0.1:9000/bot1/getMe").is_ok());
        let not_granted = policy.check("https://files.example.com/x").unwrap_err();
        assert!(not_granted.contains("not granted"), "{not_granted}");
        let not_declared = policy.check("http://127.0.0.1:9001/").unwrap_err();
        assert!(not_declared.contains("not declared"), "{not_declared}");
        let other_scheme = policy.check("https://127.0.0.1:9000/").unwrap_err();
        assert!(other_scheme.contains("not declared"), "{other_scheme}");
    }

    #[test]
    fn granting_without_declaration_gives_nothing() {
        let policy = EgressPolicy::new(&[], &cfg(&[]), &["https://evil.example".into()])
            .expect("valid policy");
        assert!(policy.allowed().is_empty());
        assert!(policy.check("https://evil.example/").is_err());
    }

    #[test]
    fn unresolvable_placeholders_and_bad_grants_are_config_errors() {
        let err = EgressPolicy::new(&["{api_base}".into()], &cfg(&[]), &[]).unwrap_err();
        assert!(err.contains("api_base"), "{err}");
        let err = EgressPolicy::new(&[], &cfg(&[]), &["*".into()]).unwrap_err();
        assert!(err.contains("wildcards"), "{err}");
    }
}
