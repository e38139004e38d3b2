//! CA bundles read as SPIRE's `util.LoadCertificates` reads them: every `CERTIFICATE` block
//! of the PEM file (other blocks and text skipped), each parsed as Go parses it; a file with
//! no certificate, or with one Go cannot parse, is an error.

use std::path::Path;

use crate::x509::{self, pem, Certificate};

/// The certificates of one bundle file.
pub fn load(path: &Path) -> Result<Vec<Certificate>, String> {
    let data = std::fs::read(path).map_err(|err| err.to_string())?;
    from_pem(&data)
}

/// The certificates of PEM text.
pub fn from_pem(data: &[u8]) -> Result<Vec<Certificate>, String> {
    let mut certs = Vec::new();
    for (number, block) in pem::blocks(data).into_iter().enumerate() {
        if block.kind != "CERTIFICATE" {
            continue;
        }
        let cert = x509::parse(&block.bytes)
            .map_err(|err| format!("unable to parse certificate in block {number}: {err}"))?;
        certs.push(cert);
    }
    if certs.is_empty() {
        return Err("no certificates found in file".into());
    }
    Ok(certs)
}
