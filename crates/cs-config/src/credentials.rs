//! `local_api_credentials.yaml` / `online_api_credentials.yaml`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Credentials of a machine (watcher) for a LAPI, or of the LAPI for CAPI.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ApiCredentials {
    /// PAPI URL (console), optional.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub papi_url: String,
    /// API base URL; [`ApiCredentials::load`] guarantees a trailing `/`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub url: String,
    /// Machine id.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub login: String,
    /// Machine password.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub password: String,
    /// CA bundle used to verify the server.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ca_cert_path: String,
    /// Client key for TLS authentication.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub key_path: String,
    /// Client certificate for TLS authentication.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cert_path: String,
}

impl ApiCredentials {
    /// Loads a LAPI client credentials file with its `.local` override, as the agent and cscli
    /// do: the URL is required and gets a trailing `/`; login/password and client
    /// certificates are mutually exclusive.
    pub fn load(path: &Path) -> Result<ApiCredentials> {
        let node = crate::config::read_merged(path, |s| s.to_string())?;
        let mut c: ApiCredentials = node.decode("").map_err(Error::Yaml)?;
        if c.url.is_empty() {
            return Err(Error::Invalid {
                path: path.to_path_buf(),
                key: "url".into(),
                message: "no credentials or URL found in api client configuration".into(),
            });
        }
        if !c.url.ends_with('/') {
            c.url.push('/');
        }
        if !c.login.is_empty() && (!c.cert_path.is_empty() || !c.key_path.is_empty()) {
            return Err(Error::Invalid {
                path: path.to_path_buf(),
                key: "login".into(),
                message:
                    "user/password authentication and TLS authentication are mutually exclusive"
                        .into(),
            });
        }
        Ok(c)
    }

    /// Writes the file as cscli does (`url`, `login`, `password` and any TLS paths).
    pub fn save(&self, path: &Path) -> Result<()> {
        std::fs::write(path, self.to_yaml(path)?).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })
    }

    /// The YAML text [`ApiCredentials::save`] writes.
    pub fn to_yaml(&self, path: &Path) -> Result<String> {
        crate::yaml::to_string(&Ordered::from(self)).map_err(|message| Error::Serialize {
            path: path.to_path_buf(),
            message,
        })
    }
}

/// Field order of the files cscli writes (`url` first), which differs from the struct order
/// above (upstream's struct order, used for strict decoding only).
#[derive(Serialize)]
struct Ordered<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    url: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    login: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    password: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    papi_url: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    ca_cert_path: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    key_path: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    cert_path: &'a str,
}

impl<'a> From<&'a ApiCredentials> for Ordered<'a> {
    fn from(c: &'a ApiCredentials) -> Self {
        Ordered {
            url: &c.url,
            login: &c.login,
            password: &c.password,
            papi_url: &c.papi_url,
            ca_cert_path: &c.ca_cert_path,
            key_path: &c.key_path,
            cert_path: &c.cert_path,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_adds_trailing_slash() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("local_api_credentials.yaml");
        let c = ApiCredentials {
            url: "http://127.0.0.1:8080".into(),
            login: "m1".into(),
            password: "p".into(),
            ..Default::default()
        };
        c.save(&p).unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "url: http://127.0.0.1:8080\nlogin: m1\npassword: p\n"
        );
        let back = ApiCredentials::load(&p).unwrap();
        assert_eq!(back.url, "http://127.0.0.1:8080/");
        assert_eq!(back.login, "m1");
    }

    #[test]
    fn local_override_and_strictness() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.yaml");
        std::fs::write(&p, "url: http://a/\nlogin: x\npassword: y\n").unwrap();
        std::fs::write(dir.path().join("c.yaml.local"), "password: z\n").unwrap();
        assert_eq!(ApiCredentials::load(&p).unwrap().password, "z");
        std::fs::write(&p, "url: http://a/\nlogn: x\n").unwrap();
        let err = ApiCredentials::load(&p).unwrap_err().to_string();
        assert!(err.contains("unknown field `logn`"), "{err}");
        assert!(err.contains("did you mean `login`?"), "{err}");
    }

    #[test]
    fn password_and_certificate_are_exclusive() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.yaml");
        std::fs::write(&p, "url: https://a/\nlogin: x\ncert_path: /c.pem\n").unwrap();
        assert!(matches!(
            ApiCredentials::load(&p),
            Err(Error::Invalid { .. })
        ));
        std::fs::write(&p, "login: x\n").unwrap();
        assert!(matches!(
            ApiCredentials::load(&p),
            Err(Error::Invalid { .. })
        ));
    }
}
