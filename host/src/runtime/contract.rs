//! Reading a plugin file before compiling it: is it a component at all, and which contract
//! version did the SDK stamp into it?
//!
//! The SDK writes the version into the custom section `inlet:contract-version` of the core
//! module inside the component. We read it with wasmparser (no compilation, no execution), so
//! malformed bytes and incompatible plugins are refused cheaply with a clear message.

use std::fmt;

/// The contract version this host implements.
/// 0.2.0: `rich-kind` and `rich-capabilities.fallback` (the seed's "F" cells).
pub const HOST_CONTRACT: Version = Version {
    major: 0,
    minor: 2,
    patch: 0,
};
pub const SECTION: &str = "inlet:contract-version";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl Version {
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.trim().split('.').map(|p| p.parse::<u32>().ok());
        let v = Self {
            major: parts.next()??,
            minor: parts.next()??,
            patch: parts.next()??,
        };
        parts.next().is_none().then_some(v)
    }

    /// Semver compatibility with the host: same major, and for 0.x the same minor; a plugin
    /// built for a newer minor than the host knows is refused.
    pub fn compatible_with(&self, host: &Version) -> bool {
        if self.major != host.major {
            return false;
        }
        if self.major == 0 {
            return self.minor == host.minor;
        }
        self.minor <= host.minor
    }
}

/// Check the bytes are a WebAssembly component stamped with a compatible contract version.
pub fn check(bytes: &[u8]) -> Result<Version, String> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err("not a WebAssembly file (missing the \\0asm header)".into());
    }
    if wasmparser::Parser::is_core_wasm(bytes) {
        return Err(
            "this is a core WebAssembly module, not a component: build the plugin for \
             wasm32-wasip2 (or wrap it with `wasm-tools component new`)"
                .into(),
        );
    }
    if !wasmparser::Parser::is_component(bytes) {
        return Err("unsupported WebAssembly binary version (expected a component)".into());
    }
    let mut found: Vec<String> = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|e| format!("malformed component: {e}"))?;
        if let wasmparser::Payload::CustomSection(reader) = payload {
            if reader.name() == SECTION {
                found.push(String::from_utf8_lossy(reader.data()).into_owned());
            }
        }
    }
    found.dedup();
    let text = match found.as_slice() {
        [one] => one,
        [] => {
            return Err(format!(
                "no `{SECTION}` section: the plugin was not built with inlet-sdk's export_channel!"
            ))
        }
        many => return Err(format!("conflicting contract versions stamped: {many:?}")),
    };
    let version = Version::parse(text)
        .ok_or_else(|| format!("unreadable contract version `{text}` in `{SECTION}`"))?;
    if !version.compatible_with(&HOST_CONTRACT) {
        return Err(format!(
            "plugin implements contract inlet:channel@{version}, this host implements \
             @{HOST_CONTRACT}: rebuild the plugin with a matching inlet-sdk"
        ));
    }
    Ok(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_follow_semver_rules_for_zero_major() {
        let host = Version::parse("0.1.0").expect("valid");
        assert!(Version::parse("0.1.7")
            .expect("valid")
            .compatible_with(&host));
        assert!(!Version::parse("0.2.0")
            .expect("valid")
            .compatible_with(&host));
        assert!(!Version::parse("1.1.0")
            .expect("valid")
            .compatible_with(&host));
        let one = Version::parse("1.3.0").expect("valid");
        assert!(Version::parse("1.2.9")
            .expect("valid")
            .compatible_with(&one));
        assert!(!Version::parse("1.4.0")
            .expect("valid")
            .compatible_with(&one));
        assert!(Version::parse("1.2").is_none());
        assert!(Version::parse("1.2.3.4").is_none());
    }

    #[test]
    fn garbage_and_core_modules_are_refused_with_a_reason() {
        assert!(check(b"hello world, not wasm")
            .unwrap_err()
            .contains("\\0asm"));
        // The smallest valid core module: magic + version 1.
        let core = b"\0asm\x01\0\0\0";
        assert!(check(core).unwrap_err().contains("core WebAssembly module"));
        // A component header followed by junk.
        let broken = b"\0asm\x0d\0\x01\0\xff\xff\xff";
        let err = check(broken).unwrap_err();
        assert!(err.contains("malformed"), "{err}");
    }
}
