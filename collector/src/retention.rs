//! The collector's background jobs: the retention sweep, which calls
//! [`Store::sweep`] every `retention_sweep_secs` (the first sweep at start-up,
//! which also finishes any deletion a crash interrupted), and the integrity
//! checkpoint, which calls [`Store::checkpoint`] for every tenant every
//! `checkpoint_interval_secs`. Each stops when asked, between runs.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::routes::ingest::now_ms;
use crate::store::Store;

/// Milliseconds in a day, to turn `retention_days` into an age.
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// A job that runs every period (the first run at once). [`Job::stop`]
/// waits for a run in progress, so the store is flushed after it, never
/// under it.
pub struct Job {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Job {
    /// Runs `run` every `every` (clamped to at least a second: a zero period
    /// would spin); a run that overruns delays the next.
    pub fn spawn<F, Fut>(every: Duration, mut run: F) -> Self
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send,
    {
        let (stop, mut stopped) = watch::channel(false);
        let mut interval = tokio::time::interval(every.max(Duration::from_secs(1)));
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = interval.tick() => {}
                    _ = stopped.changed() => break,
                }
                run().await;
            }
        });
        Job { stop, task }
    }

    /// Stops the job after the run in progress, if any.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "a background job ended abnormally");
        }
    }
}

/// Sweeps sessions idle for more than `days`, every `every`.
pub fn retention(store: Store, days: u32, every: Duration) -> Job {
    let max_age = i64::from(days) * DAY_MS;
    Job::spawn(every, move || {
        let store = store.clone();
        async move {
            let swept = tokio::task::spawn_blocking(move || {
                let left = store.sweep(now_ms(), max_age)?;
                Ok::<_, anyhow::Error>((left, store))
            })
            .await;
            match swept {
                Ok(Ok((left, store))) => {
                    if !left.is_empty() {
                        if let Err(e) = store.flush().await {
                            tracing::error!(
                                error = format!("{e:#}"),
                                "flushing after a retention sweep"
                            );
                        }
                        ::metrics::counter!(crate::telemetry::metric::SESSIONS_DELETED, "reason" => "retention")
                            .increment(left.len() as u64);
                        tracing::info!(sessions = left.len(), "retention deleted sessions");
                    }
                }
                Ok(Err(e)) => {
                    tracing::error!(error = format!("{e:#}"), "retention sweep failed")
                }
                Err(e) => tracing::error!(error = %e, "retention sweep task failed"),
            }
        }
    })
}

/// Checkpoints every tenant's session chains into its activity log, every
/// `every`, and logs each tenant's activity-log length and head when it
/// moved since the last line (once per tenant after a start): that line,
/// kept by whatever collects the logs, is the pin outside the store
/// (`GET /api/v1/audit/verify?length=&head=`) that vouches for the log and
/// every trail it checkpointed.
pub fn checkpoint(store: Store, every: Duration) -> Job {
    let logged: Arc<Mutex<HashMap<String, u64>>> = Arc::default();
    Job::spawn(every, move || {
        let (store, logged) = (store.clone(), logged.clone());
        async move {
            let done = tokio::task::spawn_blocking(move || {
                let now = now_ms();
                let mut done = Vec::new();
                for tenant in store.tenants()? {
                    // One tenant's failure does not hold back the others'.
                    match store.checkpoint(&tenant, now) {
                        Ok(c) => done.push((c, tenant)),
                        Err(e) => tracing::error!(
                            tenant = %tenant,
                            error = format!("{e:#}"),
                            "checkpoint failed"
                        ),
                    }
                }
                Ok::<_, anyhow::Error>((done, store))
            })
            .await;
            match done {
                Ok(Ok((done, store))) => {
                    // A pin is logged only once what it names is on disk
                    // (other writers' entries, a sweep's deletions, too).
                    let moved = {
                        let logged = logged.lock().unwrap_or_else(|p| p.into_inner());
                        done.iter()
                            .any(|(c, t)| logged.get(t.as_str()) != Some(&c.log_length))
                    };
                    if moved || done.iter().any(|(c, _)| c.entries > 0) {
                        if let Err(e) = store.flush().await {
                            tracing::error!(
                                error = format!("{e:#}"),
                                "flushing after a checkpoint"
                            );
                            return;
                        }
                    }
                    let mut logged = logged.lock().unwrap_or_else(|p| p.into_inner());
                    for (c, tenant) in &done {
                        if logged.get(tenant.as_str()) == Some(&c.log_length) {
                            continue;
                        }
                        logged.insert(tenant.as_str().to_owned(), c.log_length);
                        tracing::info!(
                            tenant = %tenant,
                            sessions = c.sessions,
                            activity_log_length = c.log_length,
                            activity_log_head = %c.log_head,
                            "integrity checkpoint"
                        );
                    }
                }
                Ok(Err(e)) => tracing::error!(error = format!("{e:#}"), "checkpoint failed"),
                Err(e) => tracing::error!(error = %e, "checkpoint task failed"),
            }
        }
    })
}
