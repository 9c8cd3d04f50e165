//! Inlet: the native host. Runs the plugin runtime (sandboxed WebAssembly channel plugins),
//! webhook ingress and the admin API.
//!
//! Module layering (arrows point down only):
//! `api` → `app` → (`delivery` → (`inbox`, `runtime`)) → (`model`, `store`);
//! `app` → `scripts` → `routing` → `inbox` (skill routing and automation, time from `clock`).
//! `runtime` knows nothing about cases; `inbox` knows nothing about wasmtime; generated WIT
//! bindings never leave `runtime`.

pub mod api;
pub mod app;
pub mod clock;
pub mod config;
pub mod content;
pub mod delivery;
pub mod demo;
pub mod inbox;
pub mod model;
pub mod policy;
pub mod ratelimit;
pub mod routing;
pub mod runtime;
pub mod scripts;
pub mod store;

/// Plugins compiled into the binary by `build.rs`.
pub mod bundled {
    include!(concat!(env!("OUT_DIR"), "/bundled.rs"));
}
