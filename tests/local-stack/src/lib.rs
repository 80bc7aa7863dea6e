//! Local stack harness.
