//! Security audit trail: append-only events with stable reason codes (design.md, "What
//! happened"). Changes write their event in their own transaction; the token hot path goes
//! through a batched writer that drains on shutdown.

pub mod chain;

use serde_json::Value;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::clock::SharedClock;
use crate::storage::audit::{AuditRecord, insert, insert_batch};
use crate::storage::{Db, Tx};

/// Where a request came from, carried into every event it causes.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    pub source_ip: Option<String>,
    pub request_id: Option<String>,
}

/// One security-relevant fact, before it is stamped and stored.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    kind: &'static str,
    success: bool,
    reason: Option<String>,
    actor: Option<String>,
    subject: Option<String>,
    client_id: Option<String>,
    ctx: RequestContext,
    details: Option<Value>,
}

impl AuditEvent {
    pub fn success(kind: &'static str) -> Self {
        Self::new(kind, true, None)
    }

    /// A refusal or failure with its stable snake_case reason code.
    pub fn failure(kind: &'static str, reason: impl Into<String>) -> Self {
        Self::new(kind, false, Some(reason.into()))
    }

    fn new(kind: &'static str, success: bool, reason: Option<String>) -> Self {
        AuditEvent {
            kind,
            success,
            reason,
            actor: None,
            subject: None,
            client_id: None,
            ctx: RequestContext::default(),
            details: None,
        }
    }

    /// Sets or replaces the reason code (also on successes, e.g. why a logout happened).
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }
    pub fn actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = Some(actor.into());
        self
    }
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }
    pub fn client(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }
    pub fn context(mut self, ctx: &RequestContext) -> Self {
        self.ctx = ctx.clone();
        self
    }
    pub fn details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    fn into_record(self, now: i64) -> AuditRecord {
        AuditRecord {
            id: uuid::Uuid::now_v7().to_string(),
            at: now,
            kind: self.kind.to_owned(),
            outcome: if self.success { "success" } else { "failure" }.to_owned(),
            reason: self.reason,
            actor: self.actor,
            subject: self.subject,
            client_id: self.client_id,
            source_ip: self.ctx.source_ip,
            request_id: self.ctx.request_id,
            details: self.details.map(|d| d.to_string()),
        }
    }
}

enum Message {
    Event(Box<AuditRecord>),
    Flush(oneshot::Sender<()>),
}

/// The audit handle shared by every part of the server.
#[derive(Clone, Debug)]
pub struct Audit {
    sender: mpsc::Sender<Message>,
    clock: SharedClock,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("audit message")
    }
}

/// Owns the background writer; `shutdown` drains what is queued.
#[derive(Debug)]
pub struct AuditWriter {
    join: JoinHandle<()>,
    close: oneshot::Sender<()>,
}

const BATCH: usize = 512;
/// How long the writer waits after the first event of a batch for others to join it.
const LINGER: Duration = Duration::from_millis(20);

impl Audit {
    /// Starts the batched writer.
    pub fn start(db: Db, clock: SharedClock) -> (Audit, AuditWriter) {
        let (sender, mut rx) = mpsc::channel::<Message>(16_384);
        let (close, mut closed) = oneshot::channel::<()>();
        let join = tokio::spawn(async move {
            let mut batch: Vec<AuditRecord> = Vec::with_capacity(BATCH);
            let mut waiting: Vec<oneshot::Sender<()>> = Vec::new();
            let mut closing = false;
            loop {
                let msg = tokio::select! {
                    m = rx.recv() => m,
                    _ = &mut closed, if !closing => { closing = true; rx.close(); rx.recv().await }
                };
                let Some(msg) = msg else { break };
                push(msg, &mut batch, &mut waiting);
                drain(&mut rx, &mut batch, &mut waiting);
                // A small batch and nobody waiting for a flush: let the burst gather, so that
                // under moderate load the writer wakes and inserts once per LINGER rather than
                // once per event (each wake is a thread switch on the hot path). A full batch is
                // written at once: under heavy load the writer never sleeps.
                if batch.len() < BATCH && waiting.is_empty() && !closing {
                    tokio::select! {
                        _ = tokio::time::sleep(LINGER) => {}
                        _ = &mut closed => { closing = true; rx.close(); }
                    }
                    drain(&mut rx, &mut batch, &mut waiting);
                }
                write(&db, &mut batch).await;
                for w in waiting.drain(..) {
                    let _ = w.send(());
                }
            }
            write(&db, &mut batch).await;
        });
        (Audit { sender, clock }, AuditWriter { join, close })
    }

    /// Queues an event for the batched writer (hot path: never waits for the database).
    pub async fn record(&self, event: AuditEvent) {
        let record = event.into_record(self.clock.now());
        if let Err(e) = self.sender.send(Message::Event(Box::new(record))).await {
            // Only after shutdown; say so rather than lose it silently.
            let Message::Event(r) = e.0 else { return };
            tracing::error!(kind = %r.kind, "audit event after shutdown, not stored");
        }
    }

    /// Writes an event inside the transaction of the change it records.
    pub async fn in_tx(&self, tx: &mut Tx, event: AuditEvent) -> Result<(), sqlx::Error> {
        insert(tx, &event.into_record(self.clock.now())).await
    }

    /// How many messages wait for the batched writer (`trousseau_audit_queue_depth`). When the
    /// queue is full, [`Audit::record`] waits: the requests that audit wait with it.
    pub fn queue_depth(&self) -> usize {
        self.sender.max_capacity() - self.sender.capacity()
    }

    /// Waits until everything queued before this call is stored.
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.sender.send(Message::Flush(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

impl AuditWriter {
    /// Stops accepting events and writes every queued one.
    pub async fn shutdown(self) {
        let _ = self.close.send(());
        if tokio::time::timeout(Duration::from_secs(30), self.join)
            .await
            .is_err()
        {
            tracing::error!("audit writer did not drain within 30 s");
        }
    }
}

/// Takes whatever is already queued, up to a batch.
fn drain(
    rx: &mut mpsc::Receiver<Message>,
    batch: &mut Vec<AuditRecord>,
    waiting: &mut Vec<oneshot::Sender<()>>,
) {
    while batch.len() < BATCH {
        match rx.try_recv() {
            Ok(m) => push(m, batch, waiting),
            Err(_) => break,
        }
    }
}

fn push(msg: Message, batch: &mut Vec<AuditRecord>, waiting: &mut Vec<oneshot::Sender<()>>) {
    match msg {
        Message::Event(r) => batch.push(*r),
        Message::Flush(w) => waiting.push(w),
    }
}

async fn write(db: &Db, batch: &mut Vec<AuditRecord>) {
    if batch.is_empty() {
        return;
    }
    let mut delay = Duration::from_millis(50);
    for attempt in 1..=5 {
        match insert_batch(db.pool(), batch).await {
            Ok(()) => {
                batch.clear();
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, attempt, "audit batch not written yet");
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
        }
    }
    tracing::error!(lost = batch.len(), "audit batch could not be written");
    batch.clear();
}
