//! Decides once whether the locks are instrumented, so the sources test one cfg.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(lockscan_active)");
    println!("cargo::rustc-check-cfg=cfg(lockscan_unoptimized)");
    println!("cargo::rustc-check-cfg=cfg(lockscan_std_threads)");
    println!("cargo::rerun-if-changed=build.rs");
    let detect = std::env::var_os("CARGO_FEATURE_DETECT").is_some();
    let in_release = std::env::var_os("CARGO_FEATURE_DETECT_IN_RELEASE").is_some();
    // Cargo sets this for build scripts exactly when the crate is compiled with debug assertions.
    let debug_assertions = std::env::var_os("CARGO_CFG_DEBUG_ASSERTIONS").is_some();
    let active = detect && (debug_assertions || in_release);
    if active {
        println!("cargo::rustc-cfg=lockscan_active");
    }
    // Where std's own thread spawns and joins are seen (runtime/std_threads.rs): dynamically
    // linked glibc targets, where the binary's `pthread_create` can stand in front of the C
    // library's and reach it through `dlsym(RTLD_NEXT)`. A static binary has no `RTLD_NEXT`,
    // and its libc.a defines the same symbols.
    let target = |key: &str| std::env::var(key).unwrap_or_default();
    let crt_static = target("CARGO_CFG_TARGET_FEATURE")
        .split(',')
        .any(|feature| feature == "crt-static");
    if active
        && target("CARGO_CFG_TARGET_OS") == "linux"
        && target("CARGO_CFG_TARGET_ENV") == "gnu"
        && !crt_static
    {
        println!("cargo::rustc-cfg=lockscan_std_threads");
    }
    // The opt-level lockscan itself is compiled at (a `[profile.dev.package.lockscan]`
    // override included): unoptimized, recording costs several times more, which a recording
    // process says once.
    if std::env::var("OPT_LEVEL").is_ok_and(|level| level == "0") {
        println!("cargo::rustc-cfg=lockscan_unoptimized");
    }
}
