//! Where tokens live between requests.
//!
//! [`TokenStore`] is a small synchronous trait keyed by [`SessionId`]. Two implementations
//! ship: [`MemoryStore`] (tests, single-process apps) and [`EncryptedFileStore`] (an
//! embedded default that needs no server: one file, encrypted at rest with
//! XChaCha20-Poly1305, written atomically).
//!

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore as _;
use serde::{Deserialize, Serialize};

use crate::config::SessionId;
use crate::token::TokenSet;

/// Environment variable holding the base64 of a 32-byte store key.
pub const STORE_KEY_ENV: &str = "HANDSHAKE_STORE_KEY";

const MAGIC: &[u8; 4] = b"HSK1";
const NONCE_LEN: usize = 24;

/// What the client keeps per session.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Connection {
    /// Whether the grant is usable.
    pub status: ConnectionStatus,
    /// Current tokens; `None` once the grant is gone.
    pub tokens: Option<TokenSet>,
}

/// State of a session's grant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ConnectionStatus {
    /// Tokens are usable (possibly after a refresh).
    Active,
    /// The provider rejected the refresh token; only a new authorization helps.
    ReauthorizationRequired,
}

/// Errors of a [`TokenStore`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Reading or writing the store failed.
    #[error("token store I/O on {path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The store file failed authentication: modified, truncated, or another key.
    #[error("token store {path} failed integrity check (tampered, corrupted or wrong key)")]
    Tampered {
        /// The file involved.
        path: PathBuf,
    },
    /// The store key is missing or malformed.
    #[error("token store key: {0}")]
    Key(String),
    /// A custom store's backend failed.
    #[error("token store backend: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    /// Wraps a custom backend's error.
    pub fn backend(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        StoreError::Backend(Box::new(e))
    }
}

/// Persistence of [`Connection`]s by session.
///
/// # Plugging in your own database
///
/// Implement [`TokenStore`] for a type wrapping your connection pool and hand it to
/// [`OAuthClient::with_store`](crate::OAuthClient::with_store). Store the [`Connection`]
/// as an opaque blob (it is `Serialize`/`Deserialize`; serialize it with `serde_json`),
/// keyed by the session id, and encrypt it at rest (reuse [`StoreKey`] and your own AEAD,
/// or your database's column encryption). `put` must be durable when it returns: the client
/// relies on a rotated refresh token being stored before anyone uses it. Calls are made
/// from async code but are expected to be short; with an async driver, run the query via
/// `tokio::task::block_in_place` or keep a write-through cache.
///
/// ```
/// use std::collections::HashMap;
/// use std::sync::Mutex;
/// use handshake_client::{Connection, SessionId, StoreError, TokenStore};
///
/// /// Stand-in for a SQL table `oauth_connections(session TEXT PRIMARY KEY, blob TEXT)`.
/// #[derive(Default)]
/// struct SqlStore { table: Mutex<HashMap<String, String>> }
///
/// impl TokenStore for SqlStore {
///     fn get(&self, s: &SessionId) -> Result<Option<Connection>, StoreError> {
///         let table = self.table.lock().unwrap();
///         table.get(s.as_str())
///             .map(|blob| serde_json::from_str(blob).map_err(StoreError::backend))
///             .transpose()
///     }
///     fn put(&self, s: &SessionId, c: &Connection) -> Result<(), StoreError> {
///         let blob = serde_json::to_string(c).map_err(StoreError::backend)?;
///         self.table.lock().unwrap().insert(s.as_str().to_owned(), blob);
///         Ok(())
///     }
///     fn delete(&self, s: &SessionId) -> Result<(), StoreError> {
///         self.table.lock().unwrap().remove(s.as_str());
///         Ok(())
///     }
/// }
/// ```
pub trait TokenStore: Send + Sync {
    /// The connection of a session, if any.
    fn get(&self, session: &SessionId) -> Result<Option<Connection>, StoreError>;
    /// Stores (replaces) a session's connection. Durable when it returns.
    fn put(&self, session: &SessionId, connection: &Connection) -> Result<(), StoreError>;
    /// Forgets a session. Deleting an unknown session succeeds.
    fn delete(&self, session: &SessionId) -> Result<(), StoreError>;
}

/// In-process store; everything is lost when the process exits.
#[derive(Default)]
pub struct MemoryStore {
    map: Mutex<HashMap<SessionId, Connection>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.map.lock().map(|m| m.len()).unwrap_or(0);
        f.debug_struct("MemoryStore").field("sessions", &n).finish()
    }
}

impl TokenStore for MemoryStore {
    fn get(&self, session: &SessionId) -> Result<Option<Connection>, StoreError> {
        Ok(lock(&self.map).get(session).cloned())
    }
    fn put(&self, session: &SessionId, connection: &Connection) -> Result<(), StoreError> {
        lock(&self.map).insert(session.clone(), connection.clone());
        Ok(())
    }
    fn delete(&self, session: &SessionId) -> Result<(), StoreError> {
        lock(&self.map).remove(session);
        Ok(())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

handshake_profile::secret_type! {
    /// A 256-bit key for [`EncryptedFileStore`]. `Debug` prints `StoreKey([redacted])`.
    ///
    /// ```
    /// let key = handshake_client::StoreKey::from_bytes([7; 32]);
    /// assert_eq!(format!("{key:?}"), "StoreKey([redacted])");
    /// assert_eq!(key.secret(), &[7; 32]);
    /// ```
    #[derive(Clone)]
    pub struct StoreKey([u8; 32]);
}

impl StoreKey {
    /// A fresh random key from the OS CSPRNG.
    pub fn generate() -> Self {
        let mut k = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut k);
        StoreKey(k)
    }

    /// Raw key bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        StoreKey(bytes)
    }

    /// Parses the base64 (standard alphabet) of 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self, StoreError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| StoreError::Key("not valid base64".into()))?;
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|v: Vec<u8>| StoreError::Key(format!("expected 32 bytes, got {}", v.len())))?;
        Ok(StoreKey(arr))
    }

    /// The key in `HANDSHAKE_STORE_KEY` (base64 of 32 bytes).
    pub fn from_env() -> Result<Self, StoreError> {
        let v = std::env::var(STORE_KEY_ENV)
            .map_err(|_| StoreError::Key(format!("{STORE_KEY_ENV} is not set")))?;
        Self::from_base64(&v)
    }

    /// A key file holding either 32 raw bytes or their base64.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| StoreError::Io {
            path: path.to_owned(),
            source,
        })?;
        match <[u8; 32]>::try_from(bytes.as_slice()) {
            Ok(raw) if std::str::from_utf8(&raw).is_err() => Ok(StoreKey(raw)),
            _ => Self::from_base64(&String::from_utf8_lossy(&bytes)),
        }
    }

    /// The base64 of the key, to save it somewhere safe.
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.0)
    }
}

/// One file holding every session's connection, encrypted with XChaCha20-Poly1305.
///
/// Layout: `HSK1 ‖ 24-byte random nonce ‖ ciphertext+tag`, the magic bound as associated
/// data. Any modification is reported as [`StoreError::Tampered`]. Each write goes to a
/// temporary file in the same directory, is fsynced, renamed over the old file, and the
/// directory is fsynced: a crash leaves either the old or the new file, never half of one.
pub struct EncryptedFileStore {
    path: PathBuf,
    cipher: XChaCha20Poly1305,
    // Serialises read-modify-write cycles within this process.
    lock: Mutex<()>,
}

impl fmt::Debug for EncryptedFileStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptedFileStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl EncryptedFileStore {
    /// A store at `path` (created on first write) using `key`.
    pub fn new(path: impl Into<PathBuf>, key: StoreKey) -> Self {
        EncryptedFileStore {
            path: path.into(),
            cipher: XChaCha20Poly1305::new((&key.0).into()),
            lock: Mutex::new(()),
        }
    }

    /// A store at `path` with the key from `HANDSHAKE_STORE_KEY`.
    pub fn from_env(path: impl Into<PathBuf>) -> Result<Self, StoreError> {
        Ok(Self::new(path, StoreKey::from_env()?))
    }

    /// The file this store writes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, source: std::io::Error) -> StoreError {
        StoreError::Io {
            path: self.path.clone(),
            source,
        }
    }

    fn tampered(&self) -> StoreError {
        StoreError::Tampered {
            path: self.path.clone(),
        }
    }

    fn load(&self) -> Result<BTreeMap<String, Connection>, StoreError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
            Err(e) => return Err(self.io(e)),
        };
        if bytes.len() < MAGIC.len() + NONCE_LEN || &bytes[..MAGIC.len()] != MAGIC {
            return Err(self.tampered());
        }
        let (nonce, ct) = bytes[MAGIC.len()..].split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: MAGIC,
                },
            )
            .map_err(|_| self.tampered())?;
        // Authenticated but unparseable means we wrote it with an incompatible version.
        serde_json::from_slice(&plain).map_err(StoreError::backend)
    }

    fn save(&self, map: &BTreeMap<String, Connection>) -> Result<(), StoreError> {
        let plain = serde_json::to_vec(map).map_err(StoreError::backend)?;
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ct = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &plain,
                    aad: MAGIC,
                },
            )
            .map_err(|_| StoreError::Key("encryption failed".into()))?;
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
            _ => PathBuf::from("."),
        };
        let mut suffix = [0u8; 8];
        rand::rngs::OsRng.fill_bytes(&mut suffix);
        let file_name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "store".into());
        let tmp = dir.join(format!(
            ".{file_name}.{}.tmp",
            suffix
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        ));
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)?;
            f.write_all(MAGIC)?;
            f.write_all(&nonce)?;
            f.write_all(&ct)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &self.path)?;
            // The rename is durable only once the directory entry is.
            #[cfg(unix)]
            std::fs::File::open(&dir)?.sync_all()?;
            Ok(())
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            self.io(e)
        })
    }
}

impl TokenStore for EncryptedFileStore {
    fn get(&self, session: &SessionId) -> Result<Option<Connection>, StoreError> {
        let _g = lock(&self.lock);
        Ok(self.load()?.remove(session.as_str()))
    }
    fn put(&self, session: &SessionId, connection: &Connection) -> Result<(), StoreError> {
        let _g = lock(&self.lock);
        let mut map = self.load()?;
        map.insert(session.as_str().to_owned(), connection.clone());
        self.save(&map)
    }
    fn delete(&self, session: &SessionId) -> Result<(), StoreError> {
        let _g = lock(&self.lock);
        let mut map = self.load()?;
        if map.remove(session.as_str()).is_some() {
            self.save(&map)?;
        }
        Ok(())
    }
}
