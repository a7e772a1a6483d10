//! Group commit: many requests, one flush.
//!
//! An ingest acknowledgement promises the events are on disk, so every request
//! waits for a flush that *started after* its write. Flushing once per request
//! would make the disk the bottleneck (each `fsync` costs milliseconds), so
//! requests register with [`GroupCommit::commit`] and one background task
//! flushes for everyone registered at that moment; whoever registers while that
//! flush runs is served by the next one. Under load a flush covers a whole
//! crowd of requests; when idle, a lone request waits for exactly one flush.
//!
//! The flush itself is a function handed in (the store's `flush`), so this
//! module knows nothing of sled and its tests use a fake disk.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::{watch, Notify};

use crate::telemetry::metric;

/// What the flusher runs: makes every write so far durable.
pub type FlushFn =
    Box<dyn Fn() -> Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>> + Send + Sync>;

/// Shared handle to the flusher; cheap to clone.
#[derive(Clone)]
pub struct GroupCommit {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<State>,
    /// Wakes the flusher when a request registers. `notify_one` keeps a permit
    /// when the flusher is busy, so no registration is missed.
    wake: Notify,
    /// The last finished flush: its number and whether it failed.
    done: watch::Sender<(u64, Option<Arc<String>>)>,
    flushes: AtomicU64,
}

struct State {
    /// The number the next flush will have; requests registering now wait for it.
    next: u64,
    /// Whether anyone waits for flush `next`.
    waiting: bool,
    /// Set by [`GroupCommit::stop`]: the task ends, dropping the flush function
    /// (and with it the store it holds).
    stopped: bool,
}

impl GroupCommit {
    /// Starts the flusher task on the current Tokio runtime. It runs until
    /// [`GroupCommit::stop`] or the runtime ends.
    pub fn start(flush: FlushFn) -> Self {
        let (done, _) = watch::channel((0, None));
        let inner = Arc::new(Inner {
            state: Mutex::new(State {
                next: 1,
                waiting: false,
                stopped: false,
            }),
            wake: Notify::new(),
            done,
            flushes: AtomicU64::new(0),
        });
        let task = inner.clone();
        tokio::spawn(async move {
            loop {
                let number = {
                    // Poisoning needs a panic while holding the lock, and the
                    // critical sections here cannot panic.
                    let mut st = task.state.lock().expect("group commit state");
                    if st.waiting {
                        st.waiting = false;
                        st.next += 1;
                        Some(st.next - 1)
                    } else if st.stopped {
                        return;
                    } else {
                        None
                    }
                };
                let Some(number) = number else {
                    // A registration between the check and here left a permit.
                    task.wake.notified().await;
                    continue;
                };
                let started = Instant::now();
                let result = flush().await;
                ::metrics::histogram!(metric::FLUSH_SECONDS).record(started.elapsed());
                ::metrics::counter!(metric::FLUSHES).increment(1);
                task.flushes.fetch_add(1, Ordering::Relaxed);
                let err = result.err().map(|e| Arc::new(format!("{e:#}")));
                task.done.send_replace((number, err));
            }
        });
        Self { inner }
    }

    /// Returns once a flush that started after this call has finished: every
    /// write made before calling is then on disk.
    pub async fn commit(&self) -> anyhow::Result<()> {
        let mut rx = self.inner.done.subscribe();
        let number = {
            let mut st = self.inner.state.lock().expect("group commit state");
            anyhow::ensure!(!st.stopped, "the store is shutting down");
            st.waiting = true;
            st.next
        };
        self.inner.wake.notify_one();
        let done = rx
            .wait_for(|(n, _)| *n >= number)
            .await
            .map_err(|_| anyhow::anyhow!("the flusher stopped"))?;
        match &done.1 {
            // A later flush than ours may be what we see; it started after our
            // write too, so its result is ours.
            None => Ok(()),
            Some(e) => Err(anyhow::anyhow!("flushing the store: {e}")),
        }
    }

    /// Ends the flusher task once waiting requests are served; later commits fail.
    pub fn stop(&self) {
        self.inner.state.lock().expect("group commit state").stopped = true;
        self.inner.wake.notify_one();
    }

    /// How many flushes have run: the measure of how well requests are grouped.
    pub fn flushes(&self) -> u64 {
        self.inner.flushes.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    fn slow_disk(writes_durable: Arc<AtomicU64>, written: Arc<AtomicU64>) -> FlushFn {
        Box::new(move || {
            let (durable, written) = (writes_durable.clone(), written.clone());
            Box::pin(async move {
                // Everything written before the flush starts is durable after it.
                let upto = written.load(Ordering::SeqCst);
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                durable.fetch_max(upto, Ordering::SeqCst);
                Ok(())
            })
        })
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_commits_share_flushes_and_each_sees_its_write_durable() {
        let durable = Arc::new(AtomicU64::new(0));
        let written = Arc::new(AtomicU64::new(0));
        let gc = GroupCommit::start(slow_disk(durable.clone(), written.clone()));
        let tasks: Vec<_> = (0..200)
            .map(|_| {
                let (gc, durable, written) = (gc.clone(), durable.clone(), written.clone());
                tokio::spawn(async move {
                    let mine = written.fetch_add(1, Ordering::SeqCst) + 1;
                    gc.commit().await.unwrap();
                    assert!(
                        durable.load(Ordering::SeqCst) >= mine,
                        "acknowledged before durable"
                    );
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let flushes = gc.flushes();
        assert!(flushes >= 1);
        assert!(flushes < 50, "200 commits took {flushes} flushes");
    }

    #[tokio::test]
    async fn a_lone_commit_gets_one_flush_and_a_failure_reaches_its_waiters() {
        let fail = Arc::new(AtomicBool::new(false));
        let f = fail.clone();
        let gc = GroupCommit::start(Box::new(move || {
            let fail = f.load(Ordering::SeqCst);
            Box::pin(async move {
                if fail {
                    anyhow::bail!("disk full")
                }
                Ok(())
            })
        }));
        gc.commit().await.unwrap();
        assert_eq!(gc.flushes(), 1);
        fail.store(true, Ordering::SeqCst);
        let err = gc.commit().await.unwrap_err();
        assert!(err.to_string().contains("disk full"), "{err}");
        fail.store(false, Ordering::SeqCst);
        gc.commit().await.unwrap();
        assert_eq!(gc.flushes(), 3);
    }
}
