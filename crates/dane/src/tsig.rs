//! TSIG keys (RFC 8945) from the files administrators already have.
//!
//! Three forms are read, hand-parsed because each is a few lines and no
//! crate reads them: BIND's `key "NAME" { algorithm …; secret "…"; };`
//! (what `tsig-keygen` and `ddns-confgen` print, also valid in
//! `named.conf`), Knot's YAML `key:` section (what `keymgr -t` prints),
//! and the one-line `[ALGORITHM:]NAME:SECRET` of `kdig -y`/`nsupdate -y`.

use std::path::Path;

use base64::Engine as _;
use hickory_proto::rr::rdata::tsig::TsigAlgorithm;
use hickory_proto::rr::TSigner;

use crate::error::DaneError;
use crate::resolver::parse_name;

/// Algorithms a key may name (those hickory-proto signs with).
const ALGORITHMS: &[&str] = &["hmac-sha256", "hmac-sha384", "hmac-sha512"];

/// A TSIG key: its name, algorithm and secret.
#[derive(Clone, PartialEq, Eq)]
pub struct TsigKey {
    pub name: String,
    pub algorithm: String,
    pub secret: Vec<u8>,
}

impl std::fmt::Debug for TsigKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret.
        f.debug_struct("TsigKey")
            .field("name", &self.name)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl TsigKey {
    /// Reads the first key of a key file.
    pub fn from_file(path: &Path) -> Result<TsigKey, DaneError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| DaneError::KeyFileUnreadable {
                path: path.to_path_buf(),
                source,
            })?;
        TsigKey::parse(&text).map_err(|problem| DaneError::KeyFile {
            path: path.to_path_buf(),
            problem,
        })
    }

    /// Parses a key file's text; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<TsigKey, String> {
        let uncommented: Vec<&str> = text
            .lines()
            .map(|line| line.split('#').next().unwrap_or(""))
            .map(|line| line.split("//").next().unwrap_or(""))
            .collect();
        let text = uncommented.join("\n");
        let (name, algorithm, secret) = if text.contains('{') {
            bind_key(&text)?
        } else if text.contains("secret:") {
            knot_key(&text)?
        } else {
            one_line_key(&text)?
        };
        let algorithm = algorithm.trim().trim_end_matches('.').to_ascii_lowercase();
        if !ALGORITHMS.contains(&algorithm.as_str()) {
            return Err(format!(
                "algorithm '{algorithm}' is not supported (use one of {})",
                ALGORITHMS.join(", ")
            ));
        }
        let secret = base64::engine::general_purpose::STANDARD
            .decode(secret.trim())
            .map_err(|e| format!("the secret is not base64 ({e})"))?;
        if secret.is_empty() {
            return Err("the secret is empty".into());
        }
        let name = name.trim().trim_matches('"').to_string();
        if name.is_empty() || parse_name(&name).is_err() {
            return Err(format!("'{name}' is not a key name"));
        }
        Ok(TsigKey {
            name,
            algorithm,
            secret,
        })
    }

    /// The signer for hickory-proto's messages (300 s fudge, as BIND).
    pub fn signer(&self) -> Result<TSigner, DaneError> {
        let algorithm = match self.algorithm.as_str() {
            "hmac-sha384" => TsigAlgorithm::HmacSha384,
            "hmac-sha512" => TsigAlgorithm::HmacSha512,
            _ => TsigAlgorithm::HmacSha256,
        };
        TSigner::new(self.secret.clone(), algorithm, parse_name(&self.name)?, 300)
            .map_err(|e| DaneError::Message(format!("TSIG key {}: {e}", self.name)))
    }
}

fn bind_key(text: &str) -> Result<(String, String, String), String> {
    let start = text
        .find("key")
        .ok_or("no `key \"NAME\" { … };` statement")?;
    let rest = &text[start + 3..];
    let open = rest.find('{').ok_or("the key statement has no `{`")?;
    let name = rest[..open].trim().trim_matches('"').to_string();
    let close = rest
        .find('}')
        .ok_or("the key statement is not closed with `};`")?;
    let body = &rest[open + 1..close];
    let mut algorithm = None;
    let mut secret = None;
    for statement in body.split(';') {
        let mut words = statement.split_whitespace();
        match words.next() {
            Some("algorithm") => algorithm = words.next().map(|w| w.trim_matches('"').to_string()),
            Some("secret") => {
                secret = Some(words.collect::<String>().trim_matches('"').to_string())
            }
            _ => {}
        }
    }
    Ok((
        name,
        algorithm.ok_or("the key has no `algorithm …;`")?,
        secret.ok_or("the key has no `secret \"…\";`")?,
    ))
}

fn knot_key(text: &str) -> Result<(String, String, String), String> {
    let mut name = None;
    let mut algorithm = None;
    let mut secret = None;
    for line in text.lines() {
        let line = line.trim().trim_start_matches('-').trim();
        let Some((field, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim().trim_matches('"').to_string();
        match field.trim() {
            "id" if name.is_none() => name = Some(value),
            "algorithm" if algorithm.is_none() => algorithm = Some(value),
            "secret" if secret.is_none() => secret = Some(value),
            _ => {}
        }
    }
    Ok((
        name.ok_or("the key has no `id:`")?,
        algorithm.ok_or("the key has no `algorithm:`")?,
        secret.ok_or("the key has no `secret:`")?,
    ))
}

fn one_line_key(text: &str) -> Result<(String, String, String), String> {
    let line = text
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .ok_or("the file is empty")?;
    let parts: Vec<&str> = line.split(':').collect();
    match parts[..] {
        [algorithm, name, secret] => Ok((name.into(), algorithm.into(), secret.into())),
        [name, secret] => Ok((name.into(), "hmac-sha256".into(), secret.into())),
        _ => {
            Err("neither a BIND or Knot key statement nor a line `hmac-sha256:NAME:SECRET`".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I=";

    #[test]
    fn reads_bind_knot_and_one_line_keys_alike() {
        let bind = format!(
            "key \"update-key\" {{\n\talgorithm hmac-sha256;\n\tsecret \"{SECRET}\";\n}};\n"
        );
        let knot = format!("# hmac-sha256:update-key:{SECRET}\nkey:\n  - id: update-key\n    algorithm: hmac-sha256\n    secret: {SECRET}\n");
        let line = format!("hmac-sha256:update-key:{SECRET}\n");
        let keys: Vec<TsigKey> = [bind, knot, line]
            .iter()
            .map(|text| TsigKey::parse(text).unwrap())
            .collect();
        assert!(keys.iter().all(|k| k == &keys[0]), "{keys:?}");
        assert_eq!(keys[0].name, "update-key");
        assert_eq!(keys[0].algorithm, "hmac-sha256");
        assert!(keys[0].signer().is_ok());
    }

    #[test]
    fn says_what_is_wrong() {
        let md5 = TsigKey::parse(&format!("hmac-md5:k:{SECRET}")).unwrap_err();
        assert!(
            md5.contains("hmac-md5") && md5.contains("hmac-sha256"),
            "{md5}"
        );
        let garbage = TsigKey::parse("hmac-sha256:k:not base64!").unwrap_err();
        assert!(garbage.contains("base64"), "{garbage}");
        let no_secret = TsigKey::parse("key \"k\" { algorithm hmac-sha256; };").unwrap_err();
        assert!(no_secret.contains("secret"), "{no_secret}");
        assert!(TsigKey::parse("").unwrap_err().contains("empty"));
        // The secret never shows in debug output.
        let key = TsigKey::parse(&format!("hmac-sha256:k:{SECRET}")).unwrap();
        assert!(!format!("{key:?}").contains(SECRET));
    }
}
