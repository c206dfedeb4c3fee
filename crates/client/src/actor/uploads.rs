//! The outbox's uploads, off the actor: while a connection is open, the files of the first
//! queued message that has some still to upload go up (one message at a time: the outbox keeps
//! its order), and the actor hears how it ended. A transfer that fails for now is tried again
//! after a pause; only the server's refusal of a file ends it early.

use crate::event::{Event, Events};
use crate::files::transfer::{self, Counter};
use crate::files::{LocalFile, Uploaded, staged};
use crate::outbox::{Draft, Queued};
use crate::refresh::Refresher;
use crate::{Error, Result};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::debug;

/// How often progress is reported while bytes move.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

pub(crate) struct Uploads {
    dir: PathBuf,
    running: Option<JoinHandle<()>>,
    tx: mpsc::Sender<Uploaded>,
    rx: mpsc::Receiver<Uploaded>,
}

impl Uploads {
    pub(crate) fn new(dir: PathBuf) -> Self {
        let (tx, rx) = mpsc::channel(1);
        Self {
            dir,
            running: None,
            tx,
            rx,
        }
    }

    pub(crate) fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    pub(crate) fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// Starts uploading `message`'s files.
    pub(crate) fn start(&mut self, message: Queued, refresher: Refresher, events: Events) {
        let (dir, tx) = (self.dir.clone(), self.tx.clone());
        self.running = Some(tokio::spawn(async move {
            let id = message.id.clone();
            let result = upload(&dir, message, &refresher, &events).await;
            let _ = tx.send(Uploaded { id, result }).await;
        }));
    }

    /// The end of the running upload; never, when none runs.
    pub(crate) async fn next(&mut self) -> Uploaded {
        if self.running.is_none() {
            return std::future::pending().await;
        }
        match self.rx.recv().await {
            Some(done) => {
                self.running = None;
                done
            }
            // Unreachable: `self` holds a sender.
            None => std::future::pending().await,
        }
    }

    /// The connection ended: the upload stops (the next one starts the file over; the server
    /// keeps nothing of a cut upload, and answers the same id for bytes it has).
    pub(crate) fn stop(&mut self) {
        if let Some(task) = self.running.take() {
            task.abort();
        }
        while self.rx.try_recv().is_ok() {}
    }
}

async fn upload(
    dir: &std::path::Path,
    message: Queued,
    refresher: &Refresher,
    events: &Events,
) -> Result<Vec<LocalFile>> {
    let Draft::Message { mut files, .. } = message.draft.clone() else {
        return Ok(Vec::new());
    };
    let total = files
        .iter()
        .filter(|f| f.file_id.is_none())
        .map(|f| f.size)
        .sum();
    let sent = Counter::default();
    let moved = Counter::clone(&sent);
    let work = async move {
        let sent = moved;
        for file in files.iter_mut().filter(|f| f.file_id.is_none()) {
            let base = sent.load(Ordering::Relaxed);
            let mut pause = Duration::from_secs(1);
            let up = loop {
                match transfer::upload(refresher, &staged(dir, &file.sha256), file, &sent).await {
                    Ok(up) => break up,
                    Err(e) if transfer::refused_for_good(&e) || e.needs_sign_in() => return Err(e),
                    Err(e) => {
                        debug!(error = %e, "an upload failed for now; trying again");
                        sent.store(base, Ordering::Relaxed);
                        tokio::time::sleep(pause).await;
                        pause = (pause * 2).min(Duration::from_secs(30));
                    }
                }
            };
            file.file_id = Some(up.file_id);
            file.mime = up.mime;
        }
        Ok::<_, Error>(files)
    };
    tokio::pin!(work);
    let mut tick = tokio::time::interval(PROGRESS_EVERY);
    let mut told = u64::MAX;
    let progress = |sent: u64| Event::Uploading {
        id: message.id.clone(),
        room: message.room.clone(),
        sent,
        total,
    };
    loop {
        tokio::select! {
            done = &mut work => {
                let files = done?;
                let _ = events.emit(progress(total)).await;
                return Ok(files);
            }
            _ = tick.tick() => {
                let now = sent.load(Ordering::Relaxed);
                if now != told {
                    told = now;
                    let _ = events.emit(progress(now)).await;
                }
            }
        }
    }
}
