//! The offline collateral store: a directory an operator can fill by hand
//! (`sealbuild-verifier collateral import`), from AMD KDS
//! (`collateral fetch`, [`super::kds::KdsFetcher`]) or by copying it from
//! another machine.
//!
//! Layout (`<product>` is `milan`, `genoa` or `turin`):
//!
//! ```text
//! <dir>/snp/<product>/cert_chain_vcek.pem   ASK then ARK, PEM: what KDS serves at /vcek/v1/<Product>/cert_chain
//! <dir>/snp/<product>/cert_chain_vlek.pem   ASVK then ARK, PEM: KDS /vlek/v1/<Product>/cert_chain
//! <dir>/snp/<product>/crl_vcek.der          KDS /vcek/v1/<Product>/crl (DER CRL, signed by the ARK)
//! <dir>/snp/<product>/crl_vlek.der          KDS /vlek/v1/<Product>/crl
//! <dir>/snp/<product>/vcek/<hwid-hex>/<REPORTED_TCB as 16 hex digits>.der
//! <dir>/snp/<product>/vlek/<SHA-256 of the certificate, hex>.der   (imported; VLEKs are not on KDS)
//! ```
//!
//! `<hwid-hex>` is the lower-case hex of the 64-byte CHIP_ID on Milan and
//! Genoa and of its first 8 bytes on Turin (AMD pub. 57230, VCEK hwID).
//! The TCB file name is `format!("{:016x}", reported_tcb)`.
//!
//! Every write checks the content first ([`super::check_vcek`],
//! [`super::parse_chain_pem`], [`super::parse_crl`], [`super::check_vlek`])
//! and is atomic: a temporary file in the same directory, `fsync`, rename.
//! Files are created 0644 and directories 0755: collateral is public data.
//! File names starting with `.` (temporary files) are ignored when reading.

use super::{
    check_vcek, check_vlek, hwid_hex, parse_chain_pem, parse_crl, product_slug, vcek_identity,
    ChainKind, CollateralError, Result,
};
use sealbuild_common::snp::SnpProduct;
use sha2::{Digest, Sha256};
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A collateral directory.
#[derive(Debug, Clone)]
pub struct CollateralStore {
    root: PathBuf,
}

/// One VCEK found in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredVcek {
    /// The hwID directory name (hex).
    pub hwid_hex: String,
    /// REPORTED_TCB from the file name.
    pub reported_tcb: u64,
    /// The file.
    pub path: PathBuf,
}

/// What the store holds for one product (paths of the files present).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductInventory {
    /// `cert_chain_vcek.pem`.
    pub chain_vcek: Option<PathBuf>,
    /// `cert_chain_vlek.pem`.
    pub chain_vlek: Option<PathBuf>,
    /// `crl_vcek.der`.
    pub crl_vcek: Option<PathBuf>,
    /// `crl_vlek.der`.
    pub crl_vlek: Option<PathBuf>,
    /// The VCEKs, sorted by hwID then TCB.
    pub vceks: Vec<StoredVcek>,
    /// The VLEKs, sorted by file name.
    pub vleks: Vec<PathBuf>,
}

impl ProductInventory {
    /// True when nothing is stored for the product.
    pub fn is_empty(&self) -> bool {
        self.chain_vcek.is_none()
            && self.chain_vlek.is_none()
            && self.crl_vcek.is_none()
            && self.crl_vlek.is_none()
            && self.vceks.is_empty()
            && self.vleks.is_empty()
    }
}

/// Creates `dir` and its missing ancestors, each 0755 whatever the umask.
fn create_dirs(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_dirs(parent)?;
    }
    match fs::DirBuilder::new().mode(0o755).create(dir) {
        Ok(()) => fs::set_permissions(dir, fs::Permissions::from_mode(0o755))
            .map_err(|e| CollateralError::io("setting permissions of", dir, e)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(e) => Err(CollateralError::io("creating directory", dir, e)),
    }
}

/// Reads `path`, `None` when it does not exist.
fn read_optional(path: &Path) -> Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CollateralError::io("reading", path, e)),
    }
}

fn exists(path: &Path) -> Option<PathBuf> {
    path.is_file().then(|| path.to_path_buf())
}

/// Writes `bytes` to `path` atomically (temporary file in the same
/// directory, fsync, rename), mode 0644.
pub(super) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(CollateralError::Request(format!(
            "{}: not a file path",
            path.display()
        )));
    };
    create_dirs(dir)?;
    let tmp = dir.join(format!(
        ".{}.{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&tmp)
            .map_err(|e| CollateralError::io("creating", &tmp, e))?;
        f.write_all(bytes)
            .and_then(|()| f.sync_all())
            .map_err(|e| CollateralError::io("writing", &tmp, e))?;
        drop(f);
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o644))
            .map_err(|e| CollateralError::io("setting permissions of", &tmp, e))?;
        fs::rename(&tmp, path).map_err(|e| CollateralError::io("renaming into", path, e))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    // Make the rename durable; failure to sync a directory is not fatal.
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Regular files of `dir` not starting with '.', sorted; empty if `dir` is absent.
fn list_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(CollateralError::io("listing", dir, e)),
    };
    let mut out = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| CollateralError::io("listing", dir, e))?;
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if !hidden {
            out.push(entry.path());
        }
    }
    out.sort();
    Ok(out)
}

impl CollateralStore {
    /// Opens (creating it if needed) the collateral directory `dir`.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let root = dir.as_ref().to_path_buf();
        match fs::metadata(&root) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(CollateralError::io(
                    "opening collateral directory",
                    &root,
                    std::io::Error::other("exists and is not a directory"),
                ))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_dirs(&root)?,
            Err(e) => {
                return Err(CollateralError::io(
                    "opening collateral directory",
                    &root,
                    e,
                ))
            }
        }
        Ok(Self { root })
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `<dir>/snp/<product>`.
    pub fn product_dir(&self, product: SnpProduct) -> PathBuf {
        self.root.join("snp").join(product_slug(product))
    }

    /// Where the VCEK of `chip_id` at `reported_tcb` is (or would be) stored.
    pub fn vcek_path(&self, product: SnpProduct, chip_id: &[u8; 64], reported_tcb: u64) -> PathBuf {
        self.product_dir(product)
            .join("vcek")
            .join(hwid_hex(product, chip_id))
            .join(format!("{reported_tcb:016x}.der"))
    }

    /// Where the `kind` chain of `product` is stored.
    pub fn chain_path(&self, product: SnpProduct, kind: ChainKind) -> PathBuf {
        self.product_dir(product)
            .join(format!("cert_chain_{}.pem", kind.name()))
    }

    /// Where the `kind` CRL of `product` is stored.
    pub fn crl_path(&self, product: SnpProduct, kind: ChainKind) -> PathBuf {
        self.product_dir(product)
            .join(format!("crl_{}.der", kind.name()))
    }

    /// The stored VCEK (DER) of `chip_id` at `reported_tcb`, if any.
    pub fn vcek(
        &self,
        product: SnpProduct,
        chip_id: &[u8; 64],
        reported_tcb: u64,
    ) -> Result<Option<Vec<u8>>> {
        read_optional(&self.vcek_path(product, chip_id, reported_tcb))
    }

    /// Stores a VCEK after checking it is the one of `product`, `chip_id` and
    /// `reported_tcb` ([`super::check_vcek`]). Returns its path.
    pub fn put_vcek(
        &self,
        product: SnpProduct,
        chip_id: &[u8; 64],
        reported_tcb: u64,
        der: &[u8],
    ) -> Result<PathBuf> {
        let path = self.vcek_path(product, chip_id, reported_tcb);
        check_vcek(
            product,
            chip_id,
            reported_tcb,
            der,
            &path.display().to_string(),
        )?;
        write_atomic(&path, der)?;
        Ok(path)
    }

    /// Stores a VCEK under the product, hwID and TCB its own extensions name
    /// (for imports). `expected_product`, when given, must agree.
    pub fn import_vcek(&self, expected_product: Option<SnpProduct>, der: &[u8]) -> Result<PathBuf> {
        let (product, chip_id, tcb) = vcek_identity(der, expected_product, "VCEK to import")?;
        self.put_vcek(product, &chip_id, tcb, der)
    }

    /// The stored `kind` chain of `product` as `(ark_der, ask_der)`; the file
    /// must hold exactly the intermediate then the ARK.
    pub fn chain(
        &self,
        product: SnpProduct,
        kind: ChainKind,
    ) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        let path = self.chain_path(product, kind);
        match read_optional(&path)? {
            None => Ok(None),
            Some(pem) => {
                parse_chain_pem(product, kind, &pem, &path.display().to_string()).map(Some)
            }
        }
    }

    /// Stores a PEM chain (intermediate then ARK) after checking it.
    pub fn put_chain(&self, product: SnpProduct, kind: ChainKind, pem: &[u8]) -> Result<PathBuf> {
        let path = self.chain_path(product, kind);
        parse_chain_pem(product, kind, pem, &path.display().to_string())?;
        write_atomic(&path, pem)?;
        Ok(path)
    }

    /// The stored `kind` CRL (DER) of `product`, if any.
    pub fn crl(&self, product: SnpProduct, kind: ChainKind) -> Result<Option<Vec<u8>>> {
        read_optional(&self.crl_path(product, kind))
    }

    /// Stores a DER CRL after checking it is one issued by the product's ARK.
    pub fn put_crl(&self, product: SnpProduct, kind: ChainKind, der: &[u8]) -> Result<PathBuf> {
        let path = self.crl_path(product, kind);
        parse_crl(product, der, &path.display().to_string())?;
        write_atomic(&path, der)?;
        Ok(path)
    }

    /// Every stored VLEK (DER) of `product`, sorted by file name.
    pub fn vleks(&self, product: SnpProduct) -> Result<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        for p in self.vlek_files(product)? {
            let bytes = fs::read(&p).map_err(|e| CollateralError::io("reading", &p, e))?;
            out.push(bytes);
        }
        Ok(out)
    }

    /// Stores a VLEK after checking it is one of `product` (CSP id, no hwID);
    /// the file is named after its SHA-256, so importing twice is harmless.
    pub fn put_vlek(&self, product: SnpProduct, der: &[u8]) -> Result<PathBuf> {
        check_vlek(product, der, "VLEK to import")?;
        let name = format!("{}.der", hex::encode(Sha256::digest(der)));
        let path = self.product_dir(product).join("vlek").join(name);
        write_atomic(&path, der)?;
        Ok(path)
    }

    fn vlek_files(&self, product: SnpProduct) -> Result<Vec<PathBuf>> {
        Ok(list_files(&self.product_dir(product).join("vlek"))?
            .into_iter()
            .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "der"))
            .collect())
    }

    /// What the store holds for `product`.
    pub fn inventory(&self, product: SnpProduct) -> Result<ProductInventory> {
        let mut vceks = Vec::new();
        for hw_dir in list_files(&self.product_dir(product).join("vcek"))? {
            if !hw_dir.is_dir() {
                continue;
            }
            let hwid_hex = hw_dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            for f in list_files(&hw_dir)? {
                let tcb = f
                    .file_name()
                    .and_then(|n| n.to_str())
                    .and_then(|n| n.strip_suffix(".der"))
                    .filter(|s| s.len() == 16)
                    .and_then(|s| u64::from_str_radix(s, 16).ok());
                if let (Some(reported_tcb), true) = (tcb, f.is_file()) {
                    vceks.push(StoredVcek {
                        hwid_hex: hwid_hex.clone(),
                        reported_tcb,
                        path: f,
                    });
                }
            }
        }
        Ok(ProductInventory {
            chain_vcek: exists(&self.chain_path(product, ChainKind::Vcek)),
            chain_vlek: exists(&self.chain_path(product, ChainKind::Vlek)),
            crl_vcek: exists(&self.crl_path(product, ChainKind::Vcek)),
            crl_vlek: exists(&self.crl_path(product, ChainKind::Vlek)),
            vceks,
            vleks: self.vlek_files(product)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn data(rel: &str) -> Vec<u8> {
        let p = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/sev-snp/");
        std::fs::read(format!("{p}{rel}")).unwrap()
    }

    #[test]
    fn vcek_round_trip_with_layout_and_modes() {
        let tmp = tempfile::tempdir().unwrap();
        let store = CollateralStore::open(tmp.path().join("c")).unwrap();
        let vcek = data("virtee-sev/vcek_milan.der");
        let path = store.import_vcek(Some(SnpProduct::Milan), &vcek).unwrap();
        let rel = path
            .strip_prefix(store.root())
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert_eq!(
            rel,
            "snp/milan/vcek/d49554ec717f4e5b0fe6b143bcf0405bd7ae304727edf46603f2a76aef6a3abc15d7af38db757039029f0efacfd08e244324884738c72b082e2f87a44d541eb6/7308000000000003.der"
        );
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o777, 0o644);
        assert_eq!(
            fs::metadata(path.parent().unwrap()).unwrap().mode() & 0o777,
            0o755
        );
        let (_, chip, tcb) = vcek_identity(&vcek, None, "v").unwrap();
        assert_eq!(
            store.vcek(SnpProduct::Milan, &chip, tcb).unwrap(),
            Some(vcek.clone())
        );
        assert_eq!(store.vcek(SnpProduct::Milan, &chip, tcb + 1).unwrap(), None);
        // Filing it under another TCB is refused and writes nothing.
        assert!(store
            .put_vcek(SnpProduct::Milan, &chip, tcb + 1, &vcek)
            .is_err());
        assert!(!store.vcek_path(SnpProduct::Milan, &chip, tcb + 1).exists());
        let inv = store.inventory(SnpProduct::Milan).unwrap();
        assert_eq!(inv.vceks.len(), 1);
        assert_eq!(inv.vceks[0].reported_tcb, tcb);
        assert!(inv.chain_vcek.is_none());
        // No temporary files left behind.
        let leftovers: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers.len(), 1, "{leftovers:?}");
    }

    #[test]
    fn turin_vcek_is_filed_under_eight_byte_hwid() {
        let tmp = tempfile::tempdir().unwrap();
        let store = CollateralStore::open(tmp.path()).unwrap();
        let path = store
            .import_vcek(None, &data("virtee-sev/vcek_turin.der"))
            .unwrap();
        assert!(
            path.ends_with("snp/turin/vcek/1e550a8ee5cf9f4d/0900000000000000.der"),
            "{}",
            path.display()
        );
    }

    #[test]
    fn chain_crl_and_vlek() {
        let tmp = tempfile::tempdir().unwrap();
        let store = CollateralStore::open(tmp.path()).unwrap();
        assert_eq!(
            store.chain(SnpProduct::Genoa, ChainKind::Vcek).unwrap(),
            None
        );
        let pem = data("amd-roots/genoa/cert_chain_vcek.pem");
        store
            .put_chain(SnpProduct::Genoa, ChainKind::Vcek, &pem)
            .unwrap();
        assert!(store
            .put_chain(SnpProduct::Genoa, ChainKind::Vlek, &pem)
            .is_err());
        let (ark, ask) = store
            .chain(SnpProduct::Genoa, ChainKind::Vcek)
            .unwrap()
            .unwrap();
        assert_ne!(ark, ask);
        // A chain file edited by hand into one certificate is reported, not half-read.
        fs::write(
            store.chain_path(SnpProduct::Genoa, ChainKind::Vcek),
            data("amd-roots/genoa/ark.pem"),
        )
        .unwrap();
        let e = store.chain(SnpProduct::Genoa, ChainKind::Vcek).unwrap_err();
        assert!(e.to_string().contains("cert_chain_vcek.pem"), "{e}");
        assert!(e.to_string().contains("got 1 certificate block(s)"), "{e}");

        assert!(store
            .put_crl(SnpProduct::Milan, ChainKind::Vcek, b"not a crl")
            .is_err());
        assert_eq!(store.crl(SnpProduct::Milan, ChainKind::Vcek).unwrap(), None);

        let vlek = data("trustee/test-vlek.der");
        let p1 = store.put_vlek(SnpProduct::Milan, &vlek).unwrap();
        let p2 = store.put_vlek(SnpProduct::Milan, &vlek).unwrap();
        assert_eq!(p1, p2);
        assert_eq!(store.vleks(SnpProduct::Milan).unwrap(), vec![vlek]);
        assert!(store
            .put_vlek(SnpProduct::Milan, &data("virtee-sev/vcek_milan.der"))
            .is_err());
        assert!(store
            .put_vlek(SnpProduct::Genoa, &data("trustee/test-vlek.der"))
            .is_err());
    }

    #[test]
    fn open_refuses_a_file() {
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("f");
        fs::write(&f, b"x").unwrap();
        let e = CollateralStore::open(&f).unwrap_err();
        assert!(e.to_string().contains("not a directory"), "{e}");
    }
}
