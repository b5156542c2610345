//! TPM 2.0 structures. (being written)
