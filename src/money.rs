//! Money is whole cents (`i64`) everywhere; this is the one place that turns it into text.

/// Formats cents as US dollars: `123456` → `$1,234.56`, `-5` → `-$0.05`.
pub fn usd(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    format!("{sign}${}.{:02}", group_thousands(abs / 100), abs % 100)
}

/// Formats a count with thousands separators: `1000` → `1,000`.
pub fn count(n: i64) -> String {
    let sign = if n < 0 { "-" } else { "" };
    format!("{sign}{}", group_thousands(n.unsigned_abs()))
}

fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Whole dollars, as the original JSON API reports prices and amounts.
pub fn whole_dollars(cents: i64) -> serde_json::Number {
    if cents % 100 == 0 {
        serde_json::Number::from(cents / 100)
    } else {
        serde_json::Number::from_f64(cents as f64 / 100.0)
            .unwrap_or_else(|| serde_json::Number::from(cents / 100))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dollars_have_cents_and_thousands_separators() {
        assert_eq!(usd(0), "$0.00");
        assert_eq!(usd(5), "$0.05");
        assert_eq!(usd(100_00), "$100.00");
        assert_eq!(usd(1_000_00), "$1,000.00");
        assert_eq!(usd(1_234_567_89), "$1,234,567.89");
        assert_eq!(usd(-1_50), "-$1.50");
    }

    #[test]
    fn counts_have_thousands_separators() {
        assert_eq!(count(7), "7");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(-1234567), "-1,234,567");
    }

    #[test]
    fn api_amounts_are_whole_dollars_when_exact() {
        assert_eq!(whole_dollars(200_00).to_string(), "200");
        assert_eq!(whole_dollars(10_50).to_string(), "10.5");
    }
}
