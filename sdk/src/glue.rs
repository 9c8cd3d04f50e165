//! The component's exports: forwards every call to the plugin registered with
//! [`export_channel!`](crate::export_channel). Only compiled for WebAssembly targets, so the
//! SDK's helpers can be unit-tested natively.

#[cfg(target_arch = "wasm32")]
mod exports {
    use crate::wit::exports::inlet::channel::channel::Guest;
    use crate::{
        Channel, ChannelError, HttpRequest, Manifest, ModerationRequest, OutboundMessage, Polled,
        Received, Sent,
    };

    extern "Rust" {
        /// Defined by `export_channel!` in the plugin crate.
        fn __inlet_channel_instance() -> &'static dyn Channel;
    }

    fn plugin() -> &'static dyn Channel {
        // SAFETY: `export_channel!` defines this symbol with exactly this signature; a plugin
        // that forgets the macro fails to link rather than reaching this call.
        unsafe { __inlet_channel_instance() }
    }

    struct Component;

    impl Guest for Component {
        fn describe() -> Manifest {
            plugin().describe()
        }
        fn health() -> Result<(), ChannelError> {
            plugin().health()
        }
        fn receive(request: HttpRequest) -> Result<Received, ChannelError> {
            plugin().receive(request)
        }
        fn poll(cursor: Option<String>) -> Result<Polled, ChannelError> {
            plugin().poll(cursor)
        }
        fn send(message: OutboundMessage) -> Result<Sent, ChannelError> {
            plugin().send(message)
        }
        fn act(request: ModerationRequest) -> Result<(), ChannelError> {
            plugin().act(request)
        }
    }

    crate::wit::export!(Component with_types_in crate::wit);
}
