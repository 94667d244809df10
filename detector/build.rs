//! Decides once whether the locks are instrumented, so the sources test one cfg.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(lockscan_active)");
    println!("cargo::rustc-check-cfg=cfg(lockscan_unoptimized)");
    println!("cargo::rerun-if-changed=build.rs");
    let detect = std::env::var_os("CARGO_FEATURE_DETECT").is_some();
    let in_release = std::env::var_os("CARGO_FEATURE_DETECT_IN_RELEASE").is_some();
    // Cargo sets this for build scripts exactly when the crate is compiled with debug assertions.
    let debug_assertions = std::env::var_os("CARGO_CFG_DEBUG_ASSERTIONS").is_some();
    if detect && (debug_assertions || in_release) {
        println!("cargo::rustc-cfg=lockscan_active");
    }
    // The opt-level lockscan itself is compiled at (a `[profile.dev.package.lockscan]`
    // override included): unoptimized, recording costs several times more, which a recording
    // process says once.
    if std::env::var("OPT_LEVEL").is_ok_and(|level| level == "0") {
        println!("cargo::rustc-cfg=lockscan_unoptimized");
    }
}
