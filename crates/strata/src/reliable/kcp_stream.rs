//! KCP mode as a stream layer (placeholder; being written).
