//! The master key that encrypts private keys at rest (AES-256-GCM).

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use openssl::symm::{Cipher, decrypt_aead, encrypt_aead};
use secrecy::{ExposeSecret, SecretBox};
use std::path::Path;

use super::random_bytes;
use crate::config::SecretsSettings;

/// 32 secret bytes; never printed.
pub struct MasterKey(SecretBox<[u8; 32]>);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(***)")
    }
}

/// Where the master key came from, for the start-up message.
#[derive(Debug, PartialEq, Eq)]
pub enum MasterKeySource {
    Environment,
    File,
    Generated,
}

impl MasterKey {
    /// Loads the key from the environment setting, else the file, else generates the file.
    pub fn load(settings: &SecretsSettings) -> anyhow::Result<(MasterKey, MasterKeySource)> {
        match Self::configured(settings)? {
            Some(found) => Ok(found),
            None => Ok((
                Self::generate_file(&settings.master_key_file)?,
                MasterKeySource::Generated,
            )),
        }
    }

    /// The key of the environment setting, else of the file; `None` when neither exists.
    pub fn configured(
        settings: &SecretsSettings,
    ) -> anyhow::Result<Option<(MasterKey, MasterKeySource)>> {
        if let Some(b64) = &settings.master_key {
            return Ok(Some((
                Self::decode(b64.expose_secret()).context("secrets.master_key")?,
                MasterKeySource::Environment,
            )));
        }
        let path = &settings.master_key_file;
        if path.exists() {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the master key file {}", path.display()))?;
            let key = Self::decode(text.trim())
                .with_context(|| format!("secrets.master_key_file {}", path.display()))?;
            return Ok(Some((key, MasterKeySource::File)));
        }
        Ok(None)
    }

    /// Writes a new random key to `path` (mode 0600; never over an existing file).
    pub fn generate_file(path: &Path) -> anyhow::Result<MasterKey> {
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create the folder {}", parent.display()))?;
        }
        let bytes = random_bytes(32);
        let text = STANDARD.encode(&bytes);
        write_private(path, text.as_bytes())
            .with_context(|| format!("cannot write the master key file {}", path.display()))?;
        Self::decode(&text)
    }

    fn decode(b64: &str) -> anyhow::Result<MasterKey> {
        let bytes = STANDARD
            .decode(b64.trim())
            .context("the master key is not valid base64")?;
        let Ok(arr) = <[u8; 32]>::try_from(bytes.as_slice()) else {
            bail!(
                "the master key must be 32 bytes (44 base64 characters), got {}",
                bytes.len()
            );
        };
        Ok(MasterKey(SecretBox::new(Box::new(arr))))
    }

    /// For tests: a key from fixed bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> MasterKey {
        MasterKey(SecretBox::new(Box::new(bytes)))
    }

    /// A key for one purpose, derived from this one (HMAC-SHA-256 of the purpose's label): the
    /// master key itself never leaves this type, and each purpose's key is independent.
    pub fn derive(&self, label: &str) -> SecretBox<[u8; 32]> {
        SecretBox::new(Box::new(super::hmac_sha256(
            self.0.expose_secret(),
            label.as_bytes(),
        )))
    }

    /// Encrypts with a fresh nonce; `aad` binds the ciphertext to its owner (e.g. the key id).
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> anyhow::Result<String> {
        let nonce = random_bytes(12);
        let mut tag = [0u8; 16];
        let ct = encrypt_aead(
            Cipher::aes_256_gcm(),
            self.0.expose_secret(),
            Some(&nonce),
            aad,
            plaintext,
            &mut tag,
        )
        .context("encryption failed")?;
        let mut out = nonce;
        out.extend_from_slice(&tag);
        out.extend_from_slice(&ct);
        Ok(STANDARD.encode(out))
    }

    pub fn open(&self, sealed: &str, aad: &[u8]) -> anyhow::Result<Vec<u8>> {
        let bytes = STANDARD
            .decode(sealed)
            .context("sealed value is not base64")?;
        if bytes.len() < 28 {
            bail!("sealed value is too short");
        }
        let (nonce, rest) = bytes.split_at(12);
        let (tag, ct) = rest.split_at(16);
        decrypt_aead(
            Cipher::aes_256_gcm(),
            self.0.expose_secret(),
            Some(nonce),
            aad,
            ct,
            tag,
        )
        .context("cannot decrypt: wrong master key or altered data")
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_aad_binding() {
        let k = MasterKey::from_bytes([7; 32]);
        let s = k.seal(b"private", b"kid-1").unwrap();
        assert_eq!(k.open(&s, b"kid-1").unwrap(), b"private");
        assert!(k.open(&s, b"kid-2").is_err());
        assert!(MasterKey::from_bytes([8; 32]).open(&s, b"kid-1").is_err());
    }

    #[test]
    fn generated_file_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let settings = SecretsSettings {
            master_key_file: dir.path().join("k/master.key"),
            master_key: None,
        };
        let (_, src) = MasterKey::load(&settings).unwrap();
        assert_eq!(src, MasterKeySource::Generated);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&settings.master_key_file)
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (_, src) = MasterKey::load(&settings).unwrap();
        assert_eq!(src, MasterKeySource::File);
    }
}
