//! Durations as written in files: `250ms`, `30s`, `10m`, `2h`, `1d`, `1m30s`.

use std::time::Duration;

pub(crate) fn parse(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!("`{s}` is not a duration"));
        }
        let n: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("`{s}` is too large"))?;
        rest = &rest[digits..];
        if let Some(after) = rest.strip_prefix('.') {
            return Err(fraction(s, n, after));
        }
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        let ms = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "" => return Err(format!("`{s}` needs a unit (ms, s, m, h or d)")),
            other => {
                return Err(format!(
                    "unknown unit `{}` in `{s}` (use ms, s, m, h or d)",
                    other.trim()
                ))
            }
        };
        let add = n
            .checked_mul(ms)
            .ok_or_else(|| format!("`{s}` is too large"))?;
        total = total
            .checked_add(Duration::from_millis(add))
            .ok_or_else(|| format!("`{s}` is too large"))?;
        rest = &rest[unit_len..];
    }
    Ok(total)
}

/// The unit's length in milliseconds.
fn unit_ms(unit: &str) -> Option<u64> {
    Some(match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    })
}

/// `1.5s`: durations are whole numbers of a unit, so say what to write
/// instead (`1500ms`) when the value is a whole number of a smaller one.
fn fraction(s: &str, whole: u64, after: &str) -> String {
    let digits = after
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(after.len());
    let (frac, rest) = after.split_at(digits);
    let unit_len = rest
        .find(|c: char| c.is_ascii_digit() || c == '.')
        .unwrap_or(rest.len());
    let unit = rest[..unit_len].trim();
    let base = format!("`{s}` has a fraction; durations are whole numbers");
    let exact = (|| {
        let ms = unit_ms(unit)?;
        let scale = 10u64.checked_pow(u32::try_from(frac.len()).ok()?)?;
        let f: u64 = if frac.is_empty() {
            0
        } else {
            frac.parse().ok()?
        };
        let total = whole.checked_mul(ms)?.checked_mul(scale)?;
        let total = total.checked_add(f.checked_mul(ms)?)?;
        (total % scale == 0).then_some(total / scale)
    })();
    match exact {
        Some(ms) => {
            let (n, u) = [
                ("d", 86_400_000),
                ("h", 3_600_000),
                ("m", 60_000),
                ("s", 1_000),
            ]
            .into_iter()
            .find(|(_, size)| ms % size == 0 && ms >= *size)
            .map_or((ms, "ms"), |(u, size)| (ms / size, u));
            format!("{base}: use {n}{u}")
        }
        None if unit_ms(unit).is_some() => {
            format!("{base} of milliseconds at the finest (use ms, s, m, h or d)")
        }
        None => format!("{base} with a unit (ms, s, m, h or d)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_combinations() {
        assert_eq!(parse("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse("1d").unwrap(), Duration::from_secs(86400));
        assert!(parse("10").unwrap_err().contains("unit"));
        assert!(parse("5 minutes").is_err());
        assert!(parse("3w").unwrap_err().contains("unknown unit"));
        assert!(parse("").is_err());
        assert!(parse("99999999999999999999s").is_err());
    }

    #[test]
    fn a_fraction_says_what_to_write_instead() {
        let err = |s: &str| parse(s).unwrap_err();
        assert_eq!(
            err("1.5s"),
            "`1.5s` has a fraction; durations are whole numbers: use 1500ms"
        );
        assert!(err("1.5m").ends_with("use 90s"), "{}", err("1.5m"));
        assert!(err("0.5h").ends_with("use 30m"), "{}", err("0.5h"));
        assert!(err("2.0s").ends_with("use 2s"), "{}", err("2.0s"));
        assert!(
            err("0.0001s").contains("milliseconds"),
            "{}",
            err("0.0001s")
        );
        assert!(err("1.5").contains("with a unit"), "{}", err("1.5"));
        assert!(err("1.5w").contains("with a unit"), "{}", err("1.5w"));
    }
}
