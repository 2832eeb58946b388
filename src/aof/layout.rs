//! The AOF directory: `<dir>/<appenddirname>/` with the manifest, one base, incr files and,
//! briefly, history files. Every manifest change is durable before anything depends on it:
//! written to `temp-<name>.manifest`, fsynced, renamed over the manifest, directory fsynced.

use super::manifest::{AofFile, FileKind, Manifest};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

pub struct Layout {
    pub dir: PathBuf,
    /// appendfilename: the prefix of every file name.
    pub prefix: String,
    pub manifest: Manifest,
    /// The incr file the writer appends to (it may not be in the manifest yet while AOF is being
    /// turned on at runtime: the manifest names it once the first base exists).
    pub current_incr: AofFile,
}

/// What the writer does at a rotation marker: switch to a new incr file, named in the manifest
/// at once so a crash during the rewrite still loads everything. The new file's seq (or the
/// error) is sent back to whoever asked for the rotation.
#[derive(Debug)]
pub struct Rotation {
    pub done: std::sync::mpsc::Sender<Result<u64, String>>,
}

impl Layout {
    pub fn manifest_path(&self) -> PathBuf {
        self.dir.join(format!("{}.manifest", self.prefix))
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn incr_name(&self, seq: u64) -> String {
        format!("{}.{seq}.incr.aof", self.prefix)
    }

    /// `<prefix>.<seq>.base.aof`, or `.base.rdb` for an RDB-format base (aof-use-rdb-preamble).
    pub fn base_name(&self, seq: u64, rdb: bool) -> String {
        let ext = if rdb { "rdb" } else { "aof" };
        format!("{}.{seq}.base.{ext}", self.prefix)
    }

    /// Reads `<dir>/<prefix>.manifest` if it exists.
    pub fn read_manifest(dir: &Path, prefix: &str) -> Result<Option<Manifest>, String> {
        let path = dir.join(format!("{prefix}.manifest"));
        match std::fs::read(&path) {
            Ok(text) => Manifest::parse(&text).map(Some),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!(
                "Failed to read the AOF manifest {}: {}",
                path.display(),
                crate::config::strerror(&e)
            )),
        }
    }

    /// Writes the manifest durably (temp file, fsync, rename, fsync directory).
    pub fn persist_manifest(&self) -> io::Result<()> {
        let temp = self.dir.join(format!("temp-{}.manifest", self.prefix));
        {
            let mut f = File::create(&temp)?;
            f.write_all(self.manifest.format().as_bytes())?;
            f.sync_all()?;
        }
        std::fs::rename(&temp, self.manifest_path())?;
        sync_dir(&self.dir)
    }

    /// Creates (or opens for append) an incr file.
    pub fn open_incr(&self, name: &str) -> io::Result<(File, u64)> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path(name))?;
        let len = file.metadata()?.len();
        Ok((file, len))
    }

    /// Switches to a new incr file, named in the manifest before anything is written to it.
    pub fn rotate(&mut self) -> io::Result<(File, u64)> {
        let seq = self.manifest.last_incr_seq().max(self.current_incr.seq) + 1;
        let file = AofFile {
            name: self.incr_name(seq),
            seq,
            kind: FileKind::Incr,
        };
        let opened = self.open_incr(&file.name)?;
        sync_dir(&self.dir)?;
        self.manifest.incrs.push(file.clone());
        if let Err(e) = self.persist_manifest() {
            self.manifest.incrs.pop();
            return Err(e);
        }
        self.current_incr = file;
        Ok(opened)
    }

    /// Installs a rewritten base (already fsynced at `temp`): the new base plus the incr files
    /// from `first_kept_incr` on become the log, the older files are deleted.
    pub fn install_base(&mut self, temp: &Path, first_kept_incr: u64, rdb: bool) -> io::Result<()> {
        let seq = self.manifest.base_seq() + 1;
        let base = AofFile {
            name: self.base_name(seq, rdb),
            seq,
            kind: FileKind::Base,
        };
        std::fs::rename(temp, self.path(&base.name))?;
        let old = self.manifest.clone();
        let mut next = Manifest {
            base: Some(base),
            history: old.history.clone(),
            incrs: Vec::new(),
        };
        for f in old.base.iter().chain(old.incrs.iter()) {
            if f.kind == FileKind::Incr && f.seq >= first_kept_incr {
                next.incrs.push(f.clone());
            } else {
                next.history.push(AofFile {
                    kind: FileKind::History,
                    ..f.clone()
                });
            }
        }
        if !next.incrs.iter().any(|f| f.seq == self.current_incr.seq) {
            next.incrs.push(self.current_incr.clone());
        }
        self.manifest = next;
        if let Err(e) = self.persist_manifest() {
            self.manifest = old;
            return Err(e);
        }
        self.delete_history();
        Ok(())
    }

    /// Deletes history files and drops them from the manifest (best effort, as Redis).
    pub fn delete_history(&mut self) {
        if self.manifest.history.is_empty() {
            return;
        }
        for f in std::mem::take(&mut self.manifest.history) {
            let _ = std::fs::remove_file(self.path(&f.name));
        }
        if let Err(e) = self.persist_manifest() {
            tracing::warn!("Failed to persist the AOF manifest after deleting history files: {e}");
        }
    }

    /// Bytes of the base and incr files named in the manifest (plus a current incr not yet named).
    pub fn sizes(&self) -> (u64, u64) {
        let len = |f: &AofFile| std::fs::metadata(self.path(&f.name)).map_or(0, |m| m.len());
        let base = self.manifest.base.as_ref().map_or(0, len);
        let mut total = base + self.manifest.incrs.iter().map(len).sum::<u64>();
        if !self
            .manifest
            .incrs
            .iter()
            .any(|f| f.seq == self.current_incr.seq)
        {
            total += len(&self.current_incr);
        }
        (base, total)
    }
}

pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}
