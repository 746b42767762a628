//! Endpoint strings: URL-shaped descriptions of a stack.
