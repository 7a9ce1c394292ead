//! The bot's edges towards other local processes: the control file that holds the ledger
//! endpoint's token, and the state folder it lives in. Each test here failed before its fix.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use skinbot::domain::PurchaseRecord;
use skinbot::ledger::{remote, Ledger};
use tokio::sync::watch;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

// ---- 9. The control file and the state folder ----------------------------------------------------

#[tokio::test]
async fn a_control_file_left_readable_by_others_is_replaced_by_a_private_one_with_the_new_token() {
    let state = tempfile::tempdir().unwrap();
    let path = remote::control_path(state.path());
    std::fs::write(&path, br#"{"addr":"127.0.0.1:1","token":"old","pid":1}"#).unwrap();
    set_mode(&path, 0o644);

    let (tx, rx) = watch::channel(false);
    let server = remote::serve(Ledger::temporary().unwrap(), state.path(), rx).await.unwrap();

    assert_eq!(mode(&path), 0o600, "control.json holds the live token: readable by its owner only");
    let control: remote::ControlFile = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_ne!(control.token, "old");
    let records: Vec<PurchaseRecord> = remote::ask(state.path(), "/ledger/records").await.unwrap();
    assert!(records.is_empty());
    let names: Vec<_> = std::fs::read_dir(state.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, ["control.json"], "no temporary file is left beside it");

    tx.send(true).unwrap();
    server.await.unwrap();
}

#[tokio::test]
async fn a_state_folder_that_group_or_others_can_write_to_is_refused_with_how_to_fix_it() {
    for m in [0o777, 0o757, 0o775, 0o1777] {
        let state = tempfile::tempdir().unwrap();
        set_mode(state.path(), m);
        let e = format!("{:#}", remote::check_state_dir(state.path()).unwrap_err());
        let shown = state.path().display().to_string();
        assert!(e.contains(&shown) && e.contains(&format!("{m:04o}")) && e.contains("chmod go-w"), "{e}");

        // The endpoint refuses too, before it writes its token there.
        let (_tx, rx) = watch::channel(false);
        let refused = remote::serve(Ledger::temporary().unwrap(), state.path(), rx).await;
        assert!(refused.is_err(), "mode {m:04o} accepted");
        assert!(!remote::control_path(state.path()).exists());
    }
    for m in [0o700, 0o755, 0o750] {
        let state = tempfile::tempdir().unwrap();
        set_mode(state.path(), m);
        remote::check_state_dir(state.path()).unwrap_or_else(|e| panic!("mode {m:04o} refused: {e:#}"));
    }
}
