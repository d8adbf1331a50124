use super::{AggregateRecorder, ProcessRecorder};
use crate::environment::{ConfigError, Environment};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// The recorders an application uses: events (with the notification log and tracking) and snapshots.
#[derive(Clone)]
pub struct Recorders {
    /// Events, notification log and tracking records.
    pub events: Arc<dyn ProcessRecorder>,
    /// Snapshots of aggregates.
    pub snapshots: Arc<dyn AggregateRecorder>,
}

impl std::fmt::Debug for Recorders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorders").finish_non_exhaustive()
    }
}

/// What opening a persistence module returns.
pub type OpenFuture = Pin<Box<dyn Future<Output = Result<Recorders, ConfigError>> + Send>>;

/// A store that applications can select with `PERSISTENCE_MODULE`. Store crates register
/// one with `inventory::submit!`.
pub struct PersistenceModule {
    /// The name `PERSISTENCE_MODULE` selects it by.
    pub name: &'static str,
    /// Other accepted names.
    pub aliases: &'static [&'static str],
    /// Opens the store for an application, reading its other settings from the environment.
    pub open: fn(Environment) -> OpenFuture,
}

inventory::collect!(PersistenceModule);

inventory::submit! {
    PersistenceModule {
        name: "popo",
        aliases: &["memory", "eventsourcing.popo"],
        open: |_env| Box::pin(async { Ok(super::memory::recorders()) }),
    }
}

/// Opens the store `PERSISTENCE_MODULE` names (in-memory when unset).
pub async fn open_recorders(env: &Environment) -> Result<Recorders, ConfigError> {
    let Some(setting) = env.setting("PERSISTENCE_MODULE").filter(|s| !s.value.trim().is_empty())
    else {
        warn_ignored_settings(env);
        return Ok(super::memory::recorders());
    };
    let wanted = setting.value.trim();
    let module = inventory::iter::<PersistenceModule>
        .into_iter()
        .find(|module| module.name == wanted || module.aliases.contains(&wanted));
    match module {
        Some(module) => (module.open)(env.clone()).await,
        None => {
            let mut registered: Vec<&'static str> = inventory::iter::<PersistenceModule>
                .into_iter()
                .flat_map(|module| {
                    std::iter::once(module.name).chain(module.aliases.iter().copied())
                })
                .collect();
            registered.sort_unstable();
            Err(ConfigError::UnknownPersistenceModule {
                variable: setting.variable,
                value: setting.value,
                registered,
            })
        }
    }
}

/// The DynamoDB settings that are set although `PERSISTENCE_MODULE` is not, so the
/// application keeps its data in memory and ignores them.
fn ignored_settings(env: &Environment) -> Vec<String> {
    env.variables_starting_with("DYNAMO_")
}

/// Warns (once per process) that DynamoDB settings are ignored because `PERSISTENCE_MODULE`
/// is unset: data would silently stay in memory.
fn warn_ignored_settings(env: &Environment) {
    static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let ignored = ignored_settings(env);
    if ignored.is_empty() || WARNED.swap(true, std::sync::atomic::Ordering::Relaxed) {
        return;
    }
    tracing::warn!(
        variables = %ignored.join(", "),
        "{} set but PERSISTENCE_MODULE is not: the application keeps its events in memory; \
         set PERSISTENCE_MODULE=eventsourcing_dynamodb to use DynamoDB",
        ignored.join(", ")
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn dynamo_settings_without_a_module_are_named() {
        let values: HashMap<String, String> = [
            ("DYNAMO_TABLE", "dogs"),
            ("SCHOOL_DYNAMO_ENDPOINT_URL", "http://localhost:8000"),
            ("OTHER_DYNAMO_TABLE", "ignored: another application's"),
            ("DYNAMO_NOTIFICATION_LOG", ""),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let env = Environment::isolated("School", values);
        assert_eq!(ignored_settings(&env), ["DYNAMO_TABLE", "SCHOOL_DYNAMO_ENDPOINT_URL"]);
        assert!(ignored_settings(&Environment::isolated("School", HashMap::new())).is_empty());
    }
}
