//! The Luhn check used on RPPS, ADELI and FINESS digits.

/// True when `digits` (ASCII digits only) pass the Luhn check. Non-digits fail.
pub(crate) fn valid(digits: &str) -> bool {
    let mut sum = 0u32;
    for (i, c) in digits.bytes().rev().enumerate() {
        if !c.is_ascii_digit() {
            return false;
        }
        let mut d = u32::from(c - b'0');
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    !digits.is_empty() && sum.is_multiple_of(10)
}

/// The digit that, appended to `digits`, makes the whole pass the Luhn check.
#[cfg(test)]
pub(crate) fn check_digit(digits: &str) -> char {
    (b'0'..=b'9')
        .map(char::from)
        .find(|d| valid(&format!("{digits}{d}")))
        .unwrap_or('0')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        assert!(valid("79927398713"));
        assert!(!valid("79927398710"));
        assert!(!valid(""));
        assert!(!valid("12a4"));
    }
}
