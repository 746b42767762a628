//! The in-memory set-up of the bridge tests (`bridge.rs`,
//! `bridge_inline.rs`): a stack over one end of a tokio `DuplexStream`, on
//! one thread, with small buffers so that back-pressure shows quickly.

use std::sync::Arc;

use strata::StackConfig;

/// The pipe's own buffer, each way.
pub const PIPE: usize = 4 * 1024;

/// Lets every task of the (current-thread) runtime run until none has
/// anything left to do.
pub async fn settle() {
    for _ in 0..200 {
        tokio::task::yield_now().await;
    }
}

/// A stack with small high- and low-water marks (8 KiB, 2 KiB).
pub fn small_stack() -> Arc<StackConfig> {
    Arc::new(StackConfig {
        high_water: 8 * 1024,
        low_water: 2 * 1024,
        ..StackConfig::default()
    })
}
