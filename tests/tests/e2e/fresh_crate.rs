//! The README's "Using lockscan in your tests" example, copied literally into a new crate outside
//! this workspace, depending on lockscan by path as the README says: it must build, and its test
//! must fail with the report the README shows.

use std::path::Path;
use std::process::Command;

use crate::support::scratch;

/// The README's code blocks that follow a `<!-- fresh-crate: PATH -->` marker, as (PATH, text).
fn readme_files(readme: &str) -> Vec<(String, String)> {
    let mut files = Vec::new();
    let mut lines = readme.lines();
    while let Some(line) = lines.next() {
        let Some(path) = line
            .strip_prefix("<!-- fresh-crate: ")
            .and_then(|rest| rest.strip_suffix(" -->"))
        else {
            continue;
        };
        let fence = lines.next().expect("a code block after the marker");
        assert!(fence.starts_with("```"), "a code block after {line}");
        let body: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
        files.push((path.to_owned(), body.join("\n") + "\n"));
    }
    files
}

#[test]
fn the_readme_example_builds_in_a_new_crate_and_fails_as_shown() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let readme = std::fs::read_to_string(workspace.join("README.md")).unwrap();
    let files = readme_files(&readme);
    let names: Vec<&str> = files.iter().map(|(path, _)| path.as_str()).collect();
    assert_eq!(
        names,
        ["Cargo.toml", "src/lib.rs"],
        "the README's marked blocks"
    );

    let dir_tmp = scratch("fresh-crate");

    let dir = dir_tmp.path();
    let detector = workspace.join("detector");
    for (path, text) in &files {
        let text = if path == "Cargo.toml" {
            // The README points at "a clone of this repository"; here it is this one.
            let dependencies = text.replace(
                "../lockscan/detector",
                &detector.display().to_string().replace('\\', "/"),
            );
            assert_ne!(&dependencies, text, "the README's path was substituted");
            format!(
                "[package]\nname = \"fresh-bank\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
                 {dependencies}\n[workspace]\n"
            )
        } else {
            text.clone()
        };
        let file = dir.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
    }
    // The workspace's lock file pins the versions it was tested with, and needs no network.
    std::fs::copy(workspace.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();

    // `cargo test` in the new crate, as its author would run it.
    let cargo_test = || {
        let mut command = Command::new(env!("CARGO"));
        command
            .args(["test", "--offline", "--quiet"])
            .current_dir(dir)
            // Kept between runs, so only the first run builds lockscan's dependencies.
            .env(
                "CARGO_TARGET_DIR",
                workspace.join("target").join("fresh-crate"),
            )
            .env_remove("LOCKSCAN_ON_FINDING")
            .env_remove("RUSTFLAGS");
        command
    };
    let output = cargo_test()
        .output()
        .expect("run cargo test in the new crate");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        !output.status.success(),
        "the example's test must fail:\n{text}"
    );
    assert!(
        !text.contains("error[E"),
        "the example must compile:\n{text}"
    );
    assert!(text.contains("transfers_both_ways"), "{text}");
    assert!(
        text.contains("error[lock-order-inversion]: lock-order inversion between"),
        "{text}"
    );
    // Both acquisition sites are the `lock()` lines of `transfer`, and the two accounts, made on
    // one line, are told apart.
    for needle in ["let mut source", "let mut target"] {
        let line = 1 + files[1].1.lines().position(|l| l.contains(needle)).unwrap();
        assert!(
            text.contains(&format!("src/lib.rs:{line}:")),
            "line {line}:\n{text}"
        );
    }
    assert!(text.contains(" #1` -> `"), "{text}");
    assert!(text.contains(" #2` -> `"), "{text}");
    // The panic is located at the acquisition that closes the cycle, the second transfer's
    // `target`, as the README says; the report starts the panic's message.
    let closing = 1 + files[1]
        .1
        .lines()
        .position(|l| l.contains("let mut target"))
        .unwrap();
    let panicked = format!("panicked at src/lib.rs:{closing}:");
    assert!(text.contains(&panicked), "{text}");
    let shown = readme
        .split_once("libtest's `panicked at src/lib.rs:")
        .and_then(|(_, rest)| rest.split_once('`'))
        .map(|(site, _)| format!("panicked at src/lib.rs:{site}"))
        .expect("the README quotes the panic's location");
    assert!(text.contains(&shown), "the README's {shown:?}:\n{text}");
    let after = text.split_once(&panicked).unwrap().1;
    assert!(
        after
            .lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("error[lock-order-inversion]: ")),
        "{text}"
    );

    // Recording from this crate's unoptimized lockscan says how to make it fast, once.
    let traces = dir.join("traces");
    let output = cargo_test()
        .env("LOCKSCAN_TRACE", format!("{}/", traces.display()))
        .output()
        .expect("run cargo test in the new crate, recording");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr
            .matches("recording with an unoptimized build of lockscan")
            .count(),
        1,
        "{stderr}"
    );
    assert!(
        stderr.contains("[profile.dev.package.lockscan] opt-level = 3"),
        "{stderr}"
    );
}
