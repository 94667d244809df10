//! Helpers for lockscan's end-to-end tests.
