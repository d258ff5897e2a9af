//! Helpers shared by the workspace-level tests in `tests/tests/`.
pub mod corrupt;
pub mod golden;

use std::{path::PathBuf, sync::OnceLock};

use mote_host::firmware::{self, BoardKind};

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The simulated-board firmware, built once per test process. A failed build
/// fails every test that needs it, with the build's own message.
pub fn sim_firmware() -> PathBuf {
    static ELF: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match ELF.get_or_init(|| firmware::build(BoardKind::Sim).map_err(|e| format!("{e:#}"))) {
        Ok(path) => path.clone(),
        Err(message) => panic!("firmware build failed: {message}"),
    }
}
