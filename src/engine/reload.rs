//! Hot reload: the config file and the strategy files are watched; a change is loaded and validated
//! whole, then put in force at the next tick. A file that fails validation changes nothing: the error
//! (file, line, field) is logged and the configuration in force stays.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::sync::watch;

use super::Engine;
use crate::config::{Config, FileError};
use crate::strategy::file::{load_all, Strategy};

/// Where skinbot's configuration comes from.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// The config file; `None` for the embedded default.
    pub config: Option<PathBuf>,
    /// Strategy files or folders given on the command line, instead of the config's.
    pub strategies: Vec<PathBuf>,
    /// `--dry-run` on the command line: a dry run whatever the file says.
    pub dry_run: bool,
}

impl Sources {
    /// Reads and validates the config and every strategy. All or nothing.
    pub fn load(&self) -> Result<(Config, Vec<Strategy>), FileError> {
        let mut config = match &self.config {
            Some(path) => Config::load(path)?,
            None => Config::embedded_default(),
        };
        if !self.strategies.is_empty() {
            config.strategy_paths = self.strategies.clone();
        }
        config.dry_run |= self.dry_run;
        let strategies = load_all(&config.strategy_paths)?;
        if strategies.is_empty() {
            let where_ = config.strategy_paths.first().cloned().unwrap_or_default();
            return Err(FileError::new(&where_, "no enabled strategy found"));
        }
        for st in &strategies {
            if let Some(unknown) = st.recipients.iter().find(|n| !config.recipients.iter().any(|r| &r.name == *n)) {
                let known: Vec<&str> = config.recipients.iter().map(|r| r.name.as_str()).collect();
                return Err(FileError::new(
                    &st.source,
                    format!("recipients: `{unknown}` is not one of the config's recipients ({})", known.join(", ")),
                ));
            }
        }
        config.hash = combined_hash(&config.hash, &strategies);
        Ok((config, strategies))
    }

    /// A digest of every file the configuration is read from, to notice a change.
    pub fn fingerprint(&self, config: &Config) -> String {
        let mut h = Sha256::new();
        if let Some(p) = &self.config {
            digest_file(&mut h, p);
        }
        for p in &config.strategy_paths {
            if p.is_dir() {
                let mut files: Vec<PathBuf> = std::fs::read_dir(p)
                    .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
                    .unwrap_or_default();
                files.sort();
                for f in files.iter().filter(|f| f.extension().is_some_and(|x| x == "toml")) {
                    digest_file(&mut h, f);
                }
            } else {
                digest_file(&mut h, p);
            }
        }
        hex::encode(h.finalize())
    }
}

fn digest_file(h: &mut Sha256, path: &Path) {
    h.update(path.display().to_string().as_bytes());
    h.update([0]);
    match std::fs::read(path) {
        Ok(bytes) => h.update(&bytes),
        Err(_) => h.update(b"<unreadable>"),
    }
    h.update([0]);
}

/// The hash stamped on purchases: the config text and every strategy file.
pub(crate) fn combined_hash(config_hash: &str, strategies: &[Strategy]) -> String {
    let mut h = Sha256::new();
    h.update(config_hash.as_bytes());
    for s in strategies {
        h.update(s.source.display().to_string().as_bytes());
        if let Ok(text) = std::fs::read(&s.source) {
            h.update(&text);
        }
    }
    hex::encode(h.finalize())[..16].to_string()
}

/// The files a running engine came from, and the fingerprint of the ones in force.
pub struct Reloader {
    sources: Sources,
    in_force: std::sync::Mutex<String>,
    /// The fingerprint of files that did not load at a tick's start: not parsed again each tick
    /// until they change ([`watch`] reports the error).
    refused: std::sync::Mutex<Option<String>>,
}

impl Reloader {
    /// `in_force`: the fingerprint of the files as they were loaded (taken right after loading).
    pub fn new(sources: Sources, in_force: String) -> Reloader {
        Reloader { sources, in_force: std::sync::Mutex::new(in_force), refused: std::sync::Mutex::new(None) }
    }

    fn in_force(&self) -> std::sync::MutexGuard<'_, String> {
        self.in_force.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// At the start of every tick: a saved edit that is valid is put in force before the tick
    /// decides anything (size-and-content fingerprint of a few small files). One that does not
    /// load is left to [`watch`], which reports it once the file has settled.
    pub(crate) fn check_now(&self, engine: &Engine) {
        let now = self.sources.fingerprint(&engine.config());
        if now == *self.in_force() {
            return;
        }
        let mut refused = self.refused.lock().unwrap_or_else(|p| p.into_inner());
        if refused.as_ref() == Some(&now) {
            return;
        }
        match self.sources.load() {
            Ok((config, strategies)) => {
                *refused = None;
                *self.in_force() = now;
                engine.reload(config, strategies);
            }
            Err(_) => *refused = Some(now),
        }
    }
}

/// Checks the files every `every`; a change seen the same on two checks in a row (so a file caught
/// half-written is not reported) is loaded and, if valid, put in force; if not, its error is logged
/// and the configuration in force stays.
pub async fn watch(reloader: Arc<Reloader>, engine: Arc<Engine>, every: Duration, mut shutdown: watch::Receiver<bool>) {
    let mut seen_once: Option<String> = None;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
        if *shutdown.borrow() {
            return;
        }
        let now = reloader.sources.fingerprint(&engine.config());
        if now == *reloader.in_force() {
            seen_once = None;
            continue;
        }
        if seen_once.as_deref() != Some(now.as_str()) {
            seen_once = Some(now);
            continue;
        }
        *reloader.in_force() = now;
        seen_once = None;
        match reloader.sources.load() {
            Ok((config, strategies)) => {
                engine.reload(config, strategies);
            }
            Err(e) => {
                tracing::error!("configuration change refused; the one in force stays: {e}");
                engine.notifier().send(crate::notify::Event::refused(engine.clock.now(), &e.to_string()));
            }
        }
    }
}
