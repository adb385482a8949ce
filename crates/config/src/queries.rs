//! What the commands ask of a configuration: which file, which listener,
//! which host names clients use.

use std::path::{Path, PathBuf};

use mailcert_x509::Service;

use crate::{is_root, Config, ConfigError, Listener};

impl Config {
    /// The configuration at `path`, else the default file if it exists
    /// (`None` when it does not). Naming a `listener` makes a missing
    /// default file an error: a listener name that cannot be checked is
    /// never taken on trust.
    pub fn load_optional(
        path: Option<&Path>,
        listener: Option<&str>,
    ) -> Result<Option<Config>, ConfigError> {
        let path = match path {
            Some(p) => p.to_path_buf(),
            None => {
                let default = default_config_path();
                if !default.exists() {
                    if let Some(name) = listener {
                        return Err(ConfigError::NoConfiguration {
                            name: name.to_string(),
                            default,
                        });
                    }
                    return Ok(None);
                }
                default
            }
        };
        Ok(Some(Config::load(&path)?))
    }

    pub fn listener(&self, name: &str) -> Option<&Listener> {
        self.listeners.iter().find(|l| l.name == name)
    }

    /// The listener called `name`; the error lists the ones there are.
    pub fn find_listener(&self, name: &str) -> Result<&Listener, ConfigError> {
        self.listener(name).ok_or_else(|| {
            let names: Vec<&str> = self.listeners.iter().map(|l| l.name.as_str()).collect();
            ConfigError::NoListener {
                path: self.path.clone(),
                name: name.to_string(),
                known: if names.is_empty() {
                    "none".into()
                } else {
                    names.join(", ")
                },
            }
        })
    }

    /// The host names clients use for `services` (the `hostname` of each
    /// listener serving one of them, or of the one named), which the
    /// pre-flight of `enable` checks a certificate's names against. A
    /// listener that serves none of `services` is refused: a binding for
    /// it would never be used.
    pub fn hostnames_for(
        &self,
        services: &[Service],
        listener: Option<&str>,
    ) -> Result<Vec<String>, ConfigError> {
        if let Some(name) = listener {
            let serves = self.find_listener(name)?.protocol.service();
            if let Some(&asked) = services.iter().find(|s| **s != serves) {
                return Err(ConfigError::WrongService {
                    name: name.to_string(),
                    serves,
                    asked,
                });
            }
        }
        let mut names: Vec<String> = self
            .listeners
            .iter()
            .filter(|l| services.contains(&l.protocol.service()))
            .filter(|l| listener.is_none_or(|n| n == l.name))
            .filter_map(|l| l.hostname.clone())
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// The listener called `name`, which must serve `service`.
    pub fn listener_serving(&self, name: &str, service: Service) -> Result<&Listener, ConfigError> {
        let listener = self.find_listener(name)?;
        let serves = listener.protocol.service();
        if serves != service {
            return Err(ConfigError::NotServing {
                name: listener.name.clone(),
                serves,
                asked: service,
            });
        }
        Ok(listener)
    }
}

/// Where `serve` and the listener-aware commands look for the
/// configuration when `--config` is not given.
pub fn default_config_path() -> PathBuf {
    if is_root() {
        return PathBuf::from("/etc/mailcert/mailcert.toml");
    }
    std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("mailcert/mailcert.toml")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config::parse(
            "[[listener]]\nname = \"imaps\"\nprotocol = \"imap\"\ntls = \"implicit\"\nbind = \"127.0.0.1:993\"\nbackend = \"127.0.0.1:143\"\nhostname = \"mail.contoso.com\"\n\n\
             [[listener]]\nname = \"submission\"\nprotocol = \"smtp\"\ntls = \"starttls\"\nbind = \"127.0.0.1:587\"\nbackend = \"127.0.0.1:25\"\nhostname = \"smtp.contoso.com\"\n\n\
             [[listener]]\nname = \"imap\"\nprotocol = \"imap\"\ntls = \"starttls\"\nbind = \"127.0.0.1:143\"\nbackend = \"127.0.0.1:1143\"\nhostname = \"mail.contoso.com\"\n",
            Path::new("/etc/mailcert/mailcert.toml"),
        )
        .expect("a valid configuration")
    }

    #[test]
    fn an_unknown_listener_is_named_with_the_ones_there_are() {
        let err = config().find_listener("imapz").unwrap_err().to_string();
        assert_eq!(
            err,
            "/etc/mailcert/mailcert.toml: no listener named 'imapz'; listeners there: imaps, submission, imap"
        );
    }

    #[test]
    fn a_listener_of_another_service_is_refused_naming_both() {
        let config = config();
        assert_eq!(
            config
                .listener_serving("imaps", Service::Imap)
                .expect("imaps serves imap")
                .name,
            "imaps"
        );
        let err = config.listener_serving("imaps", Service::Smtp).unwrap_err();
        assert!(matches!(
            err,
            ConfigError::NotServing {
                serves: Service::Imap,
                asked: Service::Smtp,
                ..
            }
        ));
        assert_eq!(err.to_string(), "listener 'imaps' serves imap, not smtp");
    }

    #[test]
    fn host_names_are_those_of_the_listeners_of_the_services() {
        let config = config();
        assert_eq!(
            config.hostnames_for(&[Service::Imap], None).expect("names"),
            ["mail.contoso.com"]
        );
        assert_eq!(
            config
                .hostnames_for(&[Service::Imap, Service::Smtp], None)
                .expect("names"),
            ["mail.contoso.com", "smtp.contoso.com"]
        );
        assert_eq!(
            config
                .hostnames_for(&[Service::Smtp], Some("submission"))
                .expect("names"),
            ["smtp.contoso.com"]
        );
        assert!(matches!(
            config.hostnames_for(&[Service::Smtp], Some("imaps")),
            Err(ConfigError::WrongService { .. })
        ));
    }

    #[test]
    fn a_named_file_that_is_missing_is_an_error_not_the_default() {
        let err =
            Config::load_optional(Some(Path::new("/nonexistent/mailcert.toml")), None).unwrap_err();
        assert!(matches!(err, ConfigError::Read { .. }), "{err}");
    }
}
