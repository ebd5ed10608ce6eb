//! TLS for TCP connections beyond loopback (rustls, with the `ring`
//! provider): the server's certificate and key, and the certificate
//! authority a client trusts, read from PEM files.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// A certificate, key or authority that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM file cannot be read or holds nothing of the expected kind.
    #[error("cannot read {what} from `{}`", path.display())]
    Pem {
        /// What the file should hold.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why it cannot be used.
        #[source]
        source: io::Error,
    },
    /// rustls refused the certificates or key (a key that does not match
    /// the certificate, an unsupported algorithm).
    #[error("the TLS configuration is not valid")]
    Config(#[source] rustls::Error),
}

/// rustls with the `ring` provider. rustls marks it deprecated because ring
/// has no post-quantum key exchange; the alternative, aws-lc-rs, needs
/// cmake and a longer C build on every machine that builds Logist.
#[expect(
    deprecated,
    reason = "ring is the provider that builds without cmake; see the comment above"
)]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn pem_error(what: &'static str, path: &Path, source: impl Into<io::Error>) -> TlsError {
    TlsError::Pem {
        what,
        path: path.to_path_buf(),
        source: source.into(),
    }
}

fn pem_io(error: rustls_pki_types::pem::Error) -> io::Error {
    match error {
        rustls_pki_types::pem::Error::Io(error) => error,
        other => io::Error::new(io::ErrorKind::InvalidData, format!("{other:?}")),
    }
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(|error| pem_error("certificates", path, pem_io(error)))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| pem_error("certificates", path, pem_io(error)))?;
    if certificates.is_empty() {
        return Err(pem_error(
            "certificates",
            path,
            io::Error::new(
                io::ErrorKind::InvalidData,
                "no CERTIFICATE block in the file",
            ),
        ));
    }
    Ok(certificates)
}

/// The server side: its certificate chain and private key (PEM files, as
/// `logist serve --tls-cert --tls-key` takes them).
///
/// # Errors
///
/// [`TlsError`] naming the file that cannot be used, or rustls's reason.
pub fn server_config(certificate: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let chain = certificates(certificate)?;
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|error| pem_error("a private key", key, pem_io(error)))?;
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Config)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(TlsError::Config)?;
    Ok(Arc::new(config))
}

/// The client side: the certificates it trusts (the server's own, or the
/// authority that signed it), from a PEM file.
///
/// # Errors
///
/// [`TlsError`] naming the file that cannot be used.
pub fn client_config(authority: &Path) -> Result<Arc<ClientConfig>, TlsError> {
    let mut roots = RootCertStore::empty();
    for certificate in certificates(authority)? {
        roots.add(certificate).map_err(TlsError::Config)?;
    }
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Config)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
