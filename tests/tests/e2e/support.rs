//! Running the demo binaries and the `lockscan` command.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The folder with the workspace's binaries, built once per test run. They belong to other
/// packages, so Cargo does not build them for this one; `cargo test --workspace` has built them
/// already and this is a no-op then.
pub fn bin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let status = Command::new(env!("CARGO"))
            .args([
                "build",
                "--quiet",
                "-p",
                "lockscan-demos",
                "-p",
                "lockscan-cli",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo");
        assert!(status.success(), "building the demos and the CLI failed");
        // This test binary is target/<profile>/deps/e2e-HASH.
        let exe = std::env::current_exe().unwrap();
        exe.parent().and_then(Path::parent).unwrap().to_owned()
    })
}

/// Runs `command` to the end and returns its output, or kills it (and, on Unix, every process
/// it started) and fails the test after `limit`: a test that runs cargo must not hang.
pub fn output_within(command: &mut Command, limit: Duration) -> Output {
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // Its own process group, so that the group can be killed: cargo, the test binaries.
        command.process_group(0);
    }
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the command");
    // Read both pipes meanwhile: a child blocked on a full pipe would never end.
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let out = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stdout.read_to_end(&mut bytes);
        bytes
    });
    let err = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stderr.read_to_end(&mut bytes);
        bytes
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the command") {
            break status;
        }
        if Instant::now() > deadline {
            #[cfg(unix)]
            let _ = Command::new("kill")
                .args(["-KILL", &format!("-{}", child.id())])
                .status();
            let _ = child.kill();
            let _ = child.wait();
            panic!("{command:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Output {
        status,
        stdout: out.join().expect("stdout read"),
        stderr: err.join().expect("stderr read"),
    }
}

/// A fresh folder for one test's traces, removed when dropped.
pub fn scratch(test: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("lockscan-e2e-{test}-"))
        .tempdir()
        .expect("a scratch directory")
}

/// What a demo run printed, and the kinds of the findings it reported live.
pub struct DemoRun {
    pub stdout: String,
    pub live_kinds: Vec<String>,
}

/// Runs `demo args... --trace trace` and checks that it succeeded and wrote the trace.
pub fn run_demo(demo: &str, args: &[&str], trace: &Path) -> DemoRun {
    let output = Command::new(bin_dir().join(demo))
        .args(args)
        .arg("--trace")
        .arg(trace)
        .env_remove("LOCKSCAN_TRACE")
        .env_remove("LOCKSCAN_ON_FINDING")
        .output()
        .expect("run the demo");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{demo} {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(trace.exists(), "{demo} {args:?} wrote no trace:\n{stdout}");
    let mut live_kinds = kinds_in_text(&stdout);
    live_kinds.dedup();
    DemoRun { stdout, live_kinds }
}

/// The kinds of the rustc-style reports in `text`, sorted.
fn kinds_in_text(text: &str) -> Vec<String> {
    let mut kinds: Vec<String> = text
        .lines()
        .filter_map(|line| {
            let (severity, rest) = line.split_once('[')?;
            ["error", "warning", "note"]
                .contains(&severity)
                .then_some(())?;
            Some(rest.split_once("]: ")?.0.to_owned())
        })
        .collect();
    kinds.sort();
    kinds
}

/// What `lockscan analyze --format json` said.
pub struct Analysis {
    pub code: i32,
    pub json: Value,
}

impl Analysis {
    /// The distinct kinds found, sorted.
    pub fn kinds(&self) -> Vec<String> {
        let mut kinds: Vec<String> = self
            .findings()
            .map(|f| f["kind"].as_str().unwrap().to_owned())
            .collect();
        kinds.sort();
        kinds.dedup();
        kinds
    }

    pub fn findings(&self) -> impl Iterator<Item = &Value> {
        self.json["findings"].as_array().unwrap().iter()
    }

    /// Every lock name the findings of `kind` mention.
    pub fn locks_of(&self, kind: &str) -> Vec<String> {
        let mut locks: Vec<String> = self
            .findings()
            .filter(|f| f["kind"] == kind)
            .flat_map(|f| f["locks"].as_array().unwrap().iter())
            .map(|l| l.as_str().unwrap().to_owned())
            .collect();
        locks.sort();
        locks.dedup();
        locks
    }
}

/// Runs `lockscan analyze --format json EXTRA... PATHS...`.
pub fn analyze(paths: &[&Path], extra: &[&str]) -> Analysis {
    let output = Command::new(bin_dir().join("lockscan"))
        .arg("analyze")
        .args(["--format", "json"])
        .args(extra)
        .args(paths)
        .output()
        .expect("run lockscan");
    let code = output.status.code().expect("an exit code");
    let json = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}):\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    Analysis { code, json }
}

/// Says that a check was skipped, on the process's stderr itself: libtest captures what
/// `eprintln!` writes in a passing test, and a skip nobody sees looks like a pass.
pub fn skipped(reason: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "skipped: {reason}");
}

/// The strings of a JSON array, sorted.
pub fn sorted_strings(array: &Value) -> Vec<&str> {
    let mut strings: Vec<&str> = array
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    strings.sort_unstable();
    strings
}
