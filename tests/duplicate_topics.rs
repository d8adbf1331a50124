//! Two aggregates that read the same event topic: a system does not start (its own test
//! binary, since every system in a program with such aggregates refuses to build).

use eventsourcing_dynamodb::prelude::*;

mod first {
    use eventsourcing_dynamodb::prelude::*;

    #[aggregate(topic = "kennel:Dog")]
    pub struct Dog {
        name: String,
    }

    #[aggregate]
    impl Dog {
        #[event("Registered")]
        pub fn register(name: String) -> Self {
            Dog { name }
        }
    }
}

mod second {
    use eventsourcing_dynamodb::prelude::*;

    /// Another aggregate that reads `kennel:Dog.*` through an alias.
    #[aggregate(topic = "kennel:Hound", aliases = ["kennel:Dog"])]
    pub struct Hound {
        name: String,
    }

    #[aggregate]
    impl Hound {
        #[event("Registered")]
        pub fn register(name: String) -> Self {
            Hound { name }
        }
    }
}

/// Failed on the old code: the registry kept one of the two in `inventory`'s arbitrary
/// order, and a policy silently never saw the other's events.
#[tokio::test]
async fn a_topic_two_aggregates_read_stops_the_system_at_startup() {
    let school = Application::builder("TrainingSchool").isolated().build().await.unwrap();
    let error = System::builder().leader(&school).build().unwrap_err();
    let Error::DuplicateTopic(duplicate) = &error else {
        panic!("expected DuplicateTopic: {error:?}")
    };
    assert_eq!(duplicate.topic, "kennel:Dog.Registered");
    assert_eq!(duplicate.first, "duplicate_topics::first::Dog");
    assert_eq!(duplicate.second, "duplicate_topics::second::Hound");
    let message = error.to_string();
    assert!(message.contains("duplicate_topics::first::Dog"), "{message}");
    assert!(message.contains("duplicate_topics::second::Hound"), "{message}");
    // Both still work as aggregates.
    let mut dog = first::Dog::register("Fido".into());
    let mut hound = second::Hound::register("Rex".into());
    school.save((&mut dog, &mut hound)).await.unwrap();
}
