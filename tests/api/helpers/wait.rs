//! Waiting for an event with a bounded timeout, instead of sleeping a fixed time and hoping.

use std::future::Future;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long any event may take before the test fails.
pub const LIMIT: Duration = Duration::from_secs(10);

/// How often the condition is checked again.
const POLL: Duration = Duration::from_millis(20);

/// Waits until `check` holds; fails the test after [`LIMIT`], naming `what` was awaited.
pub async fn until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(
            start.elapsed() < LIMIT,
            "timed out after {LIMIT:?} waiting for {what}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// Waits until `check` gives a value; fails the test after [`LIMIT`], naming `what`.
pub async fn value<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            start.elapsed() < LIMIT,
            "timed out after {LIMIT:?} waiting for {what}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// Waits until the wall clock enters its next second: for peers whose timestamps have a
/// one-second resolution (LDAP `modifyTimestamp`, a CRL's `thisUpdate`).
pub async fn next_second() {
    let second = || {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_secs()
    };
    let now = second();
    until("the next second of the wall clock", || async {
        second() > now
    })
    .await;
}
