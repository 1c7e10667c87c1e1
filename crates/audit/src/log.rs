//! Appending: change events written and fsynced before the caller hears of success; request
//! decisions queued to a writer thread that writes them in batches with one fsync each (group
//! commit). The queue is bounded: when the writer falls behind, senders wait. Nothing is
//! dropped.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::alert::{Alert, AlertEngine, AlertRules, AlertSink};
use crate::event::{Actor, Event, EventKind};
use crate::record::{decode, encode, hex, GENESIS};
use crate::{io, AuditError};

/// Tuning. The defaults suit a clinic's gateway.
#[derive(Debug, Clone)]
pub struct Options {
    /// A segment is closed and a new one started past this size ...
    pub max_segment_bytes: u64,
    /// ... or once it is this old.
    pub max_segment_age: std::time::Duration,
    /// An anchor is written for every this many records - of the record that completes each
    /// run, so where anchors fall does not depend on how writes were batched - and at every
    /// rotation and close.
    pub anchor_every: u64,
    /// Decisions waiting for the writer; senders block beyond it.
    pub queue: usize,
    /// Most decisions written per fsync.
    pub batch: usize,
    /// How long a `Batched` decision that finds the writer idle waits for company before the
    /// batch is written and synced. Bounds the fsyncs per second under load; a `Group` append
    /// or a flush that finds the writer idle is written at once.
    pub linger: std::time::Duration,
    /// Compress each segment once it is closed.
    pub archive_closed: bool,
    /// Delete closed segments whose newest record is older than this (none: keep forever).
    pub retain_for: Option<std::time::Duration>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_segment_bytes: 64 << 20,
            max_segment_age: std::time::Duration::from_secs(86_400),
            anchor_every: 1000,
            queue: 16_384,
            batch: 4096,
            linger: std::time::Duration::from_millis(2),
            archive_closed: true,
            retain_for: None,
        }
    }
}

/// How soon an append must be on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Written and fsynced before `append` returns (changes, logins, policy swaps).
    Sync,
    /// Queued; written with the next batch (request decisions when the caller does not wait).
    Batched,
    /// Queued and written with the next batch; returns once that batch is on disk. Many
    /// concurrent callers share one fsync (group commit).
    Group,
}

/// What opening the log found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenReport {
    /// Bytes of a torn last record cut off (a crash mid-write); a recovery record says so.
    pub truncated_bytes: u64,
    pub last_seq: u64,
    pub segments: usize,
}

pub(crate) const KEY_FILE: &str = "anchor.key";
pub(crate) const ANCHORS: &str = "anchors.jsonl";

pub(crate) fn segment_name(first_seq: u64) -> String {
    format!("seg-{first_seq:020}.jsonl")
}

/// Segment files of a log folder, oldest first.
pub(crate) fn segments(dir: &Path) -> Result<Vec<PathBuf>, AuditError> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n.starts_with("seg-") && (n.ends_with(".jsonl") || n.ends_with(".jsonl.gz"))
            })
        })
        .collect();
    out.sort();
    Ok(out)
}

/// Reads a segment, compressed (archived) or not.
pub(crate) fn reader(path: &Path) -> Result<Box<dyn BufRead>, AuditError> {
    let f = File::open(path).map_err(|e| io(path, e))?;
    if path.to_string_lossy().ends_with(".gz") {
        Ok(Box::new(BufReader::new(flate2::read::GzDecoder::new(f))))
    } else {
        Ok(Box::new(BufReader::new(f)))
    }
}

/// The last record of a segment (compressed or not), if it has one.
fn last_record(path: &Path) -> Result<Option<crate::record::Record>, AuditError> {
    let mut last = None;
    for line in reader(path)?.lines() {
        let line = line.map_err(|e| io(path, e))?;
        if let Ok(r) = decode(&line) {
            last = Some(r);
        }
    }
    Ok(last)
}

/// The anchor MAC: HMAC-SHA256 over `seq:hash`.
pub(crate) fn mac(key: &[u8], seq: u64, hash: &str) -> String {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(mut m) => {
            m.update(format!("{seq}:{hash}").as_bytes());
            hex(&m.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}

/// Reads (or creates, 0600) the anchor key of a log folder.
pub(crate) fn key(dir: &Path) -> Result<Vec<u8>, AuditError> {
    let path = dir.join(KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            parse_key(text.trim()).ok_or_else(|| AuditError::BadKey(path.display().to_string()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes)
                .map_err(|e| io(&path, std::io::Error::other(e.to_string())))?;
            let mut f = crate::private::create_file(&path).map_err(|e| io(&path, e))?;
            f.write_all(hex(&bytes).as_bytes())
                .and_then(|_| f.sync_all())
                .map_err(|e| io(&path, e))?;
            Ok(bytes.to_vec())
        }
        Err(e) => Err(io(&path, e)),
    }
}

/// The anchor key if the folder has one; never creates it.
pub(crate) fn key_if_present(dir: &Path) -> Result<Option<Vec<u8>>, AuditError> {
    let path = dir.join(KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => parse_key(text.trim())
            .map(Some)
            .ok_or_else(|| AuditError::BadKey(path.display().to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(&path, e)),
    }
}

pub(crate) fn parse_key(text: &str) -> Option<Vec<u8>> {
    if text.len() != 64 {
        return None;
    }
    (0..32)
        .map(|i| {
            text.get(2 * i..2 * i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect()
}

fn now() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

struct Writer {
    dir: PathBuf,
    opts: Options,
    key: Vec<u8>,
    file: File,
    path: PathBuf,
    seg_bytes: u64,
    seq: u64,
    last_hash: String,
    since_anchor: u64,
    /// Anchors of records written but not yet durable: (seq, hash).
    due_anchors: Vec<(u64, String)>,
    anchors: File,
    buf: Vec<u8>,
    seg_started: std::time::SystemTime,
    /// Alert rules and the queue to their delivery thread.
    alerts: Option<(AlertEngine, mpsc::Sender<Alert>)>,
    /// A segment was closed: archiving and retention are due.
    maintenance_due: bool,
}

impl Writer {
    /// Encodes events into the buffer and writes them; rotates first when the segment is full.
    fn write(&mut self, events: &[Event]) -> Result<u64, AuditError> {
        for event in events {
            let too_old = self
                .seg_started
                .elapsed()
                .is_ok_and(|age| age >= self.opts.max_segment_age);
            if self.seg_bytes >= self.opts.max_segment_bytes || (self.seg_bytes > 0 && too_old) {
                self.flush_buf()?;
                self.rotate()?;
            }
            let time = now();
            let (line, hash) = encode(self.seq + 1, &time, &self.last_hash, event)
                .map_err(|e| AuditError::Encode(e.to_string()))?;
            self.buf.extend_from_slice(line.as_bytes());
            self.seg_bytes += line.len() as u64;
            self.seq += 1;
            self.last_hash = hash;
            self.since_anchor += 1;
            if self.since_anchor >= self.opts.anchor_every {
                self.due_anchors.push((self.seq, self.last_hash.clone()));
                self.since_anchor = 0;
            }
            if let Some((engine, tx)) = &mut self.alerts {
                for alert in engine.observe(event, chrono::Utc::now().timestamp_millis()) {
                    let _ = tx.send(alert);
                }
            }
        }
        self.flush_buf()?;
        Ok(self.seq)
    }

    fn flush_buf(&mut self) -> Result<(), AuditError> {
        if !self.buf.is_empty() {
            self.file
                .write_all(&self.buf)
                .map_err(|e| io(&self.path, e))?;
            self.buf.clear();
        }
        Ok(())
    }

    /// Makes everything written so far durable, then writes the anchors that came due.
    fn sync(&mut self) -> Result<(), AuditError> {
        self.file.sync_data().map_err(|e| io(&self.path, e))?;
        self.write_anchors(Vec::new())
    }

    /// Writes the anchors that came due, then `extra`; the records they name are durable.
    fn write_anchors(&mut self, extra: Vec<(u64, String)>) -> Result<(), AuditError> {
        let mut due = std::mem::take(&mut self.due_anchors);
        due.extend(extra);
        if due.is_empty() {
            return Ok(());
        }
        let mut text = String::new();
        for (seq, hash) in &due {
            let line = serde_json::json!({
                "seq": seq,
                "hash": hash,
                "time": now(),
                "mac": mac(&self.key, *seq, hash),
            });
            text.push_str(&format!("{line}\n"));
        }
        let path = self.dir.join(ANCHORS);
        self.anchors
            .write_all(text.as_bytes())
            .and_then(|_| self.anchors.sync_data())
            .map_err(|e| io(&path, e))
    }

    /// Anchors the head (at rotation and close; the records are durable).
    fn anchor(&mut self) -> Result<(), AuditError> {
        if self.seq == 0 {
            return Ok(());
        }
        let head = (self.seq, self.last_hash.clone());
        let already = self.due_anchors.last() == Some(&head);
        self.write_anchors(if already { Vec::new() } else { vec![head] })?;
        self.since_anchor = 0;
        Ok(())
    }

    fn rotate(&mut self) -> Result<(), AuditError> {
        self.file.sync_data().map_err(|e| io(&self.path, e))?;
        self.anchor()?;
        self.path = self.dir.join(segment_name(self.seq + 1));
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| io(&self.path, e))?;
        self.seg_bytes = 0;
        self.seg_started = std::time::SystemTime::now();
        self.maintenance_due = true;
        if let Ok(d) = File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

type Done = mpsc::Sender<Result<u64, String>>;

enum Msg {
    Event(Box<Event>, Option<Done>),
    Flush(Done),
}

/// An open audit log. Dropping it drains the queue, anchors the head and stops the writer.
pub struct AuditLog {
    /// Held for the life of the log: one writer per folder.
    _lock: File,
    writer: Arc<Mutex<Writer>>,
    tx: Option<SyncSender<Msg>>,
    worker: Option<JoinHandle<()>>,
    /// Set while compression or retention runs on its own thread.
    maintaining: Arc<std::sync::atomic::AtomicBool>,
    alerter: Option<JoinHandle<()>>,
    dir: PathBuf,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// What the end of a segment looks like.
struct Tail {
    /// The file's length.
    len: u64,
    /// Where its last complete, valid record ends.
    good_end: u64,
    /// That record's sequence number and hash.
    last: Option<(u64, String)>,
}

/// Scans a segment for its last complete valid record.
fn scan_tail(path: &Path) -> Result<Tail, AuditError> {
    let mut f = File::open(path).map_err(|e| io(path, e))?;
    let len = f.seek(SeekFrom::End(0)).map_err(|e| io(path, e))?;
    f.seek(SeekFrom::Start(0)).map_err(|e| io(path, e))?;
    let mut reader = BufReader::new(f);
    let mut good_end = 0u64;
    let mut last = None;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| io(path, e))?;
        if n == 0 || line.last() != Some(&b'\n') {
            break; // end, or a torn last line without its newline
        }
        let text = String::from_utf8_lossy(line.get(..line.len() - 1).unwrap_or(&[])).into_owned();
        match decode(&text) {
            Ok(r) => {
                good_end += n as u64;
                last = Some((r.seq, r.hash));
            }
            Err(_) => {
                // A complete but invalid line that is the very last one is a torn write too
                // (some filesystems extend before the data lands); one in the middle is not
                // ours to repair.
                let mut rest = Vec::new();
                reader.read_to_end(&mut rest).map_err(|e| io(path, e))?;
                if rest.iter().any(|b| !b.is_ascii_whitespace() && *b != 0) {
                    return Err(io(
                        path,
                        std::io::Error::other(format!(
                            "a damaged record at byte {good_end} is followed by more records; run `wardgate audit verify`"
                        )),
                    ));
                }
                break;
            }
        }
    }
    Ok(Tail {
        len,
        good_end,
        last,
    })
}

impl AuditLog {
    /// Opens (or creates) the log in `dir`, cutting a torn last record if a crash left one.
    pub fn open(dir: &Path, opts: Options) -> Result<(AuditLog, OpenReport), AuditError> {
        crate::private::create_dir(dir).map_err(|e| io(dir, e))?;
        let lock = lock_folder(dir)?;
        let key = key(dir)?;
        let head = recover_head(dir)?;
        let writer = Writer::open(dir, &opts, key, &head)?;
        let path = writer.path.clone();
        let writer = Arc::new(Mutex::new(writer));
        let (tx, rx) = mpsc::sync_channel(opts.queue.max(1));
        let worker_writer = writer.clone();
        let worker_dir = dir.to_path_buf();
        let batch = opts.batch.max(1);
        let linger = opts.linger;
        let maintaining = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let worker_maintaining = maintaining.clone();
        let worker = std::thread::Builder::new()
            .name("wardgate-audit".into())
            .spawn(move || {
                run_writer(
                    worker_writer,
                    rx,
                    batch,
                    linger,
                    worker_dir,
                    worker_maintaining,
                )
            })
            .map_err(|e| io(dir, e))?;
        let log = AuditLog {
            _lock: lock,
            writer,
            tx: Some(tx),
            worker: Some(worker),
            maintaining,
            alerter: None,
            dir: dir.to_path_buf(),
        };
        if head.truncated > 0 {
            log.record_recovery(&path, head.truncated)?;
        }
        let last_seq = log.last_seq();
        Ok((
            log,
            OpenReport {
                truncated_bytes: head.truncated,
                last_seq,
                segments: head.segments.len(),
            },
        ))
    }

    /// Records that a torn record was cut off when the log was opened.
    fn record_recovery(&self, path: &Path, truncated: u64) -> Result<(), AuditError> {
        let mut e = Event::new(
            EventKind::Recovery,
            Actor {
                kind: crate::ActorKind::System,
                id: "wardgate".into(),
            },
            "audit:recover",
        );
        e.detail = Some(serde_json::json!({
            "file": path.file_name().map(|n| n.to_string_lossy().into_owned()),
            "truncated_bytes": truncated,
            "reason": "a torn record from an interrupted write was cut off",
        }));
        self.append(e, Durability::Sync).map(|_| ())
    }

    /// Opens the log and raises alerts over every event appended from now on.
    pub fn open_with_alerts(
        dir: &Path,
        opts: Options,
        rules: AlertRules,
        sinks: Vec<Box<dyn AlertSink>>,
    ) -> Result<(AuditLog, OpenReport), AuditError> {
        let (mut log, report) = AuditLog::open(dir, opts)?;
        let (tx, rx) = mpsc::channel::<Alert>();
        log.lock()?.alerts = Some((AlertEngine::new(rules), tx));
        let handle = std::thread::Builder::new()
            .name("wardgate-alerts".into())
            .spawn(move || {
                while let Ok(alert) = rx.recv() {
                    for sink in &sinks {
                        if let Err(e) = sink.deliver(&alert) {
                            eprintln!("wardgate-audit: alert not delivered: {e}");
                        }
                    }
                }
            })
            .map_err(|e| io(dir, e))?;
        log.alerter = Some(handle);
        Ok((log, report))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Writer>, AuditError> {
        self.writer.lock().map_err(|_| AuditError::WriterGone)
    }

    /// The sequence number of the newest record written.
    pub fn last_seq(&self) -> u64 {
        self.lock().map(|w| w.seq).unwrap_or(0)
    }

    /// Appends an event. `Sync` returns its sequence number once it is on disk; `Batched`
    /// returns 0 once it is queued (it may wait while the queue is full).
    pub fn append(&self, event: Event, durability: Durability) -> Result<u64, AuditError> {
        match durability {
            Durability::Sync => {
                let seq = {
                    let mut w = self.lock()?;
                    let seq = w.write(std::slice::from_ref(&event))?;
                    w.sync()?;
                    seq
                };
                maintain(&self.writer, &self.dir);
                Ok(seq)
            }
            Durability::Batched => {
                let tx = self.tx.as_ref().ok_or(AuditError::WriterGone)?;
                tx.send(Msg::Event(Box::new(event), None))
                    .map_err(|_| AuditError::WriterGone)?;
                Ok(0)
            }
            Durability::Group => {
                let tx = self.tx.as_ref().ok_or(AuditError::WriterGone)?;
                let (done_tx, done_rx) = mpsc::channel();
                tx.send(Msg::Event(Box::new(event), Some(done_tx)))
                    .map_err(|_| AuditError::WriterGone)?;
                match done_rx.recv() {
                    Ok(Ok(seq)) => Ok(seq),
                    Ok(Err(e)) => Err(AuditError::Encode(e)),
                    Err(_) => Err(AuditError::WriterGone),
                }
            }
        }
    }

    /// Queues a decision without waiting: when the writer is behind and the queue is full,
    /// returns [`AuditError::Backlog`] at once, so the gateway refuses the request instead of
    /// forwarding it unrecorded.
    pub fn try_append(&self, event: Event) -> Result<(), AuditError> {
        let tx = self.tx.as_ref().ok_or(AuditError::WriterGone)?;
        tx.try_send(Msg::Event(Box::new(event), None))
            .map_err(|e| match e {
                mpsc::TrySendError::Full(_) => AuditError::Backlog,
                mpsc::TrySendError::Disconnected(_) => AuditError::WriterGone,
            })
    }

    /// Compresses every closed segment (gzip); verification and search read them as before.
    /// Returns the archives written.
    pub fn archive(&self) -> Result<Vec<PathBuf>, AuditError> {
        archive(&self.writer, &self.dir)
    }

    /// Retention: deletes the oldest closed segments whose newest record is older than
    /// `before` (RFC 3339), first writing a signed note of where the kept chain begins, so the
    /// rest stays verifiable. Returns how many segments were deleted.
    pub fn prune(&self, before: &str) -> Result<usize, AuditError> {
        prune(&self.writer, &self.dir, before)
    }

    /// Waits until every queued event is on disk; returns the newest sequence number.
    pub fn flush(&self) -> Result<u64, AuditError> {
        let tx = self.tx.as_ref().ok_or(AuditError::WriterGone)?;
        let (done_tx, done_rx) = mpsc::channel();
        tx.send(Msg::Flush(done_tx))
            .map_err(|_| AuditError::WriterGone)?;
        match done_rx.recv() {
            Ok(Ok(seq)) => Ok(seq),
            Ok(Err(e)) => Err(AuditError::Encode(e)),
            Err(_) => Err(AuditError::WriterGone),
        }
    }
}

impl Drop for AuditLog {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
        // Let running maintenance finish, then do what became due meanwhile.
        let started = std::time::Instant::now();
        while self.maintaining.load(std::sync::atomic::Ordering::SeqCst)
            && started.elapsed() < std::time::Duration::from_secs(60)
        {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        maintain(&self.writer, &self.dir);
        if let Ok(mut w) = self.writer.lock() {
            let _ = w.file.sync_data();
            let _ = w.anchor();
            w.alerts = None;
        }
        if let Some(a) = self.alerter.take() {
            let _ = a.join();
        }
    }
}

/// Compresses every closed segment (gzip); verification and search read them as before.
/// Returns the archives written.
fn archive(writer: &Mutex<Writer>, dir: &Path) -> Result<Vec<PathBuf>, AuditError> {
    let current = writer
        .lock()
        .map_err(|_| AuditError::WriterGone)?
        .path
        .clone();
    let mut done = Vec::new();
    for seg in segments(dir)? {
        if seg == current || seg.to_string_lossy().ends_with(".gz") {
            continue;
        }
        let gz = PathBuf::from(format!("{}.gz", seg.display()));
        let tmp = PathBuf::from(format!("{}.gz.tmp", seg.display()));
        let mut input = File::open(&seg).map_err(|e| io(&seg, e))?;
        let out = File::create(&tmp).map_err(|e| io(&tmp, e))?;
        // Fast compression: closed segments are archived while the gateway serves, on the same
        // cores; JSON lines shrink well even at level 1.
        let mut enc = flate2::write::GzEncoder::new(out, flate2::Compression::fast());
        std::io::copy(&mut input, &mut enc).map_err(|e| io(&tmp, e))?;
        let out = enc.finish().map_err(|e| io(&tmp, e))?;
        out.sync_all().map_err(|e| io(&tmp, e))?;
        std::fs::rename(&tmp, &gz).map_err(|e| io(&gz, e))?;
        std::fs::remove_file(&seg).map_err(|e| io(&seg, e))?;
        done.push(gz);
    }
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(done)
}

/// Retention: deletes the oldest closed segments whose newest record is older than
/// `before` (RFC 3339), first writing a signed note of where the kept chain begins, so the
/// rest stays verifiable. Returns how many segments were deleted.
fn prune(writer: &Mutex<Writer>, dir: &Path, before: &str) -> Result<usize, AuditError> {
    let mut w = writer.lock().map_err(|_| AuditError::WriterGone)?;
    let current = w.path.clone();
    let mut doomed = Vec::new();
    let mut through = None;
    for seg in segments(dir)? {
        if seg == current {
            break;
        }
        match last_record(&seg)? {
            Some(r) if r.time.as_str() < before => {
                through = Some((r.seq, r.hash));
                doomed.push(seg);
            }
            Some(_) => break,
            None => doomed.push(seg),
        }
    }
    let Some((seq, hash)) = through else {
        return Ok(0);
    };
    let line = serde_json::json!({
        "pruned_through": seq,
        "hash": hash,
        "time": now(),
        "mac": mac(&w.key, seq, &hash),
    });
    let path = dir.join(ANCHORS);
    w.anchors
        .write_all(format!("{line}\n").as_bytes())
        .and_then(|_| w.anchors.sync_data())
        .map_err(|e| io(&path, e))?;
    for seg in &doomed {
        std::fs::remove_file(seg).map_err(|e| io(seg, e))?;
    }
    Ok(doomed.len())
}

/// After a segment was closed: archive it and apply retention, as the options say.
fn maintain(writer: &Mutex<Writer>, dir: &Path) {
    let (due, opts) = match writer.lock() {
        Ok(mut w) => (std::mem::take(&mut w.maintenance_due), w.opts.clone()),
        Err(_) => return,
    };
    if !due {
        return;
    }
    if opts.archive_closed {
        if let Err(e) = archive(writer, dir) {
            eprintln!("wardgate-audit: archiving failed: {e}");
        }
    }
    if let Some(keep) = opts.retain_for {
        let before =
            chrono::Utc::now() - chrono::Duration::from_std(keep).unwrap_or(chrono::Duration::MAX);
        if let Err(e) = prune(
            writer,
            dir,
            &before.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        ) {
            eprintln!("wardgate-audit: retention failed: {e}");
        }
    }
}

/// Runs due maintenance (compressing closed segments, retention) on its own thread, so the
/// writer keeps draining the queue meanwhile; one at a time.
fn maintain_aside(
    writer: &Arc<Mutex<Writer>>,
    dir: &Path,
    busy: &Arc<std::sync::atomic::AtomicBool>,
) {
    use std::sync::atomic::Ordering;
    let due = writer.lock().map(|w| w.maintenance_due).unwrap_or(false);
    if !due || busy.swap(true, Ordering::SeqCst) {
        return;
    }
    let (w, d, b) = (writer.clone(), dir.to_path_buf(), busy.clone());
    let spawned = std::thread::Builder::new()
        .name("wardgate-audit-maintenance".into())
        .spawn(move || {
            maintain(&w, &d);
            b.store(false, Ordering::SeqCst);
        });
    if spawned.is_err() {
        busy.store(false, Ordering::SeqCst);
        maintain(writer, dir);
    }
}

/// The writer thread: takes what is queued, up to a batch, writes it, fsyncs once.
fn run_writer(
    writer: Arc<Mutex<Writer>>,
    rx: Receiver<Msg>,
    batch: usize,
    linger: std::time::Duration,
    dir: PathBuf,
    maintaining: Arc<std::sync::atomic::AtomicBool>,
) {
    let mut events: Vec<Event> = Vec::with_capacity(batch);
    let mut waiting: Vec<Done> = Vec::new();
    while let Ok(first) = rx.recv() {
        // Let company gather without waiting on the channel: a sender finds nobody to wake,
        // which keeps each append to a queue push under load.
        if !linger.is_zero() && matches!(&first, Msg::Event(_, None)) {
            std::thread::sleep(linger);
        }
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            match msg {
                Msg::Event(e, done) => {
                    events.push(*e);
                    waiting.extend(done);
                }
                Msg::Flush(done) => waiting.push(done),
            }
            if events.len() < batch {
                next = rx.try_recv().ok();
            }
        }
        let result = match writer.lock() {
            Ok(mut w) => w
                .write(&events)
                .and_then(|seq| w.sync().map(|_| seq))
                .map_err(|e| e.to_string()),
            Err(_) => Err("the audit writer lock is poisoned".to_string()),
        };
        events.clear();
        if let Err(e) = &result {
            // The gateway fails closed on audit errors; say so loudly.
            eprintln!("wardgate-audit: cannot write decisions: {e}");
        }
        for done in waiting.drain(..) {
            let _ = done.send(result.clone());
        }
        maintain_aside(&writer, &dir, &maintaining);
    }
}

/// One writer per folder: a lock held as long as the log is open.
fn lock_folder(dir: &Path) -> Result<File, AuditError> {
    let lock_path = dir.join("LOCK");
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| io(&lock_path, e))?;
    lock.try_lock().map_err(|_| {
        io(
            &lock_path,
            std::io::Error::other(
                "the audit log is open in another process; one writer per folder",
            ),
        )
    })?;
    Ok(lock)
}

/// Where the chain stands when the log is opened.
struct Head {
    segments: Vec<PathBuf>,
    seq: u64,
    last_hash: String,
    /// Bytes of a torn last record, cut off.
    truncated: u64,
}

/// Finds the newest record (cutting a torn one at the end) and the segments.
fn recover_head(dir: &Path) -> Result<Head, AuditError> {
    let mut segs = segments(dir)?;
    let mut truncated = 0;
    let (mut seq, mut last_hash) = (0, GENESIS.to_string());
    if segs.is_empty() {
        let p = dir.join(segment_name(1));
        File::create(&p).map_err(|e| io(&p, e))?;
        segs.push(p);
    }
    // The newest segment may be empty (just rotated): its predecessor has the head.
    for p in segs.iter().rev() {
        let Tail {
            len,
            good_end,
            last,
        } = scan_tail(p)?;
        if good_end < len && p == segs.last().unwrap_or(p) {
            let f = OpenOptions::new()
                .write(true)
                .open(p)
                .map_err(|e| io(p, e))?;
            f.set_len(good_end)
                .and_then(|_| f.sync_all())
                .map_err(|e| io(p, e))?;
            truncated = len - good_end;
        }
        if let Some((s, h)) = last {
            seq = s;
            last_hash = h;
            break;
        }
    }
    Ok(Head {
        segments: segs,
        seq,
        last_hash,
        truncated,
    })
}

impl Writer {
    fn open(dir: &Path, opts: &Options, key: Vec<u8>, head: &Head) -> Result<Writer, AuditError> {
        let path = head
            .segments
            .last()
            .cloned()
            .unwrap_or_else(|| dir.join(segment_name(1)));
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| io(&path, e))?;
        let seg_bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
        let anchors_path = dir.join(ANCHORS);
        let anchors = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&anchors_path)
            .map_err(|e| io(&anchors_path, e))?;
        Ok(Writer {
            dir: dir.to_path_buf(),
            opts: opts.clone(),
            key,
            file,
            path: path.clone(),
            seg_bytes,
            seq: head.seq,
            last_hash: head.last_hash.clone(),
            since_anchor: 0,
            due_anchors: Vec::new(),
            anchors,
            buf: Vec::with_capacity(1 << 16),
            alerts: None,
            maintenance_due: false,
            seg_started: std::fs::metadata(&path)
                .and_then(|m| m.created().or_else(|_| m.modified()))
                .unwrap_or_else(|_| std::time::SystemTime::now()),
        })
    }
}
