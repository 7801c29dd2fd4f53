//! The one injected clock that decides every expiry (design.md, "Time").

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// Unix time in seconds, as every table stores it.
pub type UnixTime = i64;

/// Source of the current time. Tests use [`FixedClock`] and move it.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> UnixTime;
}

/// The wall clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> UnixTime {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    }
}

/// A clock that only moves when told to.
#[derive(Debug)]
pub struct FixedClock(AtomicI64);

impl FixedClock {
    pub fn new(start: UnixTime) -> Arc<FixedClock> {
        Arc::new(FixedClock(AtomicI64::new(start)))
    }
    /// Moves the clock forward by `secs`.
    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> UnixTime {
        self.0.load(Ordering::SeqCst)
    }
}

/// The shared handle passed around in application state.
pub type SharedClock = Arc<dyn Clock>;

/// The establishment's time zone (`establishment.time_zone`, an IANA name such as
/// `Europe/Paris`), from the tz database compiled into the binary. HR dates are whole days
/// there: a day starts at local midnight.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct LocalZone {
    name: String,
    zone: jiff::tz::TimeZone,
}

impl TryFrom<String> for LocalZone {
    type Error = String;
    fn try_from(name: String) -> Result<Self, Self::Error> {
        let zone = jiff::tz::TimeZone::get(&name).map_err(|_| {
            format!("{name:?} is not a time zone of the tz database (e.g. \"Europe/Paris\")")
        })?;
        Ok(LocalZone { name, zone })
    }
}

impl LocalZone {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The local calendar date at `unix`, as `YYYY-MM-DD` (the form HR dates are stored in).
    pub fn date(&self, unix: UnixTime) -> String {
        let date = jiff::Timestamp::from_second(unix)
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
            .to_zoned(self.zone.clone())
            .date();
        format!("{:04}-{:02}-{:02}", date.year(), date.month(), date.day())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_dates_change_at_local_midnight() {
        let paris = LocalZone::try_from("Europe/Paris".to_owned()).unwrap();
        // 2026-01-15 23:30 UTC is already the 16th in Paris (UTC+1 in winter).
        assert_eq!(paris.date(1_768_519_800), "2026-01-16");
        // 2026-07-15 21:59:59 UTC is 23:59:59 in Paris (UTC+2 in summer); a second later, the 16th.
        assert_eq!(paris.date(1_784_152_799), "2026-07-15");
        assert_eq!(paris.date(1_784_152_800), "2026-07-16");
        assert!(LocalZone::try_from("Europe/Lutece".to_owned()).is_err());
    }
}
