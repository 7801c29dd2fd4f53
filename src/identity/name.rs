//! Person names compared the way registries write them: no accents, one case, single spaces.

/// Folds a name for comparison: accents removed, lower case, hyphens and apostrophes as
/// spaces, runs of spaces collapsed.
pub fn normalise(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars().flat_map(char::to_lowercase) {
        let folded = match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => "a",
            'ç' => "c",
            'è' | 'é' | 'ê' | 'ë' => "e",
            'ì' | 'í' | 'î' | 'ï' => "i",
            'ñ' => "n",
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' => "o",
            'ù' | 'ú' | 'û' | 'ü' => "u",
            'ý' | 'ÿ' => "y",
            'æ' => "ae",
            'œ' => "oe",
            c if c.is_ascii_alphanumeric() => {
                out.push(c);
                continue;
            }
            _ => " ",
        };
        if folded == " " {
            if !out.is_empty() && !out.ends_with(' ') {
                out.push(' ');
            }
        } else {
            out.push_str(folded);
        }
    }
    out.trim_end().to_owned()
}

/// The username stem for a new identity: first initial of the given name and the family name,
/// folded to ASCII letters and digits (`Jean-Marie Dupré` → `jdupre`).
pub fn username_stem(given_name: &str, family_name: &str) -> String {
    let initial: String = normalise(given_name)
        .chars()
        .find(char::is_ascii_alphanumeric)
        .into_iter()
        .collect();
    let family: String = normalise(family_name)
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(30)
        .collect();
    let stem = format!("{initial}{family}");
    if stem.is_empty() {
        "user".to_owned()
    } else {
        stem
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn folds() {
        assert_eq!(normalise("  Jean-Marie  D'ÉTÉ "), "jean marie d ete");
        assert_eq!(username_stem("Élodie", "Le Gœuil"), "elegoeuil");
        assert_eq!(username_stem("", ""), "user");
    }

    proptest! {
        #[test]
        fn stems_are_valid_usernames(g in "\\PC{0,20}", f in "\\PC{0,40}") {
            let s = username_stem(&g, &f);
            prop_assert!(!s.is_empty() && s.len() <= 31);
            prop_assert!(s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
        }

        #[test]
        fn normalise_is_idempotent(s in "\\PC{0,30}") {
            let once = normalise(&s);
            prop_assert_eq!(normalise(&once), once.clone());
        }
    }
}
