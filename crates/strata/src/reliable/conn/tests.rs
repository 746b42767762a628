//! Connection tests, driven directly (no layer) over a tiny lossy link.
