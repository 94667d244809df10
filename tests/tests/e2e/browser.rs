//! The HTML report looked at as a person would: headless Chromium opens the report of the
//! `bank transfer` demo, and the test checks what it rendered, both in the DOM after the
//! page's script ran and in a screenshot.
//!
//! Skipped, with a message, where Chromium is not installed, unless `LOCKSCAN_REQUIRE_CHROMIUM=1`
//! (set by `.ci/run`), which makes a missing browser a failure.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::{bin_dir, run_demo, scratch};

/// Where Debian's `chromium` package puts the browser; `LOCKSCAN_CHROMIUM` names another.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("LOCKSCAN_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    if path.exists() {
        return Some(path);
    }
    let required = std::env::var_os("LOCKSCAN_REQUIRE_CHROMIUM").is_some_and(|v| v == "1");
    assert!(
        !required,
        "LOCKSCAN_REQUIRE_CHROMIUM=1 but there is no browser at {} (apt-get install chromium)",
        path.display()
    );
    crate::support::skipped(format_args!(
        "no Chromium at {} (apt-get install chromium, or set LOCKSCAN_CHROMIUM); the HTML \
         report was not looked at",
        path.display()
    ));
    None
}

/// Runs headless Chromium on `page` with `args`, killing it after a minute.
fn run_chromium(browser: &Path, profile: &Path, args: &[String], page: &Path) -> Output {
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("wait for chromium").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish within a minute");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("chromium's output")
}

/// The RGB pixels of a PNG, with its width and height.
fn decode_png(path: &Path) -> (u32, u32, Vec<[u8; 3]>) {
    let file = std::io::BufReader::new(std::fs::File::open(path).expect("the screenshot"));
    let mut reader = png::Decoder::new(file).read_info().expect("a PNG");
    let mut buffer = vec![0; reader.output_buffer_size().expect("a sane size")];
    let info = reader.next_frame(&mut buffer).expect("a frame");
    assert_eq!(info.bit_depth, png::BitDepth::Eight, "8-bit channels");
    let channels = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        other => panic!("unexpected PNG color type {other:?}"),
    };
    let mut pixels = Vec::with_capacity((info.width * info.height) as usize);
    for row in buffer[..info.buffer_size()].chunks(info.line_size) {
        for pixel in row.chunks(channels).take(info.width as usize) {
            pixels.push([pixel[0], pixel[1], pixel[2]]);
        }
    }
    (info.width, info.height, pixels)
}

#[test]
fn the_html_report_of_the_bank_transfer_shows_the_cycle() {
    let Some(browser) = chromium() else { return };
    let dir_tmp = scratch("browser");
    let dir = dir_tmp.path();
    let trace = dir.join("bank.json");
    run_demo("bank", &["transfer"], &trace);
    let report = dir.join("report.html");
    let status = Command::new(bin_dir().join("lockscan"))
        .args(["graph", "--format", "html", "--output"])
        .arg(&report)
        .arg(&trace)
        .status()
        .expect("run lockscan graph");
    assert!(status.success(), "lockscan graph failed: {status}");

    // The DOM after the page's script ran.
    let dom = run_chromium(
        &browser,
        &dir.join("profile-dom"),
        &["--dump-dom".to_owned()],
        &report,
    );
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.contains("data-ready=\"yes\""),
        "the page's script did not run:\n{dom}"
    );
    for lock in ["account:ACC001", "account:ACC002"] {
        assert!(
            dom.contains(&format!("<g class=\"node cycle\" data-lock=\"{lock}\"")),
            "the cycle's node {lock} is not in the DOM"
        );
    }
    for (from, to) in [
        ("account:ACC001", "account:ACC002"),
        ("account:ACC002", "account:ACC001"),
    ] {
        assert!(
            dom.contains(&format!(
                "<path class=\"edge cycle\" data-from=\"{from}\" data-to=\"{to}\""
            )),
            "the cycle's edge {from} -> {to} is not in the DOM"
        );
    }
    for thread in ["transfer-1", "transfer-2"] {
        assert!(
            dom.contains(&format!("data-thread=\"{thread}\"")),
            "no timeline row for {thread}"
        );
    }
    assert!(dom.contains("data-kind=\"potential-deadlock\""));

    // What a person sees.
    let screenshot = dir.join("report.png");
    let run = run_chromium(
        &browser,
        &dir.join("profile-shot"),
        &[
            format!("--screenshot={}", screenshot.display()),
            "--window-size=1200,800".to_owned(),
        ],
        &report,
    );
    assert!(
        screenshot.exists(),
        "no screenshot: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let (width, height, pixels) = decode_png(&screenshot);
    assert_eq!((width, height), (1200, 800));
    let mut colors: Vec<[u8; 3]> = pixels.clone();
    colors.sort_unstable();
    colors.dedup();
    assert!(
        colors.len() > 50,
        "the screenshot has {} colors: blank?",
        colors.len()
    );
    let background = [250, 251, 252];
    let drawn = pixels
        .iter()
        .filter(|&&p| p != background && p != [255, 255, 255])
        .count();
    assert!(
        drawn > pixels.len() / 10,
        "only {drawn} of {} pixels are drawn",
        pixels.len()
    );
    // The cycle is drawn in red (#c62828): its arrows, node borders and the finding.
    let red = pixels
        .iter()
        .filter(|p| p[0] > 170 && p[1] < 80 && p[2] < 80)
        .count();
    assert!(red > 500, "only {red} red pixels: the cycle is not drawn");
    if let Some(copy) = std::env::var_os("LOCKSCAN_SCREENSHOT_OUT") {
        std::fs::copy(&screenshot, &copy).expect("copy the screenshot");
    }
    eprintln!(
        "screenshot: {} ({} colors, {red} red pixels)",
        screenshot.display(),
        colors.len()
    );
}
