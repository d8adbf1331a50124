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
