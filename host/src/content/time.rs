//! Time-picker slots as people read them: local time in the picker's IANA zone.

use jiff::tz::TimeZone;
use jiff::Timestamp;

/// Is `zone` a known IANA time zone?
pub fn valid_zone(zone: &str) -> bool {
    TimeZone::get(zone).is_ok()
}

/// "Tue 24 Nov, 14:00–14:30" in `zone` (UTC when the zone is unknown, and then said so).
pub fn slot_label(start_ms: u64, duration_minutes: u32, zone: &str) -> String {
    let (tz, suffix) = match TimeZone::get(zone) {
        Ok(tz) => (tz, String::new()),
        Err(_) => (TimeZone::UTC, " UTC".to_string()),
    };
    let Ok(start) = Timestamp::from_millisecond(start_ms as i64) else {
        return format!("{start_ms}");
    };
    let start = start.to_zoned(tz);
    let end = start
        .checked_add(jiff::Span::new().minutes(i64::from(duration_minutes)))
        .ok();
    let day = start.strftime("%a %-d %b, %H:%M").to_string();
    match end {
        Some(end) if duration_minutes > 0 => {
            format!("{day}–{}{suffix}", end.strftime("%H:%M"))
        }
        _ => format!("{day}{suffix}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_read_in_local_time_across_daylight_saving() {
        // 2026-11-24T13:00:00Z is 14:00 in Berlin (CET, +1).
        assert_eq!(
            slot_label(1_795_525_200_000, 30, "Europe/Berlin"),
            "Tue 24 Nov, 14:00–14:30"
        );
        // 2026-07-01T13:00:00Z is 15:00 in Berlin (CEST, +2).
        assert_eq!(
            slot_label(1_782_910_800_000, 60, "Europe/Berlin"),
            "Wed 1 Jul, 15:00–16:00"
        );
        assert_eq!(
            slot_label(1_795_525_200_000, 0, "Mars/Olympus"),
            "Tue 24 Nov, 13:00 UTC"
        );
        assert!(valid_zone("America/New_York") && !valid_zone("Mars/Olympus"));
    }
}
