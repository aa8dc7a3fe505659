//! The local blob backend: one folder per container under a root folder.
//!
//! A blob is a plain file at `<root>/<container>/<path>`, so a person can drop a file into
//! `<root>/uploads/...` and the local runner sees it like a blob upload. Content type and
//! metadata live in a sidecar `<root>/.meta/<container>/<path>.json` that records the ETag of
//! the bytes it describes; a file without a (matching) sidecar simply has no metadata.
//!
//! Writes go to a temporary file, are flushed, then renamed into place, so a reader sees the
//! old bytes or the new, never a torn file. Conditional writes hold an exclusive OS file lock
//! per container, which also serialises several processes sharing one root. The ETag is
//! derived from the file's inode, modification time and size: a rename-into-place always makes
//! a new inode, so every write changes it.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    Blob, BlobMeta, BlobService, BlobStore, ETag, PutMode, PutOptions, StoreError, StoreResult,
    validate_container_name, validate_metadata, validate_path,
};

const BACKEND: &str = "folder";

/// A folder of containers.
#[derive(Debug, Clone)]
pub struct FolderBlobService {
    root: PathBuf,
}

impl FolderBlobService {
    /// Uses (and creates) `root`.
    pub fn new(root: impl Into<PathBuf>) -> StoreResult<Self> {
        let root = root.into();
        fs::create_dir_all(&root).map_err(|e| io_error(format!("create {}", root.display()), e))?;
        Ok(Self { root })
    }

    /// The container folder of `name`, without opening it.
    #[must_use]
    pub fn container_dir(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Opens one container directly (the trait method returns it as a trait object).
    pub fn open(&self, name: &str) -> StoreResult<FolderBlobStore> {
        validate_container_name(name)?;
        let store = FolderBlobStore {
            data: self.root.join(name),
            meta: self.root.join(".meta").join(name),
            tmp: self.root.join(".tmp"),
            lock: self.root.join(".locks").join(format!("{name}.lock")),
        };
        for dir in [&store.data, &store.meta, &store.tmp, &self.root.join(".locks")] {
            fs::create_dir_all(dir).map_err(|e| io_error(format!("create {}", dir.display()), e))?;
        }
        Ok(store)
    }
}

#[async_trait]
impl BlobService for FolderBlobService {
    async fn container(&self, name: &str) -> StoreResult<Arc<dyn BlobStore>> {
        let this = self.clone();
        let name = name.to_owned();
        let store = blocking(move || this.open(&name)).await?;
        Ok(Arc::new(store))
    }
}

/// One container folder.
#[derive(Debug, Clone)]
pub struct FolderBlobStore {
    data: PathBuf,
    meta: PathBuf,
    tmp: PathBuf,
    lock: PathBuf,
}

/// What the sidecar holds.
#[derive(Debug, Serialize, Deserialize)]
struct Sidecar {
    etag: String,
    content_type: Option<String>,
    metadata: BTreeMap<String, String>,
}

fn io_error(doing: String, e: io::Error) -> StoreError {
    // Local disk errors are worth one retry only when the OS says so.
    let transient =
        matches!(e.kind(), io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut);
    StoreError::backend(BACKEND, format!("{doing}: {e}"), transient, e)
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> StoreResult<T> + Send + 'static) -> StoreResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::backend(BACKEND, "blocking task failed", false, e))?
}

fn etag_of(meta: &fs::Metadata) -> ETag {
    use std::os::unix::fs::MetadataExt;
    ETag(format!("\"{:x}-{:x}-{:x}-{:x}\"", meta.ino(), meta.mtime(), meta.mtime_nsec(), meta.len()))
}

impl FolderBlobStore {
    fn data_path(&self, path: &str) -> PathBuf {
        self.data.join(path)
    }

    fn sidecar_path(&self, path: &str) -> PathBuf {
        self.meta.join(format!("{path}.json"))
    }

    /// Reads the properties of the file at `file` (blob `path`), or `None` if absent.
    fn meta_of(&self, path: &str, file: &Path) -> StoreResult<Option<BlobMeta>> {
        let stat = match fs::metadata(file) {
            Ok(stat) if stat.is_file() => stat,
            Ok(_) => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound || e.kind() == io::ErrorKind::NotADirectory => {
                return Ok(None);
            }
            Err(e) => return Err(io_error(format!("stat {}", file.display()), e)),
        };
        let etag = etag_of(&stat);
        let sidecar = fs::read(self.sidecar_path(path))
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Sidecar>(&bytes).ok())
            .filter(|sidecar| sidecar.etag == etag.0);
        let last_modified: DateTime<Utc> =
            stat.modified().map_err(|e| io_error(format!("mtime of {}", file.display()), e))?.into();
        let (content_type, metadata) = sidecar.map(|s| (s.content_type, s.metadata)).unwrap_or_default();
        Ok(Some(BlobMeta {
            path: path.to_owned(),
            size: stat.len(),
            etag,
            last_modified,
            content_type,
            metadata,
        }))
    }

    fn lock(&self) -> StoreResult<File> {
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&self.lock)
            .map_err(|e| io_error(format!("open lock {}", self.lock.display()), e))?;
        file.lock().map_err(|e| io_error(format!("lock {}", self.lock.display()), e))?;
        Ok(file)
    }

    fn write_temp(&self, bytes: &[u8]) -> StoreResult<(PathBuf, fs::Metadata)> {
        let tmp = self.tmp.join(uuid::Uuid::new_v4().simple().to_string());
        let write = || -> io::Result<fs::Metadata> {
            let mut file = File::create_new(&tmp)?;
            file.write_all(bytes)?;
            file.sync_all()?;
            file.metadata()
        };
        match write() {
            Ok(stat) => Ok((tmp, stat)),
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                Err(io_error(format!("write {}", tmp.display()), e))
            }
        }
    }

    fn put_blocking(&self, path: &str, body: &[u8], options: PutOptions) -> StoreResult<BlobMeta> {
        validate_path(path)?;
        validate_metadata(&options.metadata)?;
        let target = self.data_path(path);
        let _guard = self.lock()?;
        let current = self.meta_of(path, &target)?;
        match (&options.mode, &current) {
            (PutMode::Create, Some(_)) => return Err(StoreError::AlreadyExists { what: path.to_owned() }),
            (PutMode::Update(_), None) => return Err(StoreError::NotFound { what: path.to_owned() }),
            (PutMode::Update(expected), Some(meta)) if *expected != meta.etag => {
                return Err(StoreError::Precondition { what: path.to_owned() });
            }
            _ => {}
        }
        let parent = target.parent().unwrap_or(&self.data);
        fs::create_dir_all(parent).map_err(|e| {
            if e.kind() == io::ErrorKind::NotADirectory || e.kind() == io::ErrorKind::AlreadyExists {
                StoreError::invalid(
                    format!("blob path {path:?}"),
                    "a blob exists where a folder of this path would be",
                )
            } else {
                io_error(format!("create {}", parent.display()), e)
            }
        })?;
        let (tmp_data, stat) = self.write_temp(body)?;
        let etag = etag_of(&stat);
        let sidecar = Sidecar {
            etag: etag.0.clone(),
            content_type: options.content_type.clone(),
            metadata: options.metadata,
        };
        let sidecar_bytes = serde_json::to_vec(&sidecar)
            .map_err(|e| StoreError::backend(BACKEND, "encode sidecar", false, e))?;
        let (tmp_sidecar, _) = self.write_temp(&sidecar_bytes)?;
        if let Err(e) = fs::rename(&tmp_data, &target) {
            let _ = fs::remove_file(&tmp_data);
            let _ = fs::remove_file(&tmp_sidecar);
            if target.is_dir() {
                return Err(StoreError::invalid(
                    format!("blob path {path:?}"),
                    "a folder of blobs exists at this path",
                ));
            }
            return Err(io_error(format!("rename into {}", target.display()), e));
        }
        let sidecar_path = self.sidecar_path(path);
        let placed = sidecar_path
            .parent()
            .map_or(Ok(()), fs::create_dir_all)
            .and_then(|()| fs::rename(&tmp_sidecar, &sidecar_path));
        if let Err(e) = placed {
            // The bytes are in place; without a matching sidecar they only lack metadata.
            let _ = fs::remove_file(&tmp_sidecar);
            return Err(io_error(format!("write sidecar {}", sidecar_path.display()), e));
        }
        let last_modified: DateTime<Utc> = stat.modified().map_err(|e| io_error("mtime".into(), e))?.into();
        Ok(BlobMeta {
            path: path.to_owned(),
            size: stat.len(),
            etag,
            last_modified,
            content_type: sidecar.content_type,
            metadata: sidecar.metadata,
        })
    }

    fn get_blocking(&self, path: &str) -> StoreResult<Option<Blob>> {
        validate_path(path)?;
        let file = self.data_path(path);
        // Read then stat the same open file, so bytes and ETag describe one version.
        let mut handle = match File::open(&file) {
            Ok(handle) => handle,
            Err(e) if e.kind() == io::ErrorKind::NotFound || e.kind() == io::ErrorKind::NotADirectory => {
                return Ok(None);
            }
            Err(e) => return Err(io_error(format!("open {}", file.display()), e)),
        };
        let stat = handle.metadata().map_err(|e| io_error(format!("stat {}", file.display()), e))?;
        if !stat.is_file() {
            return Ok(None);
        }
        let mut body = Vec::with_capacity(usize::try_from(stat.len()).unwrap_or(0));
        io::Read::read_to_end(&mut handle, &mut body)
            .map_err(|e| io_error(format!("read {}", file.display()), e))?;
        let Some(mut meta) = self.meta_of(path, &file)? else { return Ok(None) };
        if meta.etag != etag_of(&stat) {
            // Replaced between open and stat: describe the version we read, without metadata.
            meta = BlobMeta {
                etag: etag_of(&stat),
                size: stat.len(),
                content_type: None,
                metadata: BTreeMap::new(),
                ..meta
            };
        }
        Ok(Some(Blob { meta, body: Bytes::from(body) }))
    }

    fn list_blocking(&self, prefix: &str) -> StoreResult<Vec<BlobMeta>> {
        let mut out = Vec::new();
        let mut stack = vec![(self.data.clone(), String::new())];
        while let Some((dir, rel)) = stack.pop() {
            let entries = match fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_error(format!("list {}", dir.display()), e)),
            };
            for entry in entries {
                let entry = entry.map_err(|e| io_error(format!("list {}", dir.display()), e))?;
                let Some(name) = entry.file_name().to_str().map(str::to_owned) else { continue };
                let path = if rel.is_empty() { name } else { format!("{rel}/{name}") };
                // Only descend where the prefix can still match.
                let could_match = path.starts_with(prefix) || prefix.starts_with(&path);
                let kind = entry.file_type().map_err(|e| io_error(format!("stat {path}"), e))?;
                if kind.is_dir() && could_match {
                    stack.push((entry.path(), path));
                } else if kind.is_file()
                    && path.starts_with(prefix)
                    && validate_path(&path).is_ok()
                    && let Some(meta) = self.meta_of(&path, &entry.path())?
                {
                    out.push(meta);
                }
            }
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    fn delete_blocking(&self, path: &str, only_at: Option<&ETag>) -> StoreResult<bool> {
        validate_path(path)?;
        let _guard = self.lock()?;
        let file = self.data_path(path);
        if let Some(expected) = only_at {
            match self.meta_of(path, &file)? {
                None => return Ok(false),
                Some(meta) if meta.etag != *expected => {
                    return Err(StoreError::Precondition { what: path.to_owned() });
                }
                Some(_) => {}
            }
        }
        let existed = match fs::remove_file(&file) {
            Ok(()) => true,
            Err(e) if e.kind() == io::ErrorKind::NotFound || e.kind() == io::ErrorKind::NotADirectory => {
                false
            }
            Err(e) if file.is_dir() => {
                return Err(StoreError::invalid(format!("blob path {path:?}"), format!("is a folder ({e})")));
            }
            Err(e) => return Err(io_error(format!("delete {}", file.display()), e)),
        };
        let _ = fs::remove_file(self.sidecar_path(path));
        // Tidy now-empty folders so listings and people see no husks; failures are harmless.
        for (root, leaf) in [(&self.data, file), (&self.meta, self.sidecar_path(path))] {
            let mut dir = leaf.parent().map(Path::to_path_buf);
            while let Some(d) = dir.filter(|d| d != root && d.starts_with(root)) {
                if fs::remove_dir(&d).is_err() {
                    break;
                }
                dir = d.parent().map(Path::to_path_buf);
            }
        }
        Ok(existed)
    }
}

#[async_trait]
impl BlobStore for FolderBlobStore {
    fn location(&self) -> String {
        format!("folder {}", self.data.display())
    }

    async fn put(&self, path: &str, body: Bytes, options: PutOptions) -> StoreResult<BlobMeta> {
        let (this, path) = (self.clone(), path.to_owned());
        blocking(move || this.put_blocking(&path, &body, options)).await
    }

    async fn get(&self, path: &str) -> StoreResult<Option<Blob>> {
        let (this, path) = (self.clone(), path.to_owned());
        blocking(move || this.get_blocking(&path)).await
    }

    async fn head(&self, path: &str) -> StoreResult<Option<BlobMeta>> {
        validate_path(path)?;
        let (this, path) = (self.clone(), path.to_owned());
        blocking(move || this.meta_of(&path, &this.data_path(&path))).await
    }

    async fn list(&self, prefix: &str) -> StoreResult<Vec<BlobMeta>> {
        let (this, prefix) = (self.clone(), prefix.to_owned());
        blocking(move || this.list_blocking(&prefix)).await
    }

    async fn delete(&self, path: &str) -> StoreResult<bool> {
        let (this, path) = (self.clone(), path.to_owned());
        blocking(move || this.delete_blocking(&path, None)).await
    }

    async fn delete_if(&self, path: &str, etag: &ETag) -> StoreResult<bool> {
        let (this, path, etag) = (self.clone(), path.to_owned(), etag.clone());
        blocking(move || this.delete_blocking(&path, Some(&etag))).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::conformance;

    fn store() -> (tempfile::TempDir, FolderBlobService) {
        let dir = tempfile::tempdir().unwrap();
        let service = FolderBlobService::new(dir.path().join("blobs")).unwrap();
        (dir, service)
    }

    #[tokio::test]
    async fn the_folder_backend_passes_the_blob_conformance_suite() {
        let (_dir, service) = store();
        conformance::blob_store_suite(service.container("conformance").await.unwrap()).await;
    }

    #[tokio::test]
    async fn a_file_dropped_into_the_container_folder_is_a_blob_without_metadata() {
        let (_dir, service) = store();
        let uploads = service.container("uploads").await.unwrap();
        let dropped = service.container_dir("uploads").join("transactions");
        fs::create_dir_all(&dropped).unwrap();
        fs::write(dropped.join("2011-12.csv"), b"InvoiceNo\n1\n").unwrap();
        let listed = uploads.list("transactions/").await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].path, "transactions/2011-12.csv");
        assert!(listed[0].metadata.is_empty());
        let blob = uploads.get("transactions/2011-12.csv").await.unwrap().unwrap();
        assert_eq!(&blob.body[..], b"InvoiceNo\n1\n");
        assert_eq!(blob.meta.etag, listed[0].etag);
    }

    #[tokio::test]
    async fn a_blob_and_a_folder_of_the_same_name_is_a_clear_error() {
        let (_dir, service) = store();
        let store = service.container("clash").await.unwrap();
        store.put("a", Bytes::from_static(b"x"), PutOptions::default()).await.unwrap();
        let err = store.put("a/b", Bytes::from_static(b"y"), PutOptions::default()).await.unwrap_err();
        assert!(matches!(err, StoreError::Invalid { .. }), "{err:?}");
    }

    #[tokio::test]
    async fn containers_in_one_root_are_independent() {
        let (_dir, service) = store();
        let a = service.container("aaa").await.unwrap();
        let b = service.container("bbb").await.unwrap();
        a.put("x", Bytes::from_static(b"1"), PutOptions::default()).await.unwrap();
        assert!(b.get("x").await.unwrap().is_none());
        assert!(service.container("Bad_Name").await.is_err());
    }
}
