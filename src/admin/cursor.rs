//! Keyset cursors of the admin lists (audit trail, pairings, findings): the sort key and the
//! id of the last row of a page, opaque to callers (base64url of `key:id`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The longest key or id a cursor may carry (anything longer was not given by this server).
const MAX_PART: usize = 64;

/// The cursor of the page after the row (`key`, `id`).
pub fn encode(key: impl std::fmt::Display, id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{key}:{id}"))
}

/// Reads a cursor back into its key and id; `None` for one this server did not give.
pub fn decode(text: &str) -> Option<(String, String)> {
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(text).ok()?).ok()?;
    let (key, id) = raw.split_once(':')?;
    (key.len() <= MAX_PART && id.len() <= MAX_PART).then(|| (key.to_owned(), id.to_owned()))
}

/// A cursor whose key is a time (or any whole number).
pub fn decode_timed(text: &str) -> Option<(i64, String)> {
    let (key, id) = decode(text)?;
    Some((key.parse().ok()?, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_and_a_foreign_one_does_not() {
        assert_eq!(
            decode_timed(&encode(1_700_000_000, "0191-abc")),
            Some((1_700_000_000, "0191-abc".into()))
        );
        assert_eq!(
            decode(&encode("changed", "f1")),
            Some(("changed".into(), "f1".into()))
        );
        for bad in [
            "",
            "!!",
            &encode(1, &"x".repeat(65)),
            &encode("k".repeat(65), "x"),
        ] {
            assert_eq!(decode(bad), None, "{bad}");
        }
        assert_eq!(decode_timed(&encode("x", "y")), None);
    }
}
