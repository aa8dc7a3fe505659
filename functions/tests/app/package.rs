//! `shopsense package`, run the way `scripts/package.sh` runs it: the staged app root holds
//! exactly `host.json`, one folder per registered function with its `function.json`, and the
//! executable with its run bit; the zip holds the same entries with the same modes.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use shopsense_functions::functions::registry;

use crate::support::crate_dir;

fn shopsense(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shopsense"))
        .args(args)
        .current_dir(cwd)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

/// Every file under `root` with its Unix mode, keyed by `/`-separated relative path; folders are
/// listed too (with a trailing `/`) so a stray empty folder shows up.
fn tree(root: &Path) -> BTreeMap<String, u32> {
    fn walk(root: &Path, dir: &Path, found: &mut BTreeMap<String, u32>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let relative = path.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
            let meta = fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                found.insert(format!("{relative}/"), meta.permissions().mode() & 0o777);
                walk(root, &path, found);
            } else {
                found.insert(relative, meta.permissions().mode() & 0o777);
            }
        }
    }
    let mut found = BTreeMap::new();
    walk(root, root, &mut found);
    found
}

fn expected_files() -> BTreeSet<String> {
    let mut files: BTreeSet<String> = ["host.json".to_owned(), "shopsense".to_owned()].into();
    files.extend(registry().iter().map(|f| format!("{}/function.json", f.name)));
    files
}

/// Whether two streams hold the same bytes, compared a megabyte at a time: the debug binary is
/// hundreds of megabytes.
fn same_bytes(mut a: impl Read, mut b: impl Read) -> bool {
    let (mut buf_a, mut buf_b) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        let n = a.read(&mut buf_a).unwrap();
        if n == 0 {
            return b.read(&mut buf_b[..1]).unwrap() == 0;
        }
        if b.read_exact(&mut buf_b[..n]).is_err() || buf_a[..n] != buf_b[..n] {
            return false;
        }
    }
}

fn open(path: &Path) -> fs::File {
    fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_package_holds_host_json_one_folder_per_function_and_the_executable_with_its_run_bit() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("dist/app");
    let zip_path = work.path().join("dist/app.zip");
    let output = shopsense(&["package", "--out", "dist/app", "--zip", "dist/app.zip", "--json"], work.path());
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();

    // The folder: exactly these files, nothing else, with the modes the host needs.
    let found = tree(&out);
    let mut expected: BTreeMap<String, u32> = expected_files()
        .into_iter()
        .map(|f| (f.clone(), if f == "shopsense" { 0o755 } else { 0o644 }))
        .collect();
    for function in registry() {
        let mode = found.get(&format!("{}/", function.name)).copied().unwrap_or(0);
        expected.insert(format!("{}/", function.name), mode);
    }
    assert_eq!(found, expected, "the staged app root");

    // Contents: host.json and every function.json as in the repo, the executable byte for byte.
    let repo_host_json = fs::read_to_string(crate_dir().join("../host.json")).unwrap();
    assert_eq!(fs::read_to_string(out.join("host.json")).unwrap(), repo_host_json);
    let host: serde_json::Value = serde_json::from_str(&repo_host_json).unwrap();
    assert_eq!(host["customHandler"]["description"]["defaultExecutablePath"], "shopsense");
    for function in registry() {
        let staged = fs::read_to_string(out.join(function.name).join("function.json")).unwrap();
        let in_repo =
            fs::read_to_string(crate_dir().join("bindings").join(function.name).join("function.json"))
                .unwrap();
        assert_eq!(staged, in_repo, "{}/function.json", function.name);
    }
    assert!(same_bytes(open(&out.join("shopsense")), open(Path::new(env!("CARGO_BIN_EXE_shopsense")))));
    let version = Command::new(out.join("shopsense")).arg("--version").output().unwrap();
    assert!(version.status.success(), "the staged executable runs");

    // The JSON summary names the same functions and files.
    let functions: Vec<&str> = registry().iter().map(|f| f.name).collect();
    assert_eq!(report["functions"], serde_json::json!(functions));
    let reported: BTreeSet<String> =
        report["files"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap().to_owned()).collect();
    assert_eq!(reported, expected_files());
    assert_eq!(report["zip_bytes"].as_u64().unwrap(), fs::metadata(&zip_path).unwrap().len());

    // The zip: the same files (no folder entries needed), the same modes, the same bytes.
    let mut archive = zip::ZipArchive::new(open(&zip_path)).unwrap();
    let mut entries = BTreeMap::new();
    for index in 0..archive.len() {
        let entry = archive.by_index(index).unwrap();
        let name = entry.name().unwrap().into_owned();
        assert!(!name.starts_with('/') && !name.contains(".."), "{name} stays inside the app root");
        let mode = entry.unix_mode().unwrap_or_else(|| panic!("{name} records a Unix mode")) & 0o777;
        // Reading an entry to its end also checks its CRC-32.
        assert!(same_bytes(entry, open(&out.join(&name))), "{name}: the zip holds the staged bytes");
        entries.insert(name, mode);
    }
    let expected_zip: BTreeMap<String, u32> = expected_files()
        .into_iter()
        .map(|f| (f.clone(), if f == "shopsense" { 0o755 } else { 0o644 }))
        .collect();
    assert_eq!(entries, expected_zip, "the zip's entries and modes");
}

#[test]
fn packaging_again_replaces_a_previous_package_but_never_a_folder_that_is_not_one() {
    let work = tempfile::tempdir().unwrap();
    let binary_path = PathBuf::from(env!("CARGO_BIN_EXE_shopsense"));
    let binary = binary_path.to_str().unwrap();
    let first = shopsense(&["package", "--out", "app", "--binary", binary], work.path());
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    fs::write(work.path().join("app/leftover.txt"), "from an older package").unwrap();
    let second = shopsense(&["package", "--out", "app", "--binary", binary], work.path());
    assert!(second.status.success(), "{}", String::from_utf8_lossy(&second.stderr));
    assert!(!work.path().join("app/leftover.txt").exists(), "a previous package is replaced whole");
    assert_eq!(
        tree(&work.path().join("app")).keys().filter(|k| !k.ends_with('/')).cloned().collect::<BTreeSet<_>>(),
        expected_files()
    );

    fs::create_dir(work.path().join("notes")).unwrap();
    fs::write(work.path().join("notes/todo.txt"), "keep me").unwrap();
    let refused = shopsense(&["package", "--out", "notes", "--binary", binary], work.path());
    assert!(!refused.status.success(), "a folder that is not a package is refused");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("refusing to replace"));
    assert_eq!(fs::read_to_string(work.path().join("notes/todo.txt")).unwrap(), "keep me");
}
