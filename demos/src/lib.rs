//! Shared helpers for the lockscan demo programs.
