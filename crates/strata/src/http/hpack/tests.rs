//! Decoder and encoder tests: RFC 7541 Appendix C, errors, limits.
