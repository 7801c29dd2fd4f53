//! One import run of the RPPS extraction: the file is parsed on a blocking
//! thread that feeds batches through a bounded channel; only professionals whose content hash
//! changed are written, in short transactions, and readers switch to the new snapshot at the
//! end. Memory stays bounded by the batch size plus a compact IdNat → hash map.

use serde_json::json;
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};

use super::line::LineError;
use super::scan::{Event, Key, KeyHasher, Professional, ScanError, Totals, read_header, scan_body};
use super::source::with_source;
use crate::audit::{Audit, AuditEvent};
use crate::clock::SharedClock;
use crate::storage::Db;
use crate::storage::rpps::{self as store, BoundRows, RowBinder, RunCounts, Writer};

/// Audit event kind of an import run.
pub const AUDIT_KIND: &str = "rpps.import";

/// How an import runs.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Professionals per transaction: small inside `serve` (logins keep flowing), larger from
    /// the command line.
    pub batch: usize,
    /// Rejected lines reported in full; the others are counted.
    pub listed_rejections: usize,
    /// Who started it (audit actor).
    pub actor: String,
    /// How long the import lease lasts without renewal.
    pub lease_secs: i64,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            batch: 2_000,
            listed_rejections: 20,
            actor: "cli".to_owned(),
            lease_secs: 300,
        }
    }
}

/// A rejected line.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Rejection {
    pub line: u64,
    pub reason: &'static str,
    pub detail: String,
}

/// What a finished import did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImportReport {
    pub run_id: String,
    pub generation: i64,
    pub counts: RunCounts,
    /// The first rejected lines.
    pub rejections: Vec<Rejection>,
    /// Rejected lines beyond those listed.
    pub more_rejections: u64,
}

/// Where the import is, for a progress bar.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub lines: u64,
    pub bytes: u64,
    pub total_bytes: u64,
}

/// Why an import did not publish a snapshot.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Nothing was written: unreadable file, bad header, no valid line, another import.
    #[error("{0}")]
    Refused(String),
    /// Stopped half-way; readers still see the previous snapshot.
    #[error("the import failed; the previous snapshot stays in use")]
    Failed(#[source] anyhow::Error),
}

impl ImportError {
    pub fn code(&self) -> &'static str {
        match self {
            ImportError::Refused(_) => "refused",
            ImportError::Failed(_) => "failed",
        }
    }
}

enum Message {
    Started { total_bytes: u64 },
    Batch(Batch),
    Progress { lines: u64, bytes: u64 },
    Done(Result<Ending, String>),
}

/// Professionals to write (new or changed, bound into INSERTs already), the IdNats whose
/// current version they replace, and the lines rejected meanwhile.
#[derive(Default)]
struct Batch {
    rows: Vec<BoundRows>,
    /// Professionals bound in `rows`.
    professionals: usize,
    replaced: Vec<String>,
    rejected: Vec<(u64, LineError)>,
}

/// What the parser needs before it reads past the header: the current index, and the binder
/// of the run's rows.
type Ready = (HashIndex, RowBinder);

/// The end of a pass: totals, what changed, and who is gone from the file.
struct Ending {
    totals: Totals,
    added: u64,
    changed: u64,
    removed: Vec<String>,
}

/// IdNat → content hash of the current snapshot, 20 bytes an entry for RPPS/ADELI IdNats.
#[derive(Default)]
struct HashIndex {
    short: HashMap<Key, u64, KeyHasher>,
    long: HashMap<String, u64>,
}

impl HashIndex {
    fn insert(&mut self, id: &str, hash: u64) {
        if id.len() <= 12 {
            self.short.insert(Key::of(id), hash);
        } else {
            self.long.insert(id.to_owned(), hash);
        }
    }
    fn take(&mut self, id: &str) -> Option<u64> {
        if id.len() <= 12 {
            self.short.remove(&Key::of(id))
        } else {
            self.long.remove(id)
        }
    }
    fn into_remaining(self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .short
            .into_keys()
            .map(|k| {
                let b = k.bytes();
                let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
                String::from_utf8_lossy(&b[..end]).into_owned()
            })
            .chain(self.long.into_keys())
            .collect();
        ids.sort_unstable();
        ids
    }
}

/// Imports an extraction (`.txt` or `.zip`) and switches readers to it.
pub async fn import_file(
    db: &Db,
    audit: &Audit,
    clock: &SharedClock,
    path: &Path,
    options: &ImportOptions,
    mut progress: impl FnMut(Progress) + Send,
) -> Result<ImportReport, ImportError> {
    let started = Instant::now();
    let file = path.display().to_string();
    let (sender, mut receiver) = mpsc::channel::<Message>(4);
    let scan_path = path.to_owned();
    let batch = options.batch.max(1);
    let (index_sender, index_receiver) = oneshot::channel::<Ready>();
    let parser =
        tokio::task::spawn_blocking(move || parse(&scan_path, batch, sender, index_receiver));

    let total_bytes = match receiver.recv().await {
        Some(Message::Started { total_bytes }) => total_bytes,
        Some(Message::Done(Err(why))) => return refused(audit, options, &file, why).await,
        _ => {
            let why = "the file could not be read".to_owned();
            return refused(audit, options, &file, why).await;
        }
    };
    let run_id = uuid::Uuid::now_v7().to_string();
    let now = clock.now();
    let lease = now + options.lease_secs;
    let lease_taken = match store::begin(db, &run_id, &file, now, lease).await {
        Ok(Some(taken)) => taken,
        Ok(None) => {
            drop((receiver, index_sender));
            let _ = parser.await;
            let why = "another RPPS import is running".to_owned();
            return refused(audit, options, &file, why).await;
        }
        Err(e) => {
            return Err(ImportError::Failed(
                anyhow::Error::new(e).context("cannot start the import run"),
            ));
        }
    };

    let mut run = Run {
        db,
        audit,
        clock,
        options,
        run_id: run_id.clone(),
        generation: lease_taken.generation,
        began: started,
        counts: RunCounts::default(),
        rejections: Vec::new(),
        more_rejections: 0,
    };
    let opened = match Writer::open(db, lease_taken).await {
        Ok(writer) => run.load_index().await.map(|index| (writer, index)),
        Err(e) => Err(ImportError::Failed(
            anyhow::Error::new(e).context("cannot open the import connection"),
        )),
    };
    let outcome = match opened {
        Ok((mut writer, index)) => {
            let _ = index_sender.send((index, writer.rows()));
            run.consume(&mut writer, &mut receiver, total_bytes, &mut progress)
                .await
        }
        Err(e) => {
            drop(index_sender);
            Err(e)
        }
    };
    drop(receiver);
    let _ = parser.await;
    match outcome {
        Ok(()) => run.publish(&file).await,
        Err(e) => {
            run.fail(&file, &e).await;
            Err(e)
        }
    }
}

/// Records a refused import (nothing written) and returns the refusal.
async fn refused(
    audit: &Audit,
    options: &ImportOptions,
    file: &str,
    why: String,
) -> Result<ImportReport, ImportError> {
    audit
        .record(
            AuditEvent::failure(AUDIT_KIND, "refused")
                .actor(options.actor.clone())
                .details(json!({ "file": file, "error": why })),
        )
        .await;
    Err(ImportError::Refused(why))
}

/// The blocking half: reads and parses, compares each professional's hash with the current
/// index, and sends only the new and changed ones, in batches.
fn parse(
    path: &Path,
    batch: usize,
    sender: mpsc::Sender<Message>,
    ready: oneshot::Receiver<Ready>,
) {
    let result = with_source(path, |reader, total_bytes| {
        let mut totals = Totals::default();
        let layout = read_header(reader, &mut totals)?;
        if sender
            .blocking_send(Message::Started { total_bytes })
            .is_err()
        {
            return Err(ScanError::Stopped);
        }
        let Ok((mut index, binder)) = ready.blocking_recv() else {
            return Err(ScanError::Stopped);
        };
        let pending = RefCell::new(Batch::default());
        let mut chunk: Vec<Professional> = Vec::with_capacity(RowBinder::ROWS);
        let (mut added, mut changed) = (0u64, 0u64);
        let wanted = |id: &str, hash: u64| match index.take(id) {
            None => {
                added += 1;
                true
            }
            Some(h) if h == hash => false,
            Some(_) => {
                changed += 1;
                pending.borrow_mut().replaced.push(id.to_owned());
                true
            }
        };
        // Sends the pending batch once it holds `at_least` professionals, replaced IdNats or
        // rejected lines.
        let send = |at_least: usize| {
            let mut p = pending.borrow_mut();
            if p.professionals + p.replaced.len() < at_least && p.rejected.len() < at_least {
                return true;
            }
            let full = std::mem::take(&mut *p);
            sender.blocking_send(Message::Batch(full)).is_ok()
        };
        let bind = |chunk: &mut Vec<Professional>| {
            if !chunk.is_empty() {
                let rows = std::mem::replace(chunk, Vec::with_capacity(RowBinder::ROWS));
                let mut p = pending.borrow_mut();
                p.professionals += rows.len();
                p.rows.push(binder.rows(rows));
            }
        };
        let totals = scan_body(reader, &layout, totals, wanted, |event| match event {
            Event::Professional(p) => {
                chunk.push(p);
                if chunk.len() < RowBinder::ROWS {
                    return true;
                }
                bind(&mut chunk);
                send(batch)
            }
            Event::Rejected { line, error } => {
                pending.borrow_mut().rejected.push((line, error));
                send(batch)
            }
            Event::Progress { lines, bytes } => sender
                .blocking_send(Message::Progress { lines, bytes })
                .is_ok(),
        })?;
        bind(&mut chunk);
        if !send(1) {
            return Err(ScanError::Stopped);
        }
        Ok(Ending {
            totals,
            added,
            changed,
            removed: index.into_remaining(),
        })
    });
    let done = match result {
        Ok(Ok(ending)) => Ok(ending),
        Ok(Err(ScanError::Stopped)) => return,
        Ok(Err(e)) => Err(chain(&anyhow::Error::new(e))),
        Err(e) => Err(chain(&e)),
    };
    let _ = sender.blocking_send(Message::Done(done));
}

fn chain(e: &anyhow::Error) -> String {
    e.chain()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(": ")
}

struct Run<'a> {
    db: &'a Db,
    audit: &'a Audit,
    clock: &'a SharedClock,
    options: &'a ImportOptions,
    run_id: String,
    generation: i64,
    /// When the import began (its duration includes building the name index).
    began: Instant,
    counts: RunCounts,
    rejections: Vec<Rejection>,
    more_rejections: u64,
}

impl Run<'_> {
    /// IdNat → hash of every professional of the current snapshot.
    async fn load_index(&self) -> Result<HashIndex, ImportError> {
        let mut index = HashIndex::default();
        store::for_each_current(self.db, |id, hash| index.insert(id, hash))
            .await
            .map_err(|e| {
                ImportError::Failed(anyhow::Error::new(e).context("cannot read the current index"))
            })?;
        Ok(index)
    }

    async fn consume(
        &mut self,
        writer: &mut Writer,
        receiver: &mut mpsc::Receiver<Message>,
        total_bytes: u64,
        progress: &mut (impl FnMut(Progress) + Send),
    ) -> Result<(), ImportError> {
        let failed = |e: sqlx::Error, what: &str| {
            ImportError::Failed(anyhow::Error::new(e).context(what.to_owned()))
        };
        while let Some(message) = receiver.recv().await {
            match message {
                Message::Started { .. } => {}
                Message::Progress { lines, bytes } => {
                    progress(Progress {
                        lines,
                        bytes,
                        total_bytes,
                    });
                    self.counts.lines = lines as i64;
                    self.write_progress().await;
                }
                Message::Batch(batch) => {
                    self.counts.rejected += batch.rejected.len() as i64;
                    self.note_rejections(batch.rejected);
                    if batch.rows.is_empty() && batch.replaced.is_empty() {
                        continue;
                    }
                    let replaced: Vec<&str> = batch.replaced.iter().map(String::as_str).collect();
                    let lease = self.clock.now() + self.options.lease_secs;
                    writer
                        .write_batch(lease, batch.rows, &replaced)
                        .await
                        .map_err(|e| failed(e, "cannot write a batch"))?;
                }
                Message::Done(Err(why)) => {
                    return Err(ImportError::Failed(anyhow::anyhow!(why)));
                }
                Message::Done(Ok(ending)) => {
                    let totals = ending.totals;
                    self.counts.lines = totals.lines as i64;
                    self.counts.professionals = totals.professionals as i64;
                    self.counts.activities = totals.activities as i64;
                    self.counts.rejected = totals.rejected as i64;
                    self.counts.added = ending.added as i64;
                    self.counts.changed = ending.changed as i64;
                    progress(Progress {
                        lines: totals.lines + 1,
                        bytes: totals.bytes,
                        total_bytes,
                    });
                    if totals.professionals == 0 {
                        return Err(ImportError::Refused(
                            "the file holds no valid line: the current index is kept".to_owned(),
                        ));
                    }
                    self.counts.removed = ending.removed.len() as i64;
                    let lease = self.clock.now() + self.options.lease_secs;
                    writer
                        .mark_removed(lease, &ending.removed)
                        .await
                        .map_err(|e| failed(e, "cannot mark removed professionals"))?;
                    return Ok(());
                }
            }
        }
        Err(ImportError::Failed(anyhow::anyhow!(
            "the parser stopped without finishing"
        )))
    }

    /// Writes the counters so far to the run's row (every 64 Ki lines, when the parser reports
    /// where it is), so that whoever follows the run sees it move. The final counts replace
    /// them when the run closes.
    async fn write_progress(&self) {
        if let Err(e) = store::progress(self.db.pool(), &self.run_id, &self.counts).await {
            tracing::warn!(error = %e, run = %self.run_id, "cannot write the RPPS run's progress");
        }
    }

    fn note_rejections(&mut self, rejected: Vec<(u64, LineError)>) {
        for (line, error) in rejected {
            if self.rejections.len() < self.options.listed_rejections {
                self.rejections.push(Rejection {
                    line,
                    reason: error.code(),
                    detail: error.to_string(),
                });
            } else {
                self.more_rejections += 1;
            }
        }
    }

    fn rejections_json(&self) -> String {
        json!({ "first": self.rejections, "more": self.more_rejections }).to_string()
    }

    fn event(&self, file: &str, event: AuditEvent) -> AuditEvent {
        event
            .actor(self.options.actor.clone())
            .subject(self.run_id.clone())
            .details(json!({
                "file": file,
                "generation": self.generation,
                "counts": self.counts,
                "rejected_lines": self.rejections.iter().map(|r| r.line).collect::<Vec<_>>(),
            }))
    }

    async fn publish(mut self, file: &str) -> Result<ImportReport, ImportError> {
        let failed = |e: sqlx::Error| {
            ImportError::Failed(anyhow::Error::new(e).context("cannot switch to the new snapshot"))
        };
        store::ensure_name_index(self.db).await.map_err(failed)?;
        self.counts.duration_ms = self.began.elapsed().as_millis() as i64;
        let mut tx = self.db.begin().await.map_err(failed)?;
        let switched = store::publish(
            &mut tx,
            &self.run_id,
            self.generation,
            self.clock.now(),
            &self.counts,
            &self.rejections_json(),
        )
        .await
        .map_err(failed)?;
        if !switched {
            return Err(ImportError::Failed(anyhow::anyhow!(
                "the import lease expired and another import took over"
            )));
        }
        self.audit
            .in_tx(&mut tx, self.event(file, AuditEvent::success(AUDIT_KIND)))
            .await
            .map_err(failed)?;
        tx.commit().await.map_err(failed)?;
        if let Err(e) = store::purge(self.db, self.generation).await {
            tracing::warn!(error = %e, "old RPPS rows not purged yet; the next import retries");
        }
        Ok(ImportReport {
            run_id: self.run_id,
            generation: self.generation,
            counts: self.counts,
            rejections: self.rejections,
            more_rejections: self.more_rejections,
        })
    }

    async fn fail(&mut self, file: &str, error: &ImportError) {
        self.counts.duration_ms = self.began.elapsed().as_millis() as i64;
        let why = match error {
            ImportError::Refused(why) => why.clone(),
            ImportError::Failed(e) => chain(e),
        };
        let result = async {
            store::ensure_name_index(self.db).await?;
            let mut tx = self.db.begin().await?;
            store::fail(
                &mut tx,
                &self.run_id,
                &why,
                self.clock.now(),
                &self.counts,
                &self.rejections_json(),
            )
            .await?;
            self.audit
                .in_tx(
                    &mut tx,
                    self.event(file, AuditEvent::failure(AUDIT_KIND, error.code())),
                )
                .await?;
            tx.commit().await
        }
        .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "cannot record the failed RPPS import run");
        }
    }
}
