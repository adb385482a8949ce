//! Working with any CA, proved against OpenSSL as the outside CA and the
//! outside client: requests, completion in every form CAs send, PKCS#12
//! both ways, the private CA, trust anchors, replace. Every bad input
//! exits 2 and leaves the store as it was (`list`, `log`, `trust list`).

mod answers;
mod defaults;
mod diagnosis;
mod encrypted_keys;
mod harness;
mod key_usage;
mod pkcs12;
mod private_ca;
mod requests;
mod trust_replace;
mod wrong_files;
