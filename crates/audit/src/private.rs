//! Files that hold secrets or patient-related records: created readable by their owner only
//! (0600), in folders only their owner can enter (0700). Shared by the crates that write them.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

/// Creates a new file, mode 0600; fails when it exists.
pub fn create_file(path: &Path) -> io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    opts.open(path)
}

/// Writes a whole file, mode 0600 (tightening an existing one first).
pub fn write_file(path: &Path, contents: &[u8]) -> io::Result<()> {
    use std::io::Write;
    if path.exists() {
        restrict(path)?;
        let mut f = OpenOptions::new().write(true).truncate(true).open(path)?;
        return f.write_all(contents);
    }
    create_file(path)?.write_all(contents)
}

/// Creates a folder (and its parents) when missing; the folder itself gets mode 0700.
pub fn create_dir(path: &Path) -> io::Result<()> {
    if path.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(path)?;
    set_mode(path, 0o700)
}

/// Takes group and other permissions off an existing file.
pub fn restrict(path: &Path) -> io::Result<()> {
    set_mode(path, 0o600)
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> io::Result<()> {
    Ok(())
}
