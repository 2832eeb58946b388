//! Start-up: open (or create) the AOF directory, replay the base and incr files, cut a torn tail
//! when `aof-load-truncated yes`, and start the writer on the last incr file.

use super::layout::{sync_dir, Layout};
use super::manifest::{AofFile, FileKind, Manifest};
use super::reader::{Reader, Step, WINDOW_BYTES};
use super::Handle;
use crate::config::Config;
use crate::engine::ClientState;
use crate::protocol::Reply;
use bytes::Bytes;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// How often loading reports progress in the log.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// `<dir>/<appenddirname>` from the configuration.
pub fn aof_dir(config: &Config) -> PathBuf {
    PathBuf::from(config.get("dir")).join(config.get("appenddirname"))
}

/// Creates the AOF directory if needed; returns it. The error is Redis's message.
pub fn create_aof_dir(config: &Config) -> Result<PathBuf, String> {
    let dir = aof_dir(config);
    std::fs::create_dir_all(&dir).map_err(|e| {
        format!(
            "Can't open or create append-only dir {}: {}",
            dir.display(),
            crate::config::strerror(&e)
        )
    })?;
    Ok(dir)
}

/// Runs one command as a client would (the server hands in `engine::dispatch::execute` on its
/// state): the AOF replays its records through the same rules as live commands, without
/// depending on dispatch.
pub trait Execute: FnMut(&mut ClientState, &[Bytes]) -> Reply {}

impl<F: FnMut(&mut ClientState, &[Bytes]) -> Reply> Execute for F {}

/// Loads the AOF and starts logging when `appendonly yes`. The error is the fatal message.
pub fn open_at_startup(h: Handle, execute: impl Execute) -> Result<(), String> {
    h.aof
        .set_policy(super::Fsync::parse(&h.config.get("appendfsync")));
    if !h.config.get_bool("appendonly") {
        return Ok(());
    }
    let dir = create_aof_dir(h.config)?;
    let prefix = h.config.get("appendfilename");
    remove_temp_files(&dir);
    let manifest = Layout::read_manifest(&dir, &prefix)?;
    let mut layout = match manifest {
        Some(manifest) => {
            let layout = Layout {
                dir,
                prefix,
                current_incr: manifest.incrs.last().cloned().unwrap_or(AofFile {
                    name: String::new(),
                    seq: 0,
                    kind: FileKind::Incr,
                }),
                manifest,
            };
            load_files(h, &layout, execute)?;
            layout
        }
        None => {
            fresh_layout(dir, prefix).map_err(|e| format!("Can't create the AOF files: {e}"))?
        }
    };
    if layout.manifest.incrs.is_empty() {
        // A manifest with only a base (or nothing): continue in a new incr file.
        layout
            .rotate()
            .map_err(|e| format!("Can't create a new AOF incr file: {e}"))?;
    }
    layout.delete_history();
    let (file, len) = layout
        .open_incr(&layout.current_incr.name)
        .map_err(|e| format!("Can't open the append-only file: {e}"))?;
    let (base, total) = layout.sizes();
    let stats = &h.aof.stats;
    stats.base_size.store(base, Ordering::Relaxed);
    stats.current_size.store(total, Ordering::Relaxed);
    stats.rewrite_base_size.store(total, Ordering::Relaxed);
    *h.aof.layout.lock() = Some(layout);
    h.aof.start(file, len);
    Ok(())
}

/// Files a crash left mid-rewrite (`temp-...`): never named by the manifest, safe to delete.
fn remove_temp_files(dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with("temp-") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// A new directory: an empty base and an empty incr, as redis-server creates with
/// `aof-use-rdb-preamble no`.
fn fresh_layout(dir: PathBuf, prefix: String) -> std::io::Result<Layout> {
    let base = AofFile {
        name: format!("{prefix}.1.base.aof"),
        seq: 1,
        kind: FileKind::Base,
    };
    let incr = AofFile {
        name: format!("{prefix}.1.incr.aof"),
        seq: 1,
        kind: FileKind::Incr,
    };
    let layout = Layout {
        manifest: Manifest {
            base: Some(base.clone()),
            history: Vec::new(),
            incrs: vec![incr.clone()],
        },
        current_incr: incr.clone(),
        dir,
        prefix,
    };
    std::fs::File::create(layout.path(&base.name))?.sync_all()?;
    std::fs::File::create(layout.path(&incr.name))?.sync_all()?;
    sync_dir(&layout.dir)?;
    layout.persist_manifest()?;
    Ok(layout)
}

fn load_files(h: Handle, layout: &Layout, execute: impl Execute) -> Result<(), String> {
    let files: Vec<&AofFile> = layout.manifest.load_order().collect();
    for f in &files {
        if !layout.path(&f.name).exists() {
            return Err(format!("The AOF file {} doesn't exist", f.name));
        }
    }
    let started = Instant::now();
    let mut loader = Loader::new(h, execute);
    for (i, f) in files.iter().enumerate() {
        let last = i + 1 == files.len();
        let path = layout.path(&f.name);
        let read_error = |e: std::io::Error| {
            format!(
                "Can't read the append only file {}: {}",
                f.name,
                crate::config::strerror(&e)
            )
        };
        let (mut file, size) = crate::rdb::open_for_load(&path).map_err(read_error)?;
        if f.kind == FileKind::Base && starts_with_rdb_magic(&mut file).map_err(read_error)? {
            // An RDB-format base (aof-use-rdb-preamble yes, ours or redis-server's).
            let now = h.clock.now_ms();
            let loaded =
                crate::rdb::load_stream(h.keyspace, h.config, file, size, now).map_err(|e| {
                    format!(
                        "Bad file format reading the append only file {}: {e}",
                        f.name
                    )
                })?;
            crate::rdb::load_functions(h.functions, &loaded.functions).map_err(|e| {
                format!(
                    "Bad file format reading the append only file {}: {e}",
                    f.name
                )
            })?;
            tracing::info!(
                "Loading the RDB preamble of the AOF base {}: {} keys",
                f.name,
                loaded.keys_loaded
            );
            continue;
        }
        let reader = Reader::new(BufReader::with_capacity(WINDOW_BYTES, file), size);
        match loader.replay(&f.name, reader)? {
            None => {}
            Some(valid) => {
                if !last {
                    return Err(format!(
                        "Unexpected end of file reading the append only file {} (the truncated file is not the last file)",
                        f.name
                    ));
                }
                if !h.config.get_bool("aof-load-truncated") {
                    return Err(format!(
                        "Unexpected end of file reading the append only file {}. You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server.",
                        f.name
                    ));
                }
                tracing::warn!(
                    "!!! Warning: short read while loading the AOF file {}!!!",
                    f.name
                );
                tracing::warn!("!!! Truncating the AOF {} at offset {} !!!", f.name, valid);
                let file = std::fs::OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .and_then(|file| {
                        file.set_len(valid as u64)?;
                        file.sync_all()
                    });
                if let Err(e) = file {
                    return Err(format!(
                        "Error truncating the AOF file {}: {}",
                        f.name,
                        crate::config::strerror(&e)
                    ));
                }
                h.aof
                    .stats
                    .last_load_truncated
                    .store(true, Ordering::Relaxed);
                tracing::warn!(
                    "AOF {} loaded anyway because aof-load-truncated is enabled",
                    f.name
                );
            }
        }
        tracing::info!(
            "DB loaded from {} file {}: {} bytes",
            if f.kind == FileKind::Base {
                "base"
            } else {
                "incr"
            },
            f.name,
            size
        );
    }
    let commands = loader.commands;
    loader.finish();
    tracing::info!(
        "DB loaded from append only file: {:.3} seconds ({commands} commands)",
        started.elapsed().as_secs_f64(),
    );
    Ok(())
}

/// True when a file starts with an RDB file's magic (an RDB-preamble base); leaves the file
/// at its start.
fn starts_with_rdb_magic(file: &mut std::fs::File) -> std::io::Result<bool> {
    let mut magic = [0u8; 5];
    let mut got = 0;
    while got < magic.len() {
        match file.read(&mut magic[got..])? {
            0 => break,
            n => got += n,
        }
    }
    file.seek(SeekFrom::Start(0))?;
    Ok(got == magic.len() && &magic == b"REDIS")
}

/// Replays one file's bytes into `state` as start-up does, without touching any file: the
/// offset where a torn file stops being valid, or the fatal message. For the fuzz targets.
pub fn replay_bytes(
    h: Handle,
    name: &str,
    data: &[u8],
    execute: impl Execute,
) -> Result<Option<usize>, String> {
    let mut loader = Loader::new(h, execute);
    let replayed = loader.replay(name, Reader::from_bytes(data));
    loader.finish();
    replayed
}

/// Replays commands through dispatch as a client of its own (MULTI/EXEC, SELECT work as they
/// did when they were logged). Logging is off while it runs.
struct Loader<'a, E: Execute> {
    h: Handle<'a>,
    execute: E,
    client: ClientState,
    commands: u64,
    last_report: Instant,
}

impl<'a, E: Execute> Loader<'a, E> {
    fn new(h: Handle<'a>, execute: E) -> Loader<'a, E> {
        let addr = "127.0.0.1:0".parse().expect("literal address");
        let info = h.clients.register(addr, addr, -1, h.clock.now_ms());
        let mut client = ClientState::new(info);
        client.must_obey = true;
        Loader {
            h,
            execute,
            client,
            commands: 0,
            last_report: Instant::now(),
        }
    }

    /// Replays one file. Ok(Some(offset)) when it ends torn (or inside a MULTI): the bytes
    /// before `offset` were applied. A record that is not AOF is fatal, with file and offset.
    fn replay<R: BufRead>(
        &mut self,
        name: &str,
        mut reader: Reader<R>,
    ) -> Result<Option<usize>, String> {
        let total = reader.len();
        // Each file starts in db 0 without a transaction, as in redis-server.
        self.client.db = 0;
        self.client.multi = None;
        let mut multi_start = None;
        loop {
            let before = reader.pos();
            match reader.next_step() {
                Step::Command(argv, _) => {
                    if argv[0].eq_ignore_ascii_case(b"multi") {
                        multi_start = Some(before);
                    } else if argv[0].eq_ignore_ascii_case(b"exec") {
                        multi_start = None;
                    }
                    self.run(name, before, &argv)?;
                    if self.last_report.elapsed() >= PROGRESS_EVERY {
                        self.last_report = Instant::now();
                        tracing::info!(
                            "Loading AOF {name}: {} of {total} bytes, {} commands",
                            reader.pos(),
                            self.commands
                        );
                    }
                }
                Step::Annotation(_) => {}
                Step::End => {
                    return Ok(multi_start.inspect(|_| {
                        tracing::warn!(
                            "Revert incomplete MULTI/EXEC transaction in AOF file {name}"
                        );
                        self.client.multi = None;
                    }));
                }
                Step::Truncated(at) => {
                    self.client.multi = None;
                    return Ok(Some(multi_start.unwrap_or(at)));
                }
                Step::Bad(at, reason) => {
                    return Err(format!(
                        "{reason} reading the append only file {name} at offset {at}: make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>"
                    ));
                }
                Step::ReadError(at, e) => {
                    return Err(format!(
                        "Can't read the append only file {name} at offset {at}: {e}"
                    ));
                }
            }
        }
    }

    fn run(&mut self, name: &str, offset: usize, argv: &[Bytes]) -> Result<(), String> {
        self.commands += 1;
        if self.h.registry.get(&argv[0]).is_none() {
            return Err(format!(
                "Unknown command '{}' reading the append only file {name} at offset {offset}",
                String::from_utf8_lossy(&argv[0])
            ));
        }
        let reply = (self.execute)(&mut self.client, argv);
        if let Reply::Error(text) = &reply {
            tracing::debug!(
                "AOF {name} offset {offset}: command replied {}",
                String::from_utf8_lossy(text)
            );
        }
        Ok(())
    }

    fn finish(self) {
        self.h.clients.unregister(self.client.id);
    }
}

/// DEBUG LOADAOF: waits until everything logged so far is written, then replays the AOF files
/// into the (emptied by the caller) dataset with logging off, so the replay is not logged again.
/// The caller runs alone (the gate's exclusive section): nothing else logs meanwhile.
pub fn reload_for_debug(h: Handle, execute: impl Execute) -> Result<(), String> {
    let aof = h.aof;
    let end = aof.pipe.lock().end;
    let started = Instant::now();
    while *aof.acked.borrow() < end {
        if started.elapsed() > std::time::Duration::from_secs(30) {
            return Err("the AOF writer did not write the log in time".into());
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let layout = aof.layout.lock();
    let Some(layout) = layout.as_ref() else {
        return Err("no append-only file is open".into());
    };
    aof.on.store(false, Ordering::Relaxed);
    let loaded = load_files(h, layout, execute);
    aof.on.store(true, Ordering::Relaxed);
    loaded
}
