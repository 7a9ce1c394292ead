//! The command line as a user meets it: logs on stderr without escape codes when not on a
//! terminal, a JSON log format, no panic on a closed pipe.

use std::io::Read as _;
use std::process::{Command, Stdio};

fn skinbot(dir: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_skinbot"));
    c.current_dir(dir).env_remove("NO_COLOR").env_remove("RUST_LOG");
    c
}

fn strategies() -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("strategies").display().to_string()
}

#[test]
fn a_run_logs_to_stderr_without_escape_codes_and_prints_only_its_summary_on_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let out = skinbot(dir.path()).args(["run", "--duration-secs", "3", "--strategy", &strategies()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(stderr.contains("starting"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "escape codes in a log that is not a terminal");
    assert!(stdout.starts_with("── skinbot summary"), "{stdout}");
    assert!(!stdout.contains("INFO"), "no log line on stdout: {stdout}");
}

#[test]
fn the_json_log_format_writes_one_object_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = skinbot(dir.path())
        .args(["--log-format", "json", "run", "--duration-secs", "2", "--strategy", &strategies()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty());
    for line in lines {
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(v.get("level").is_some() && v.get("fields").is_some(), "{line}");
    }
}

#[test]
fn a_closed_pipe_ends_a_listing_quietly() {
    let dir = tempfile::tempdir().unwrap();
    // A ledger with purchases to list: a short run on the embedded sandbox.
    let run = skinbot(dir.path()).args(["run", "--duration-secs", "4", "--strategy", &strategies()]).output().unwrap();
    assert!(run.status.success());
    let mut child =
        skinbot(dir.path()).args(["ledger", "list"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    // The reader goes away before the listing is written (like `| head -0`): every write finds
    // the pipe closed.
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(status.success(), "{status}: {stderr}");
}

#[test]
fn status_says_whether_the_bot_runs_what_it_spent_and_why_it_is_halted() {
    let dir = tempfile::tempdir().unwrap();
    let mut bot = skinbot(dir.path())
        .args(["run", "--duration-secs", "30", "--strategy", &strategies()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // status.json appears after the first tick (bounded wait on the file, not a fixed sleep).
    let status_file = dir.path().join("state/status.json");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !status_file.exists() {
        assert!(std::time::Instant::now() < deadline, "no status.json after 20 s");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let status = |fmt: &str| {
        let out = skinbot(dir.path()).args(["status", "--format", fmt]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let text = status("table");
    for part in [
        "running     yes",
        "buying      on",
        "mode        sandbox",
        "hour",
        "day",
        "last tick   cs2",
        " of 400/min used in the last minute (",
        "strategy    restock-cases: purchases ",
        " of 40 today (",
        "strategy    discount-sniper: purchases ",
        " of 500 in all (",
    ] {
        assert!(text.contains(part), "{part} missing from:\n{text}");
    }
    assert!(!text.contains("strategy    shopping-list"), "no [limits], no window:\n{text}");
    let json: serde_json::Value = serde_json::from_str(&status("json")).unwrap();
    // The bot has called the exchange (rates, balance, price list) within the last minute.
    let sent = json["rate_limit"]["sent_last_minute"].as_u64().unwrap();
    assert!(sent >= 3, "{json}");
    assert_eq!(json["rate_limit"]["left"].as_u64(), Some(400 - sent));
    let restock = json["strategies"].as_array().unwrap().iter().find(|s| s["strategy"] == "restock-cases").unwrap();
    assert_eq!(restock["per_day"], 40);
    assert_eq!(restock["left"].as_u64(), Some(40 - restock["day"].as_u64().unwrap()));
    assert!(restock["spent_today"].as_str().unwrap().ends_with(" USD"), "{restock}");
    // The windows are counted after the tick's orders: what it bought shows as used.
    let report = &json["last_report"];
    assert!(report["last_tick"]["approved"].as_u64().unwrap_or(0) > 0, "the example strategies buy at once: {report}");
    assert_ne!(report["windows"][1]["used"], "0.00 USD", "{report}");

    // `plan` while the bot holds the ledger: read through its endpoint, and it says so.
    let out = skinbot(dir.path()).args(["plan", "--format", "json", "--strategy", &strategies()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let notes = plan["notes"].to_string();
    assert!(notes.contains("read through the running bot"), "{notes}");
    let out = skinbot(dir.path()).args(["halt", "--reason", "lunch"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(status("table").contains("HALTED: lunch"));
    let json: serde_json::Value = serde_json::from_str(&status("json")).unwrap();
    assert_eq!(json["running"], true);
    assert_eq!(json["halt"]["reason"], "lunch");
    bot.kill().unwrap();
    bot.wait().unwrap();
    assert!(status("table").contains("running     no"));
}
