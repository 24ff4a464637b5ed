//! Datasources, one module each, named after upstream's `source:` value.

pub mod file;
