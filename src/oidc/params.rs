//! Form and query parameters parsed once, refusing repeated parameters (RFC 6749 §3.1, §3.2).

use std::collections::HashMap;

use super::error::OAuthError;

/// Request parameters, each present at most once.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Params(HashMap<String, String>);

impl Params {
    /// Parses `application/x-www-form-urlencoded` text.
    pub fn parse(text: &[u8]) -> Result<Params, OAuthError> {
        let mut map = HashMap::new();
        for (k, v) in url::form_urlencoded::parse(text) {
            if map.insert(k.to_string(), v.to_string()).is_some() {
                return Err(OAuthError::invalid_request(format!(
                    "the parameter {k} is repeated"
                )));
            }
        }
        Ok(Params(map))
    }

    pub fn from_map(map: HashMap<String, String>) -> Params {
        Params(map)
    }

    /// A parameter, with the empty value treated as absent (RFC 6749 §3.1).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub fn require(&self, key: &str) -> Result<&str, OAuthError> {
        self.get(key)
            .ok_or_else(|| OAuthError::invalid_request(format!("the parameter {key} is missing")))
    }

    pub fn remove(&mut self, key: &str) -> Option<String> {
        self.0.remove(key)
    }

    pub fn insert(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }

    pub fn contains(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.0).unwrap_or_else(|_| "{}".to_owned())
    }

    pub fn from_json(text: &str) -> Option<Params> {
        serde_json::from_str(text).ok().map(Params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_parameters_are_refused() {
        assert!(Params::parse(b"a=1&b=2").is_ok());
        let e = Params::parse(b"a=1&a=2").unwrap_err();
        assert!(e.description.contains('a'));
    }

    #[test]
    fn empty_values_are_absent() {
        let p = Params::parse(b"a=&b=x%20y").unwrap();
        assert_eq!(p.get("a"), None);
        assert_eq!(p.get("b"), Some("x y"));
    }
}
