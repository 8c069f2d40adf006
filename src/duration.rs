//! Durations as people read them; a leaf every layer may use.

use std::time::Duration;

/// Short human form of a duration: `820ms`, `3.2s`, `2m05s`.
pub(crate) fn short(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        let s = d.as_secs();
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

/// Whole milliseconds, as events and the history store them.
pub(crate) fn millis(d: Duration) -> u64 {
    d.as_millis() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_forms() {
        assert_eq!(short(Duration::from_millis(820)), "820ms");
        assert_eq!(short(Duration::from_millis(3240)), "3.2s");
        assert_eq!(short(Duration::from_secs(125)), "2m05s");
    }
}
