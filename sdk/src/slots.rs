//! Time-picker slots as people read them: the start in the picker's own IANA time zone, for
//! channels that show slots as list rows or quick replies instead of a native picker. The
//! time-zone database is compiled in (a plugin has no file system), so behind the `time`
//! feature.

use crate::{ChannelError, Result, TimePicker};

pub use jiff::tz::TimeZone;

/// The picker's zone; an unknown name is the author's mistake (`bad-request`).
pub fn zone(picker: &TimePicker) -> Result<TimeZone> {
    TimeZone::get(&picker.time_zone).map_err(|_| {
        ChannelError::bad_request(format!(
            "time picker: `{}` is not an IANA time zone",
            picker.time_zone
        ))
    })
}

/// A slot start as a short local label, e.g. `Tue 24 Nov 14:00` (16 characters).
pub fn label(start_ms: u64, zone: &TimeZone) -> Result<String> {
    let at = i64::try_from(start_ms)
        .ok()
        .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
        .ok_or_else(|| {
            ChannelError::bad_request(format!(
                "time picker: slot start {start_ms} is out of range"
            ))
        })?;
    Ok(at
        .to_zoned(zone.clone())
        .strftime("%a %d %b %H:%M")
        .to_string())
}
