//! The retention job: a background task that calls [`Store::sweep`] every
//! `retention_sweep_secs` (the first sweep at start-up, which also finishes any
//! deletion a crash interrupted) and stops when asked, between sweeps.

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::routes::ingest::now_ms;
use crate::store::Store;

/// Milliseconds in a day, to turn `retention_days` into an age.
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// The running job. [`RetentionJob::stop`] waits for a sweep in progress, so
/// the store is flushed after it, never under it.
pub struct RetentionJob {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl RetentionJob {
    /// Starts sweeping sessions idle for more than `days`, every `every`
    /// (clamped to at least a second: a zero period would spin).
    pub fn spawn(store: Store, days: u32, every: Duration) -> Self {
        let (stop, mut stopped) = watch::channel(false);
        let max_age = i64::from(days) * DAY_MS;
        let mut interval = tokio::time::interval(every.max(Duration::from_secs(1)));
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = interval.tick() => {}
                    _ = stopped.changed() => break,
                }
                let store = store.clone();
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
        });
        RetentionJob { stop, task }
    }

    /// Stops the job after the sweep in progress, if any.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "retention job ended abnormally");
        }
    }
}
