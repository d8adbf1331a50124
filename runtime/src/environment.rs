//! Configuration from environment variables, with Python eventsourcing's lookup rule:
//! `<APPNAME>_<KEY>` beats `<KEY>`, and values given in code beat the process environment.

use std::collections::HashMap;

/// A configuration problem, naming the variable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required variable is not set.
    #[error("environment variable {variable} is not set: {hint}")]
    Missing {
        /// The variable (unprefixed).
        variable: String,
        /// How to fix it.
        hint: String,
    },
    /// A variable has a value that cannot be used.
    #[error("environment variable {variable}={value:?} is invalid: expected {expected}")]
    Invalid {
        /// The variable as found (maybe prefixed).
        variable: String,
        /// Its value.
        value: String,
        /// What it should be.
        expected: String,
    },
    /// `PERSISTENCE_MODULE` names no registered store.
    #[error("{variable}={value:?} names no persistence module; registered: {}", registered.join(", "))]
    UnknownPersistenceModule {
        /// The variable as found (maybe prefixed).
        variable: String,
        /// Its value.
        value: String,
        /// The registered names and aliases.
        registered: Vec<&'static str>,
    },
    /// The store could not be opened with this configuration.
    #[error("cannot open persistence module {module}: {source}")]
    Store {
        /// The module's name.
        module: &'static str,
        /// Why.
        #[source]
        source: crate::persistence::PersistenceError,
    },
}

/// An application's view of its configuration.
#[derive(Debug, Clone)]
pub struct Environment {
    prefix: String,
    overrides: HashMap<String, String>,
    read_process: bool,
}

/// A value found in the environment, with the variable it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// The variable that supplied the value (e.g. `TRAININGSCHOOL_PERSISTENCE_MODULE`).
    pub variable: String,
    /// The value.
    pub value: String,
}

impl Environment {
    /// The environment of application `name`: the process environment, overridden by `overrides`.
    pub fn new(name: &str, overrides: HashMap<String, String>) -> Self {
        Environment { prefix: name.to_uppercase(), overrides, read_process: true }
    }

    /// Only `values`, ignoring the process environment (for tests and embedding).
    pub fn isolated(name: &str, values: HashMap<String, String>) -> Self {
        Environment { prefix: name.to_uppercase(), overrides: values, read_process: false }
    }

    /// A variable's value; an empty value counts as unset, as in Python eventsourcing.
    fn lookup(&self, variable: &str) -> Option<String> {
        let value = match self.overrides.get(variable) {
            Some(value) => Some(value.clone()),
            None if self.read_process => std::env::var(variable).ok(),
            None => None,
        };
        value.filter(|value| !value.is_empty())
    }

    /// The variables set (non-empty) whose names start with `stem`, plain or with this
    /// application's prefix, sorted: e.g. `["DYNAMO_TABLE", "TRAININGSCHOOL_DYNAMO_TABLE"]`.
    pub fn variables_starting_with(&self, stem: &str) -> Vec<String> {
        let prefixed = format!("{}_{stem}", self.prefix);
        let wanted = |name: &str| name.starts_with(stem) || name.starts_with(&prefixed);
        let mut found: Vec<String> = self
            .overrides
            .iter()
            .filter(|(name, value)| wanted(name) && !value.is_empty())
            .map(|(name, _)| name.clone())
            .collect();
        if self.read_process {
            found.extend(
                std::env::vars_os()
                    .filter_map(|(name, value)| Some((name.into_string().ok()?, value)))
                    .filter(|(name, value)| wanted(name) && !value.is_empty())
                    .map(|(name, _)| name),
            );
        }
        found.sort_unstable();
        found.dedup();
        found
    }

    /// The value of `key`: `<APPNAME>_<KEY>` if set, else `<KEY>`.
    pub fn setting(&self, key: &str) -> Option<Setting> {
        let prefixed = format!("{}_{key}", self.prefix);
        for variable in [prefixed.as_str(), key] {
            if let Some(value) = self.lookup(variable) {
                return Some(Setting { variable: variable.to_owned(), value });
            }
        }
        None
    }

    /// The value of `key`, as [`Environment::setting`] finds it.
    pub fn get(&self, key: &str) -> Option<String> {
        self.setting(key).map(|setting| setting.value)
    }

    /// A value that must be set.
    pub fn require(&self, key: &str, hint: &str) -> Result<Setting, ConfigError> {
        self.setting(key)
            .ok_or_else(|| ConfigError::Missing { variable: key.to_owned(), hint: hint.to_owned() })
    }

    /// A yes/no value, spelled as Python's `strtobool` accepts: y, yes, t, true, on, 1 /
    /// n, no, f, false, off, 0 (any case).
    pub fn get_bool(&self, key: &str) -> Result<Option<bool>, ConfigError> {
        let Some(setting) = self.setting(key) else {
            return Ok(None);
        };
        match setting.value.trim().to_lowercase().as_str() {
            "y" | "yes" | "t" | "true" | "on" | "1" => Ok(Some(true)),
            "n" | "no" | "f" | "false" | "off" | "0" => Ok(Some(false)),
            _ => Err(ConfigError::Invalid {
                variable: setting.variable,
                value: setting.value,
                expected: "one of y, yes, t, true, on, 1, n, no, f, false, off, 0".to_owned(),
            }),
        }
    }

    /// An integer value.
    pub fn get_i64(&self, key: &str) -> Result<Option<i64>, ConfigError> {
        let Some(setting) = self.setting(key) else {
            return Ok(None);
        };
        setting.value.trim().parse().map(Some).map_err(|_| ConfigError::Invalid {
            variable: setting.variable,
            value: setting.value,
            expected: "an integer".to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Environment {
        let values = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Environment::isolated("TrainingSchool", values)
    }

    #[test]
    fn prefixed_variable_wins() {
        let env = env(&[("PERSISTENCE_MODULE", "a"), ("TRAININGSCHOOL_PERSISTENCE_MODULE", "b")]);
        let setting = env.setting("PERSISTENCE_MODULE").unwrap();
        assert_eq!(setting.value, "b");
        assert_eq!(setting.variable, "TRAININGSCHOOL_PERSISTENCE_MODULE");
        assert_eq!(env.get("MISSING"), None);
    }

    #[test]
    fn booleans_follow_strtobool() {
        let env = env(&[("A", "Yes"), ("B", "off"), ("C", "maybe")]);
        assert_eq!(env.get_bool("A").unwrap(), Some(true));
        assert_eq!(env.get_bool("B").unwrap(), Some(false));
        assert_eq!(env.get_bool("D").unwrap(), None);
        let error = env.get_bool("C").unwrap_err().to_string();
        assert!(error.contains("C=\"maybe\""), "{error}");
    }
}
