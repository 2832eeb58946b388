//! TLS: builds the rustls server context from Redis's `tls-*` options and keeps the one new
//! connections use. CONFIG SET of a `tls-*` option builds a fresh context and swaps it in only
//! if it is valid, so a bad certificate is refused while the old context keeps serving;
//! connections already open keep the context they were accepted with.
//!
//! Mapping of Redis's OpenSSL options onto rustls (ring provider):
//! - `tls-protocols`: TLSv1.2 and TLSv1.3 (rustls has no TLSv1 / TLSv1.1; asking only for those
//!   is refused, naming them).
//! - `tls-ciphers` (TLSv1.2, OpenSSL cipher-list syntax) and `tls-ciphersuites` (TLSv1.3): the
//!   ECDHE AES-GCM and ChaCha20-Poly1305 suites rustls offers; names and keywords that select
//!   other ciphers are left out with a warning, and a list that leaves none is refused.
//! - `tls-auth-clients yes | optional | no`: client certificates verified against
//!   `tls-ca-cert-file` / `tls-ca-cert-dir`, required, optional or not asked for.
//! - `tls-prefer-server-ciphers`: the server's suite order wins.
//! - `tls-session-caching`, `-cache-size`, `-cache-timeout`: a bounded session store whose
//!   entries expire after the timeout (stateful resumption, TLSv1.2 session ids and TLSv1.3
//!   tickets that name a stored session).
//! - `tls-key-file-pass`: PKCS#8 keys encrypted with a password (`openssl pkcs8 -topk8`, what
//!   OpenSSL 3 writes by default).
//! - `tls-client-cert-file` / `-key-file` / `-key-file-pass`: loaded and checked whenever the
//!   context is built (for outgoing links; none exist yet).

use crate::config::Config;
use parking_lot::{Mutex, RwLock};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{StoresServerSessions, WebPkiClientVerifier};
use rustls::{RootCertStore, ServerConfig, SupportedCipherSuite};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// rustls with the *ring* provider: it builds with a C compiler alone (no cmake), and its
/// AES-GCM and ChaCha20 record code is the same assembly as BoringSSL's. rustls marks it
/// deprecated only because it has no post-quantum key exchange.
#[allow(deprecated)]
fn ring_provider() -> CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// Options whose change rebuilds the TLS context.
pub fn is_context_option(name: &str) -> bool {
    name.starts_with("tls-") && name != "tls-port"
}

/// Whether the server needs a TLS context: a TLS listener (`tls-port`, or the memcached
/// listener with `memcached-tls yes`; in Redis, also TLS links).
pub fn wanted(config: &Config) -> bool {
    config.get_i64("tls-port") != 0 || config.get_bool("memcached-tls")
}

/// The context new TLS connections are accepted with.
#[derive(Default)]
pub struct TlsContext {
    current: RwLock<Option<Arc<ServerConfig>>>,
}

impl TlsContext {
    pub fn acceptor(&self) -> Option<tokio_rustls::TlsAcceptor> {
        self.current
            .read()
            .clone()
            .map(tokio_rustls::TlsAcceptor::from)
    }

    pub fn install(&self, config: Option<Arc<ServerConfig>>) {
        *self.current.write() = config;
    }

    /// Builds a context from `config` and installs it; on error the old one stays.
    pub fn reload(&self, config: &Config) -> Result<(), String> {
        let built = build(config)?;
        self.install(Some(built));
        Ok(())
    }
}

/// Builds the server context from the `tls-*` options. The error is the line Redis logs.
pub fn build(config: &Config) -> Result<Arc<ServerConfig>, String> {
    let cert_file = config.get("tls-cert-file");
    let key_file = config.get("tls-key-file");
    if cert_file.is_empty() {
        return Err("No tls-cert-file configured!".into());
    }
    if key_file.is_empty() {
        return Err("No tls-key-file configured!".into());
    }
    let auth = config.get("tls-auth-clients");
    let ca_file = config.get("tls-ca-cert-file");
    let ca_dir = config.get("tls-ca-cert-dir");
    if auth != "no" && ca_file.is_empty() && ca_dir.is_empty() {
        return Err("Either tls-ca-cert-file or tls-ca-cert-dir must be specified when tls-cluster, tls-replication or tls-auth-clients are enabled!".into());
    }
    let provider = Arc::new(provider(config)?);
    let versions = protocols(&config.get("tls-protocols"))?;
    if versions.len() == 1
        && versions[0] == &rustls::version::TLS12
        && !provider
            .cipher_suites
            .iter()
            .any(|s| matches!(s, SupportedCipherSuite::Tls12(_)))
    {
        return Err(format!(
            "Failed to configure ciphers: {}",
            config.get("tls-ciphers")
        ));
    }
    let certs = load_certs(&cert_file)
        .map_err(|e| format!("Failed to load certificate: {cert_file}: {e}"))?;
    let key = load_key(&key_file, &config.get("tls-key-file-pass"))
        .map_err(|e| format!("Failed to load private key: {key_file}: {e}"))?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| format!("Failed to configure TLS protocols: {e}"))?;
    let builder = if auth == "no" {
        builder.with_no_client_auth()
    } else {
        let roots = load_roots(&ca_file, &ca_dir)
            .map_err(|e| format!("Failed to configure CA certificate(s) file/directory: {e}"))?;
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
        let verifier = if auth == "optional" {
            verifier.allow_unauthenticated()
        } else {
            verifier
        };
        let verifier = verifier
            .build()
            .map_err(|e| format!("Failed to configure CA certificate(s) file/directory: {e}"))?;
        builder.with_client_cert_verifier(verifier)
    };
    let mut server = builder
        .with_single_cert(certs, key)
        .map_err(|e| format!("Failed to load private key: {key_file}: {e}"))?;
    server.ignore_client_order = config.get_bool("tls-prefer-server-ciphers");
    if config.get_bool("tls-session-caching") {
        let size = config.get_i64("tls-session-cache-size");
        server.session_storage = Arc::new(SessionCache::new(
            // OpenSSL's 0 is "no limit"; a limit keeps memory bounded all the same.
            if size <= 0 {
                SESSION_CACHE_MAX
            } else {
                (size as usize).min(SESSION_CACHE_MAX)
            },
            Duration::from_secs(config.get_i64("tls-session-cache-timeout").max(0) as u64),
        ));
    } else {
        server.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
        server.send_tls13_tickets = 0;
    }
    check_client_side(config)?;
    Ok(Arc::new(server))
}

/// Largest session store, whatever `tls-session-cache-size` says.
const SESSION_CACHE_MAX: usize = 1 << 20;

/// `tls-protocols`: space-separated `TLSv1.2` / `TLSv1.3` (any case); empty means both.
fn protocols(text: &str) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, String> {
    let mut versions = Vec::new();
    let mut unsupported = Vec::new();
    for word in text.split_whitespace() {
        match word.to_ascii_lowercase().as_str() {
            "tlsv1.2" => versions.push(&rustls::version::TLS12),
            "tlsv1.3" => versions.push(&rustls::version::TLS13),
            "tlsv1" | "tlsv1.1" => unsupported.push(word),
            _ => return Err("Invalid tls-protocols specified. Use a combination of 'TLSv1', 'TLSv1.1', 'TLSv1.2' and 'TLSv1.3'.".into()),
        }
    }
    if text.split_whitespace().next().is_none() {
        return Ok(vec![&rustls::version::TLS13, &rustls::version::TLS12]);
    }
    if versions.is_empty() {
        return Err(format!(
            "tls-protocols: {} not supported (TLSv1 and TLSv1.1 are obsolete; this server offers TLSv1.2 and TLSv1.3)",
            unsupported.join(" ")
        ));
    }
    if !unsupported.is_empty() {
        tracing::warn!(
            "tls-protocols: {} left out (this server offers TLSv1.2 and TLSv1.3 only)",
            unsupported.join(" ")
        );
    }
    versions.sort_by_key(|v| std::cmp::Reverse(v.version.to_array()));
    versions.dedup_by_key(|v| v.version);
    Ok(versions)
}

/// OpenSSL's name for each TLSv1.2 suite rustls offers.
fn openssl_name(suite: &SupportedCipherSuite) -> &'static str {
    use rustls::CipherSuite::*;
    match suite.suite() {
        TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 => "ECDHE-ECDSA-AES256-GCM-SHA384",
        TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 => "ECDHE-ECDSA-AES128-GCM-SHA256",
        TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 => "ECDHE-ECDSA-CHACHA20-POLY1305",
        TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 => "ECDHE-RSA-AES256-GCM-SHA384",
        TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => "ECDHE-RSA-AES128-GCM-SHA256",
        TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 => "ECDHE-RSA-CHACHA20-POLY1305",
        TLS13_AES_256_GCM_SHA384 => "TLS_AES_256_GCM_SHA384",
        TLS13_AES_128_GCM_SHA256 => "TLS_AES_128_GCM_SHA256",
        TLS13_CHACHA20_POLY1305_SHA256 => "TLS_CHACHA20_POLY1305_SHA256",
        _ => "",
    }
}

/// Whether the TLSv1.2 suite `name` (OpenSSL's name) is selected by cipher-list word `word`.
fn tls12_selected(word: &str, name: &str) -> Option<bool> {
    let upper = word.to_ascii_uppercase();
    let parts: Vec<&str> = name.split('-').collect();
    let has = |p: &str| parts.contains(&p);
    Some(match upper.as_str() {
        "DEFAULT"
        | "ALL"
        | "HIGH"
        | "TLSV1.2"
        | "ECDHE"
        | "EECDH"
        | "KECDHE"
        | "KEECDH"
        | "COMPLEMENTOFDEFAULT"
        | "SECURE" => true,
        "AESGCM" | "AES" => name.contains("GCM"),
        "AES128" => has("AES128"),
        "AES256" => has("AES256"),
        "CHACHA20" => has("CHACHA20"),
        "ARSA" | "RSA" => has("RSA"),
        "AECDSA" | "ECDSA" => has("ECDSA"),
        "SHA256" => name.ends_with("SHA256") || has("CHACHA20"),
        "SHA384" => name.ends_with("SHA384"),
        _ if upper == name => true,
        _ => return None,
    })
}

/// The ring provider restricted to the suites `tls-ciphers` and `tls-ciphersuites` select.
fn provider(config: &Config) -> Result<CryptoProvider, String> {
    let mut provider = ring_provider();
    let all = provider.cipher_suites.clone();
    let ciphers = config.get("tls-ciphers");
    let mut tls12: Vec<SupportedCipherSuite> = all
        .iter()
        .filter(|s| matches!(s, SupportedCipherSuite::Tls12(_)))
        .copied()
        .collect();
    if !ciphers.is_empty() {
        let mut chosen: Vec<SupportedCipherSuite> = Vec::new();
        let mut not_offered = Vec::new();
        for word in ciphers.split([':', ',', ' ']).filter(|w| !w.is_empty()) {
            if word.starts_with('@') || word.starts_with('+') {
                continue; // ordering and security-level directives
            }
            let (remove, word) = match word.strip_prefix(['!', '-']) {
                Some(rest) => (true, rest),
                None => (false, word),
            };
            let matching: Vec<SupportedCipherSuite> = tls12
                .iter()
                .filter(|s| tls12_selected(word, openssl_name(s)) == Some(true))
                .copied()
                .collect();
            let known = tls12
                .iter()
                .any(|s| tls12_selected(word, openssl_name(s)).is_some());
            if remove {
                chosen.retain(|s| !matching.iter().any(|m| m.suite() == s.suite()));
                tls12.retain(|s| !matching.iter().any(|m| m.suite() == s.suite()));
            } else if !known {
                not_offered.push(word);
            } else {
                for s in matching {
                    if !chosen.iter().any(|c| c.suite() == s.suite()) {
                        chosen.push(s);
                    }
                }
            }
        }
        if chosen.is_empty() {
            return Err(format!(
                "Failed to configure ciphers: {ciphers} (TLSv1.2 ciphers this server offers: {})",
                offered(&all, false)
            ));
        }
        if !not_offered.is_empty() {
            tracing::warn!(
                "tls-ciphers: {} not offered by this server (it offers {})",
                not_offered.join(":"),
                offered(&all, false)
            );
        }
        tls12 = chosen;
    }
    let suites = config.get("tls-ciphersuites");
    let mut tls13: Vec<SupportedCipherSuite> = all
        .iter()
        .filter(|s| matches!(s, SupportedCipherSuite::Tls13(_)))
        .copied()
        .collect();
    if !suites.is_empty() {
        let mut chosen: Vec<SupportedCipherSuite> = Vec::new();
        let mut not_offered = Vec::new();
        for word in suites.split(':').filter(|w| !w.is_empty()) {
            match tls13.iter().find(|s| openssl_name(s) == word) {
                Some(s) => chosen.push(*s),
                None if matches!(word, "TLS_AES_128_CCM_SHA256" | "TLS_AES_128_CCM_8_SHA256") => {
                    not_offered.push(word)
                }
                None => {
                    return Err(format!(
                        "Failed to configure ciphersuites: {suites} ('{word}' is not a TLSv1.3 ciphersuite; this server offers {})",
                        offered(&all, true)
                    ))
                }
            }
        }
        if chosen.is_empty() {
            return Err(format!(
                "Failed to configure ciphersuites: {suites} (this server offers {})",
                offered(&all, true)
            ));
        }
        if !not_offered.is_empty() {
            tracing::warn!(
                "tls-ciphersuites: {} not offered by this server (it offers {})",
                not_offered.join(":"),
                offered(&all, true)
            );
        }
        tls13 = chosen;
    }
    provider.cipher_suites = tls13.into_iter().chain(tls12).collect();
    Ok(provider)
}

fn offered(all: &[SupportedCipherSuite], tls13: bool) -> String {
    all.iter()
        .filter(|s| matches!(s, SupportedCipherSuite::Tls13(_)) == tls13)
        .map(openssl_name)
        .collect::<Vec<_>>()
        .join(":")
}

/// A PEM error as a short text (the file's name is added by the caller).
fn pem_error(err: rustls::pki_types::pem::Error) -> String {
    use rustls::pki_types::pem::Error;
    match err {
        Error::Io(e) => crate::config::strerror(&e),
        Error::NoItemsFound => "no PEM item of the expected kind found".into(),
        other => format!("{other:?}"),
    }
}

fn load_certs(path: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(pem_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem_error)?;
    if certs.is_empty() {
        return Err("no certificate found".into());
    }
    Ok(certs)
}

/// A private key: PKCS#8, PKCS#1 (RSA) or SEC1 (EC) PEM, or PKCS#8 encrypted with `pass`.
fn load_key(path: &str, pass: &str) -> Result<PrivateKeyDer<'static>, String> {
    let text = std::fs::read(path).map_err(|e| crate::config::strerror(&e))?;
    if let Some(start) = find(&text, b"-----BEGIN ENCRYPTED PRIVATE KEY-----") {
        let end_marker = b"-----END ENCRYPTED PRIVATE KEY-----";
        let end = find(&text[start..], end_marker)
            .map(|e| start + e + end_marker.len())
            .ok_or("unterminated PEM block")?;
        let pem = std::str::from_utf8(&text[start..end]).map_err(|_| "bad PEM text")?;
        if pass.is_empty() {
            return Err("the key is encrypted and tls-key-file-pass is not set".into());
        }
        let (_, doc) = pkcs8::der::Document::from_pem(pem).map_err(|e| format!("bad PEM: {e}"))?;
        let info = pkcs8::EncryptedPrivateKeyInfo::try_from(doc.as_bytes())
            .map_err(|e| format!("bad encrypted key: {e}"))?;
        let plain = info
            .decrypt(pass.as_bytes())
            .map_err(|_| "bad decrypt (wrong tls-key-file-pass?)".to_string())?;
        return Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            plain.as_bytes().to_vec(),
        )));
    }
    if find(&text, b"Proc-Type: 4,ENCRYPTED").is_some() {
        return Err("keys encrypted in the traditional PEM format are not supported; convert with `openssl pkcs8 -topk8`".into());
    }
    PrivateKeyDer::from_pem_slice(&text).map_err(pem_error)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The trusted CAs: every certificate of `file` and of the files in `dir`.
fn load_roots(file: &str, dir: &str) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    let mut add = |path: &str| -> Result<(), String> {
        for cert in CertificateDer::pem_file_iter(path)
            .map_err(pem_error)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(pem_error)?
        {
            roots
                .add(cert)
                .map_err(|e| format!("{path}: bad CA certificate: {e}"))?;
        }
        Ok(())
    };
    if !file.is_empty() {
        add(file).map_err(|e| format!("{file}: {e}"))?;
    }
    if !dir.is_empty() {
        let entries = std::fs::read_dir(dir)
            .map_err(|e| format!("{dir}: {}", crate::config::strerror(&e)))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_file() {
                // Files that hold no certificate (OpenSSL's CRLs, notes) are skipped.
                let _ = add(&path.display().to_string());
            }
        }
    }
    if roots.is_empty() {
        return Err("no CA certificate found".into());
    }
    Ok(roots)
}

/// `tls-client-cert-file` / `-key-file` / `-key-file-pass`: checked as a pair when set.
fn check_client_side(config: &Config) -> Result<(), String> {
    let cert_file = config.get("tls-client-cert-file");
    if cert_file.is_empty() {
        return Ok(());
    }
    let key_file = config.get("tls-client-key-file");
    let certs = load_certs(&cert_file)
        .map_err(|e| format!("Failed to load certificate: {cert_file}: {e}"))?;
    let key = load_key(&key_file, &config.get("tls-client-key-file-pass"))
        .map_err(|e| format!("Failed to load private key: {key_file}: {e}"))?;
    rustls::sign::CertifiedKey::from_der(certs, key, &ring_provider())
        .map_err(|e| format!("Failed to load private key: {key_file}: {e}"))?;
    Ok(())
}

/// The TLS session store: at most `max` sessions, each valid for `ttl` after it was stored.
#[derive(Debug)]
struct SessionCache {
    max: usize,
    ttl: Duration,
    inner: Mutex<Sessions>,
}

#[derive(Debug, Default)]
struct Sessions {
    by_id: HashMap<Vec<u8>, (Vec<u8>, Instant)>,
    /// Ids in the order they were stored (some already taken or replaced).
    order: VecDeque<(Vec<u8>, Instant)>,
}

impl SessionCache {
    fn new(max: usize, ttl: Duration) -> SessionCache {
        SessionCache {
            max: max.max(1),
            ttl,
            inner: Mutex::new(Sessions::default()),
        }
    }
}

impl StoresServerSessions for SessionCache {
    fn put(&self, key: Vec<u8>, value: Vec<u8>) -> bool {
        let now = Instant::now();
        let mut s = self.inner.lock();
        // Drop the oldest (and the expired) until there is room.
        while s.by_id.len() >= self.max
            || s.order.front().is_some_and(|(_, at)| now - *at >= self.ttl)
        {
            let Some((id, at)) = s.order.pop_front() else {
                break;
            };
            if s.by_id.get(&id).is_some_and(|(_, stored)| *stored == at) {
                s.by_id.remove(&id);
            }
        }
        if s.order.len() > 2 * self.max + 64 {
            // Ids taken meanwhile still sit in `order`: keep it proportional to the store.
            let Sessions { by_id, order } = &mut *s;
            order.retain(|(id, at)| by_id.get(id).is_some_and(|(_, stored)| stored == at));
        }
        s.order.push_back((key.clone(), now));
        s.by_id.insert(key, (value, now));
        true
    }

    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        let s = self.inner.lock();
        s.by_id
            .get(key)
            .filter(|(_, at)| at.elapsed() < self.ttl)
            .map(|(value, _)| value.clone())
    }

    fn take(&self, key: &[u8]) -> Option<Vec<u8>> {
        let mut s = self.inner.lock();
        s.by_id
            .remove(key)
            .filter(|(_, at)| at.elapsed() < self.ttl)
            .map(|(value, _)| value)
    }

    fn can_cache(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols_map_to_rustls_versions() {
        assert_eq!(protocols("").unwrap().len(), 2);
        assert_eq!(protocols("TLSv1.2").unwrap().len(), 1);
        assert_eq!(protocols("tlsv1.3 TLSv1.2 TLSv1.1").unwrap().len(), 2);
        assert!(protocols("TLSv1.1")
            .unwrap_err()
            .contains("TLSv1.1 not supported"));
        assert!(protocols("TLSv9")
            .unwrap_err()
            .starts_with("Invalid tls-protocols specified."));
    }

    fn with(pairs: &[(&str, &str)]) -> Config {
        let config = Config::default();
        for (name, value) in pairs {
            let spec = crate::config::find_option(name).expect("option");
            config.set(spec, &[value.to_string()]).expect("valid value");
        }
        config
    }

    fn suites(config: &Config) -> Result<Vec<&'static str>, String> {
        Ok(provider(config)?
            .cipher_suites
            .iter()
            .map(openssl_name)
            .collect())
    }

    #[test]
    fn cipher_lists_select_what_rustls_offers() {
        assert_eq!(suites(&Config::default()).unwrap().len(), 9);
        let got = suites(&with(&[(
            "tls-ciphers",
            "ECDHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-SHA:!aNULL",
        )]))
        .unwrap();
        assert_eq!(got.len(), 4);
        assert!(got.contains(&"ECDHE-RSA-AES128-GCM-SHA256"));
        let got = suites(&with(&[("tls-ciphers", "HIGH:!CHACHA20:!aECDSA")])).unwrap();
        assert_eq!(
            &got[3..],
            ["ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-RSA-AES128-GCM-SHA256"]
        );
        assert!(suites(&with(&[("tls-ciphers", "BOGUS")]))
            .unwrap_err()
            .starts_with("Failed to configure ciphers: BOGUS"));
        assert!(suites(&with(&[("tls-ciphers", "AES128-SHA:DES-CBC3-SHA")])).is_err());
        let got = suites(&with(&[(
            "tls-ciphersuites",
            "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_CCM_SHA256",
        )]))
        .unwrap();
        assert_eq!(got[0], "TLS_CHACHA20_POLY1305_SHA256");
        assert_eq!(got.len(), 7);
        assert!(suites(&with(&[("tls-ciphersuites", "BOGUS")])).is_err());
        assert!(suites(&with(&[("tls-ciphersuites", "TLS_AES_128_CCM_SHA256")])).is_err());
    }

    #[test]
    fn missing_files_are_named_like_redis() {
        assert_eq!(
            build(&Config::default()).unwrap_err(),
            "No tls-cert-file configured!"
        );
        let config = with(&[
            ("tls-cert-file", "/nonexistent/cert.pem"),
            ("tls-key-file", "/nonexistent/key.pem"),
        ]);
        assert!(build(&config)
            .unwrap_err()
            .starts_with("Either tls-ca-cert-file or tls-ca-cert-dir must be specified"));
        let config = with(&[
            ("tls-cert-file", "/nonexistent/cert.pem"),
            ("tls-key-file", "/nonexistent/key.pem"),
            ("tls-auth-clients", "no"),
        ]);
        assert_eq!(
            build(&config).unwrap_err(),
            "Failed to load certificate: /nonexistent/cert.pem: No such file or directory"
        );
    }

    #[test]
    fn session_cache_is_bounded_and_expires() {
        let cache = SessionCache::new(2, Duration::from_secs(3600));
        for i in 0..10u8 {
            assert!(cache.put(vec![i], vec![i]));
        }
        assert_eq!(cache.get(&[9]), Some(vec![9]));
        assert_eq!(cache.get(&[8]), Some(vec![8]));
        assert_eq!(cache.get(&[7]), None);
        assert_eq!(cache.take(&[9]), Some(vec![9]));
        assert_eq!(cache.get(&[9]), None);
        for i in 0..200u8 {
            cache.put(vec![i], vec![]);
            cache.take(&[i]);
        }
        assert!(cache.inner.lock().order.len() <= 2 * 2 + 64 + 1);
        let expired = SessionCache::new(10, Duration::ZERO);
        expired.put(vec![1], vec![1]);
        assert_eq!(expired.get(&[1]), None);
    }
}
