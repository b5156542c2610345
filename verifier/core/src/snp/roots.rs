//! The AMD roots the verifier trusts for SEV-SNP, built in.
//!
//! AMD "Versioned Chip Endorsement Key (VCEK) Certificate and KDS Interface
//! Specification" (publication 57230), revision 0.50: each product line has
//! its own AMD Root Key (ARK, self-signed RSA-4096) which signs the AMD SEV
//! Key (ASK, issuer of VCEKs) and the AMD SEV VLEK Key (ASVK, issuer of the
//! VLEKs that cloud providers load). The certificates live next to this file
//! (`roots/<product>/{ark,ask,asvk}.der`, provenance and fingerprints in
//! `roots/README.md`) and are compiled in: the verifier never takes a root
//! from the evidence or from the network.
//!
//! A test chain can be added only through
//! [`AmdRoots::with_insecure_test_chain`], which exists only when the crate
//! is built with the non-default `insecure-test-roots` feature; a default
//! build has no way to trust anything but AMD.

use sealbuild_common::snp::SnpProduct;

use super::AmdChain;

/// Which intermediate signs the report's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IntermediateKind {
    /// ASK: signs VCEKs.
    Ask,
    /// ASVK: signs VLEKs.
    Asvk,
}

/// One product's ARK and intermediates, DER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductRoots {
    /// The product line.
    pub product: SnpProduct,
    /// ARK.
    pub ark: Vec<u8>,
    /// ASK.
    pub ask: Vec<u8>,
    /// ASVK, when known.
    pub asvk: Option<Vec<u8>>,
    /// Whether this is an insecure test chain (never true in a default build).
    pub insecure_test: bool,
}

impl ProductRoots {
    /// The chain for reports signed by a VCEK ([`IntermediateKind::Ask`]) or
    /// a VLEK ([`IntermediateKind::Asvk`]).
    pub fn chain(&self, kind: IntermediateKind) -> Option<AmdChain<'_>> {
        let ask = match kind {
            IntermediateKind::Ask => self.ask.as_slice(),
            IntermediateKind::Asvk => self.asvk.as_deref()?,
        };
        Some(AmdChain {
            ark_der: &self.ark,
            ask_der: ask,
        })
    }
}

const MILAN_ARK: &[u8] = include_bytes!("roots/milan/ark.der");
const MILAN_ASK: &[u8] = include_bytes!("roots/milan/ask.der");
const MILAN_ASVK: &[u8] = include_bytes!("roots/milan/asvk.der");
const GENOA_ARK: &[u8] = include_bytes!("roots/genoa/ark.der");
const GENOA_ASK: &[u8] = include_bytes!("roots/genoa/ask.der");
const GENOA_ASVK: &[u8] = include_bytes!("roots/genoa/asvk.der");
const TURIN_ARK: &[u8] = include_bytes!("roots/turin/ark.der");
const TURIN_ASK: &[u8] = include_bytes!("roots/turin/ask.der");
const TURIN_ASVK: &[u8] = include_bytes!("roots/turin/asvk.der");

/// The set of roots a verifier trusts, per product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmdRoots {
    products: Vec<ProductRoots>,
}

impl Default for AmdRoots {
    fn default() -> Self {
        Self::builtin()
    }
}

impl AmdRoots {
    /// AMD's roots for Milan, Genoa and Turin.
    pub fn builtin() -> Self {
        let p = |product, ark: &[u8], ask: &[u8], asvk: &[u8]| ProductRoots {
            product,
            ark: ark.to_vec(),
            ask: ask.to_vec(),
            asvk: Some(asvk.to_vec()),
            insecure_test: false,
        };
        Self {
            products: vec![
                p(SnpProduct::Milan, MILAN_ARK, MILAN_ASK, MILAN_ASVK),
                p(SnpProduct::Genoa, GENOA_ARK, GENOA_ASK, GENOA_ASVK),
                p(SnpProduct::Turin, TURIN_ARK, TURIN_ASK, TURIN_ASVK),
            ],
        }
    }

    /// The candidate chains for `product` (AMD's first, then any test chain).
    pub fn for_product(&self, product: SnpProduct) -> impl Iterator<Item = &ProductRoots> {
        self.products.iter().filter(move |r| r.product == product)
    }

    /// Every product's roots.
    pub fn all(&self) -> &[ProductRoots] {
        &self.products
    }

    /// Adds an INSECURE test chain for `product` (ARK and ASK, DER), e.g. the
    /// simulated SNP backend's. Anyone holding that chain's keys can forge
    /// reports this verifier accepts; only CI and demos may call this.
    #[cfg(feature = "insecure-test-roots")]
    pub fn with_insecure_test_chain(mut self, product: SnpProduct, ark: &[u8], ask: &[u8]) -> Self {
        self.products.push(ProductRoots {
            product,
            ark: ark.to_vec(),
            ask: ask.to_vec(),
            asvk: None,
            insecure_test: true,
        });
        self
    }

    /// Whether any insecure test chain is trusted.
    pub fn trusts_insecure_test_chain(&self) -> bool {
        self.products.iter().any(|p| p.insecure_test)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ekcert::{verify_ek_cert_chain, TrustAnchors};
    use sha2::{Digest, Sha256};

    /// The pinned fingerprints of roots/README.md.
    const PINNED: [(&[u8], &str); 9] = [
        (
            MILAN_ARK,
            "69d063b45344d26a2e94e1f4210de49ef555308287d4c174445c95639a540bcd",
        ),
        (
            MILAN_ASK,
            "67d303bd3905fd38db8b20e0793699870e7fa612eaad5dec358293fd8c0bac1b",
        ),
        (
            MILAN_ASVK,
            "c5e081f59b7efab1fe2f8b505e159704e72f29cab7ef7cf628a05a42439082f5",
        ),
        (
            GENOA_ARK,
            "4c6598d19c18719c5dfd4a7d335f674e5bfe1d8f800cea2cf270c10d103db2f1",
        ),
        (
            GENOA_ASK,
            "5464738c1546aed5f2cecf1dc98c5c960a92e8913238a61711bc90ec6e828521",
        ),
        (
            GENOA_ASVK,
            "197e610743a917d6b9bb982a5a9226ccc0a15b611be0619e626aca9151457372",
        ),
        (
            TURIN_ARK,
            "1f084161a44bb6d93778a904877d4819cafa5d05ef4193b2ded9dd9c73dd3f6a",
        ),
        (
            TURIN_ASK,
            "5b77ef5fe7a7a004fd9032668fba9d0fda22f88c4442069a479636a6ae3b3185",
        ),
        (
            TURIN_ASVK,
            "104e10a8bd060a3c20a434261a57d0588fd65a88915b4f65b08bdecaf8df1a3c",
        ),
    ];

    #[test]
    fn builtin_roots_are_the_pinned_ones() {
        for (der, fp) in PINNED {
            assert_eq!(hex::encode(Sha256::digest(der)), fp);
        }
    }

    const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/sev-snp/");

    #[test]
    fn real_endorsement_keys_chain_to_the_builtin_roots() {
        // (product, leaf, intermediate kind, a time inside the leaf's validity)
        let cases = [
            (
                SnpProduct::Milan,
                "virtee-sev/vcek_milan.der",
                IntermediateKind::Ask,
                1_795_392_000,
            ),
            (
                SnpProduct::Genoa,
                "trustee/e2e-genoa-vcek.der",
                IntermediateKind::Ask,
                1_795_392_000,
            ),
            (
                SnpProduct::Turin,
                "virtee-sev/vcek_turin.der",
                IntermediateKind::Ask,
                1_795_392_000,
            ),
            // The AWS VLEK expired on 2025-12-10: 2025-06-01.
            (
                SnpProduct::Milan,
                "trustee/test-vlek.der",
                IntermediateKind::Asvk,
                1_748_736_000,
            ),
        ];
        let roots = AmdRoots::builtin();
        assert!(!roots.trusts_insecure_test_chain());
        for (product, leaf, kind, at) in cases {
            let leaf = std::fs::read(format!("{DATA}{leaf}")).unwrap();
            let r = roots.for_product(product).next().unwrap();
            let chain = r.chain(kind).unwrap();
            let anchors = TrustAnchors::from_der([chain.ark_der]).unwrap();
            verify_ek_cert_chain(&leaf, &[chain.ask_der], &anchors, at)
                .unwrap_or_else(|e| panic!("{product}: {e}"));
            // Not with another product's roots, nor with the other intermediate.
            for other in roots.all().iter().filter(|o| o.product != product) {
                let c = other.chain(kind).unwrap();
                let a = TrustAnchors::from_der([c.ark_der]).unwrap();
                assert!(verify_ek_cert_chain(&leaf, &[c.ask_der], &a, at).is_err());
            }
            let flip = match kind {
                IntermediateKind::Ask => IntermediateKind::Asvk,
                IntermediateKind::Asvk => IntermediateKind::Ask,
            };
            let c = r.chain(flip).unwrap();
            assert!(verify_ek_cert_chain(&leaf, &[c.ask_der], &anchors, at).is_err());
        }
    }
}
