//! The command line every demo shares.

use crate::support::run;

const DEMOS: [&str; 7] = [
    env!("CARGO_BIN_EXE_bank"),
    env!("CARGO_BIN_EXE_async_bank"),
    env!("CARGO_BIN_EXE_async_mutex"),
    env!("CARGO_BIN_EXE_philosophers"),
    env!("CARGO_BIN_EXE_counter"),
    env!("CARGO_BIN_EXE_pipeline"),
    env!("CARGO_BIN_EXE_reentrant"),
];

#[test]
fn a_missing_or_unknown_mode_is_a_usage_error() {
    for demo in DEMOS {
        for args in [&[][..], &["no-such-mode"][..]] {
            let run = run(demo, args);
            assert_eq!(run.status.code(), Some(2), "{run}");
            assert!(run.stderr.contains("usage: "), "{run}");
            assert!(run.stdout.is_empty(), "{run}");
        }
    }
}

#[test]
fn help_lists_the_modes() {
    let run = run(env!("CARGO_BIN_EXE_bank"), &["--help"]);
    run.assert_success();
    for mode in [
        "locked",
        "transfer",
        "ordered",
        "race",
        "--collide",
        "--trace PATH",
    ] {
        run.assert_says(mode);
    }
}

#[test]
fn the_trace_option_is_accepted() {
    let path = std::env::temp_dir().join("lockscan-demo-trace-option.jsonl");
    let path = path.to_str().expect("a UTF-8 temporary path");
    run(env!("CARGO_BIN_EXE_counter"), &["locked", "--trace", path])
        .assert_success()
        .assert_says("counter value: 80000");
    run(
        env!("CARGO_BIN_EXE_reentrant"),
        &[&format!("--trace={path}"), "recursive"],
    )
    .assert_success()
    .assert_clean();
}
