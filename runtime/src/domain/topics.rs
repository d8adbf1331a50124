use std::collections::HashMap;

/// One variant's topic configuration, as written in `#[event(...)]`.
pub struct EventTopicSpec {
    /// The event's name.
    pub name: &'static str,
    /// A topic replacing `<aggregate topic>.<name>`.
    pub topic: Option<&'static str>,
    /// Other topics that decode as this event.
    pub aliases: &'static [&'static str],
}

/// The topics of an event enum: the one each variant is written under, and every topic
/// (including aliases) that reads as each variant.
#[derive(Debug)]
pub struct EventTopics {
    names: Vec<&'static str>,
    written: Vec<String>,
    readable: HashMap<String, usize, foldhash::fast::RandomState>,
}

impl EventTopics {
    /// Builds the table from the aggregate's topic, its aliases and the variants' specs.
    pub fn new(aggregate: &str, aggregate_aliases: &[&str], specs: &[EventTopicSpec]) -> Self {
        let mut readable = HashMap::default();
        let mut written = Vec::with_capacity(specs.len());
        for (index, spec) in specs.iter().enumerate() {
            let topic = match spec.topic {
                Some(topic) => topic.to_owned(),
                None => format!("{aggregate}.{}", spec.name),
            };
            for alias in aggregate_aliases {
                readable.entry(format!("{alias}.{}", spec.name)).or_insert(index);
            }
            for alias in spec.aliases {
                readable.insert((*alias).to_owned(), index);
            }
            readable.insert(topic.clone(), index);
            written.push(topic);
        }
        EventTopics { names: specs.iter().map(|spec| spec.name).collect(), written, readable }
    }

    /// The topic the named event is written under.
    pub fn topic_of(&self, name: &str) -> &str {
        let index = self.names.iter().position(|n| *n == name).unwrap_or(0);
        &self.written[index]
    }

    /// The variant index a stored topic decodes as.
    pub fn index_of(&self, topic: &str) -> Option<usize> {
        self.readable.get(topic).copied()
    }

    /// Every topic this enum reads.
    pub fn readable(&self) -> impl Iterator<Item = &str> {
        self.readable.keys().map(String::as_str)
    }

    /// The topics the variants are written under, in declaration order.
    pub fn written(&self) -> &[String] {
        &self.written
    }
}

/// `module::path` and `Name` as a Python-style topic: `module.path:Name`.
pub fn default_topic(module_path: &str, name: &str) -> String {
    format!("{}:{name}", module_path.replace("::", "."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derives_topics_and_reads_aliases() {
        let topics = EventTopics::new(
            "seed:Dog",
            &["old:Dog"],
            &[
                EventTopicSpec { name: "Registered", topic: None, aliases: &[] },
                EventTopicSpec { name: "TrickAdded", topic: Some("x:Y"), aliases: &["z:W"] },
            ],
        );
        assert_eq!(topics.topic_of("Registered"), "seed:Dog.Registered");
        assert_eq!(topics.topic_of("TrickAdded"), "x:Y");
        assert_eq!(topics.index_of("old:Dog.Registered"), Some(0));
        assert_eq!(topics.index_of("old:Dog.TrickAdded"), Some(1));
        assert_eq!(topics.index_of("z:W"), Some(1));
        assert_eq!(topics.index_of("seed:Dog.TrickAdded"), None);
        assert_eq!(default_topic("my_app::domain", "Dog"), "my_app.domain:Dog");
    }
}
