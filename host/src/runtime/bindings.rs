//! The generated bindings of the `inlet:channel` world. Private to `runtime`: everything
//! outside sees `crate::model` types, converted in `convert.rs`.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "plugin",
});

pub use exports::inlet::channel::channel as guest;
pub use inlet::channel::host as imports;
pub use inlet::channel::types as wit;
