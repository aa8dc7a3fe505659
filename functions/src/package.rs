//! Packaging for Azure Functions on Flex Consumption: stages the app root the host runs from and
//! zips it.
//!
//! The app root holds exactly `host.json`, one folder per function with its `function.json`, and
//! the `shopsense` executable with its run bit. Both JSON files come from what this binary embeds
//! (`host.json` and the [`registry`]), never from the file system at packaging time, so a package
//! can only announce functions this binary routes. Flex Consumption runs the zip as deployed (no
//! remote build), so the zip records Unix permissions explicitly: without the exec bit the host
//! cannot start the custom handler.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use zip::write::SimpleFileOptions;

use crate::functions::registry;

/// The `host.json` this binary was built with: the one the package ships.
pub const HOST_JSON: &str = include_str!("../../host.json");

/// The executable's file name in the app root; `host.json` must start exactly this file.
pub const EXECUTABLE: &str = "shopsense";

/// Unix mode of the executable in the folder and in the zip (`rwxr-xr-x`).
pub const EXECUTABLE_MODE: u32 = 0o755;

/// Unix mode of every other file (`rw-r--r--`).
pub const FILE_MODE: u32 = 0o644;

/// One file of a staged app root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedFile {
    /// Path inside the app root, `/`-separated (also its name in the zip).
    pub path: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Whether the file carries the exec bit (only the custom handler does).
    pub executable: bool,
}

/// A staged app root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedApp {
    /// The folder holding it.
    pub root: PathBuf,
    /// The functions it announces, in registry order.
    pub functions: Vec<String>,
    /// Every file, sorted by path.
    pub files: Vec<StagedFile>,
}

/// Why packaging failed.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    /// The executable to ship is missing or unreadable.
    #[error("cannot read the executable {path}: {source}")]
    Binary {
        /// The executable given.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The executable is not one the Functions Linux host can start.
    #[error(
        "{path} is not a Linux x86-64 executable ({reason}): build it for the Functions host with scripts/package.sh"
    )]
    NotLinuxExecutable {
        /// The executable given.
        path: PathBuf,
        /// What its header says instead.
        reason: &'static str,
    },
    /// The embedded `host.json` does not start the executable we ship (a build bug).
    #[error("host.json does not start {EXECUTABLE} with `serve`: {reason}")]
    HostJson {
        /// What is wrong with it.
        reason: String,
    },
    /// A registered function's embedded `function.json` does not parse (a build bug).
    #[error("function {function}: its function.json does not parse: {source}")]
    FunctionJson {
        /// The function.
        function: String,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// The output folder holds something that is not a previous package: we never delete it.
    #[error("refusing to replace {path}: it is not empty and holds no host.json from a previous package")]
    NotAPackage {
        /// The output folder.
        path: PathBuf,
    },
    /// Writing the package failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file or folder being written.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// Writing the zip failed.
    #[error("cannot write the zip {path}: {source}")]
    Zip {
        /// The zip being written.
        path: PathBuf,
        /// The zip error.
        #[source]
        source: zip::result::ZipError,
    },
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> PackageError + '_ {
    move |source| PackageError::Io { path: path.to_owned(), source }
}

/// Stages the app root into `out`: `host.json`, `<function>/function.json` for every registered
/// function, and `binary` copied as `shopsense` with mode 755.
///
/// The tree is built in a sibling folder and then moved into place, so `out` never holds a
/// half-written package. An existing `out` is replaced only when it is empty or holds a previous
/// package (a `host.json`): a mistyped `--out` never deletes unrelated files.
pub fn stage(binary: &Path, out: &Path) -> Result<StagedApp, PackageError> {
    check_host_json()?;
    check_linux_executable(binary)?;
    let specs = registry();
    for spec in &specs {
        spec.parsed()
            .map_err(|source| PackageError::FunctionJson { function: spec.name.to_owned(), source })?;
    }
    if !is_replaceable(out)? {
        return Err(PackageError::NotAPackage { path: out.to_owned() });
    }

    let parent = match out.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent).map_err(io_error(&parent))?;
    let name = out.file_name().map_or_else(|| "app".into(), |n| n.to_string_lossy().into_owned());
    let staging = parent.join(format!(".{name}.staging-{}", std::process::id()));
    if staging.exists() {
        fs::remove_dir_all(&staging).map_err(io_error(&staging))?;
    }
    let written = write_tree(binary, &staging, &specs);
    let files = match written {
        Ok(files) => files,
        Err(e) => {
            // Leave nothing half-written behind; the original error is what matters.
            let _ = fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    if out.exists() {
        fs::remove_dir_all(out).map_err(io_error(out))?;
    }
    fs::rename(&staging, out).map_err(io_error(out))?;
    Ok(StagedApp {
        root: out.to_owned(),
        functions: specs.iter().map(|s| s.name.to_owned()).collect(),
        files,
    })
}

/// Zips a staged app root into `zip_path`: entries in path order, the executable with mode 755
/// and every other file 644, fixed timestamps (the same tree gives the same bytes).
pub fn write_zip(app: &StagedApp, zip_path: &Path) -> Result<u64, PackageError> {
    let zip_error = |source| PackageError::Zip { path: zip_path.to_owned(), source };
    if let Some(parent) = zip_path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(io_error(parent))?;
    }
    // Written beside the target and renamed, so a failed run never leaves a truncated zip that
    // a later deploy would pick up.
    let partial = zip_path.with_extension("zip.partial");
    let file = fs::File::create(&partial).map_err(io_error(&partial))?;
    let mut writer = zip::ZipWriter::new(io::BufWriter::new(file));
    for entry in &app.files {
        let mode = if entry.executable { EXECUTABLE_MODE } else { FILE_MODE };
        let options = SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .unix_permissions(mode)
            .large_file(entry.bytes >= u64::from(u32::MAX));
        writer.start_file(entry.path.as_str(), options).map_err(zip_error)?;
        let source = app.root.join(&entry.path);
        let mut input = fs::File::open(&source).map_err(io_error(&source))?;
        io::copy(&mut input, &mut writer).map_err(io_error(zip_path))?;
    }
    let mut buffered = writer.finish().map_err(zip_error)?;
    buffered.flush().map_err(io_error(&partial))?;
    drop(buffered);
    fs::rename(&partial, zip_path).map_err(io_error(zip_path))?;
    fs::metadata(zip_path).map(|m| m.len()).map_err(io_error(zip_path))
}

/// `host.json` must start our executable with `serve`, or the host would run something else.
fn check_host_json() -> Result<(), PackageError> {
    let host: serde_json::Value =
        serde_json::from_str(HOST_JSON).map_err(|e| PackageError::HostJson { reason: e.to_string() })?;
    let description = &host["customHandler"]["description"];
    if description["defaultExecutablePath"] != EXECUTABLE {
        return Err(PackageError::HostJson {
            reason: format!("defaultExecutablePath is {}", description["defaultExecutablePath"]),
        });
    }
    if description["arguments"] != serde_json::json!(["serve"]) {
        return Err(PackageError::HostJson { reason: format!("arguments are {}", description["arguments"]) });
    }
    Ok(())
}

/// Flex Consumption runs Linux on x86-64: refuse anything else before it reaches Azure, where
/// the only symptom would be a host that never starts.
fn check_linux_executable(binary: &Path) -> Result<(), PackageError> {
    use std::io::Read;
    let mut header = [0u8; 20];
    let mut file =
        fs::File::open(binary).map_err(|source| PackageError::Binary { path: binary.to_owned(), source })?;
    let read =
        file.read(&mut header).map_err(|source| PackageError::Binary { path: binary.to_owned(), source })?;
    let reason = if read < header.len() || &header[..4] != b"\x7fELF" {
        Some("not an ELF file")
    } else if header[4] != 2 {
        Some("not 64-bit")
    } else if header[5] != 1 {
        Some("not little-endian")
    } else if u16::from_le_bytes([header[18], header[19]]) != 0x3e {
        Some("not x86-64")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(PackageError::NotLinuxExecutable { path: binary.to_owned(), reason }),
        None => Ok(()),
    }
}

/// An absent or empty folder, or one holding a previous package, may be replaced.
fn is_replaceable(out: &Path) -> Result<bool, PackageError> {
    match fs::read_dir(out) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(PackageError::Io { path: out.to_owned(), source: e }),
        Ok(mut entries) => Ok(entries.next().is_none() || out.join("host.json").is_file()),
    }
}

fn write_tree(
    binary: &Path,
    root: &Path,
    specs: &[crate::functions::FunctionSpec],
) -> Result<Vec<StagedFile>, PackageError> {
    fs::create_dir_all(root).map_err(io_error(root))?;
    let mut files = Vec::new();
    let mut write = |relative: String, contents: &str| -> Result<(), PackageError> {
        let path = root.join(&relative);
        if let Some(folder) = path.parent() {
            fs::create_dir_all(folder).map_err(io_error(folder))?;
        }
        fs::write(&path, contents).map_err(io_error(&path))?;
        set_mode(&path, FILE_MODE)?;
        files.push(StagedFile { path: relative, bytes: contents.len() as u64, executable: false });
        Ok(())
    };
    write("host.json".into(), HOST_JSON)?;
    for spec in specs {
        write(format!("{}/function.json", spec.name), spec.function_json)?;
    }
    let executable = root.join(EXECUTABLE);
    let bytes = fs::copy(binary, &executable)
        .map_err(|source| PackageError::Binary { path: binary.to_owned(), source })?;
    set_mode(&executable, EXECUTABLE_MODE)?;
    files.push(StagedFile { path: EXECUTABLE.into(), bytes, executable: true });
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> Result<(), PackageError> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(io_error(path))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> Result<(), PackageError> {
    // No Unix modes on this file system; the zip still records them explicitly.
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_host_json_starts_the_shipped_executable() {
        check_host_json().unwrap();
    }

    #[test]
    fn a_file_that_is_not_a_linux_x86_64_executable_is_refused_with_its_reason() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("script");
        fs::write(&script, "#!/bin/sh\necho hello, this is not an ELF file\n").unwrap();
        let err = stage(&script, &dir.path().join("out")).unwrap_err();
        assert!(matches!(err, PackageError::NotLinuxExecutable { reason: "not an ELF file", .. }), "{err}");
        let mut arm = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0\xb7\0".to_vec();
        arm.resize(64, 0);
        let arm_path = dir.path().join("arm64");
        fs::write(&arm_path, arm).unwrap();
        let err = stage(&arm_path, &dir.path().join("out")).unwrap_err();
        assert!(err.to_string().contains("not x86-64"), "{err}");
        assert!(!dir.path().join("out").exists(), "nothing is staged for a refused executable");
    }

    #[test]
    fn a_folder_that_is_not_a_previous_package_is_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("precious.txt"), "keep me").unwrap();
        assert!(!is_replaceable(dir.path()).unwrap());
        fs::write(dir.path().join("host.json"), "{}").unwrap();
        assert!(is_replaceable(dir.path()).unwrap());
        assert!(is_replaceable(&dir.path().join("absent")).unwrap());
    }
}
