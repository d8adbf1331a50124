use eventsourcing_dynamodb::prelude::*;
use eventsourcing_dynamodb::{Decimal, Event, OffsetDateTime};

#[aggregate]
pub struct Account {
    owner: Uuid,
    balance: Decimal,
    opened_year: i32,
    sponsor: Option<Uuid>,
    history: Vec<Decimal>,
}

#[aggregate]
impl Account {
    #[event("Opened")]
    pub fn open(owner: Uuid, opened: OffsetDateTime, sponsor: Option<Uuid>) -> Self {
        Account {
            owner,
            balance: Decimal::ZERO,
            opened_year: opened.year(),
            sponsor,
            history: Vec::new(),
        }
    }

    #[event("Deposited")]
    pub fn deposit(&mut self, amounts: Vec<Decimal>, amount: Decimal) {
        self.history.extend(amounts);
        self.balance += amount;
    }
}

fn main() {
    let owner = Uuid::new_v4();
    let mut account = Account::open(owner, OffsetDateTime::UNIX_EPOCH, None);
    account.deposit(vec![Decimal::new(1050, 2)], Decimal::new(1050, 2));
    assert_eq!(account.owner, owner);
    assert_eq!(account.balance, Decimal::new(1050, 2));
    assert_eq!(account.opened_year, 1970);
    assert_eq!(account.sponsor, None);
    assert_eq!(account.history, [Decimal::new(1050, 2)]);

    let events = account.pending_events();
    let mut state = Vec::new();
    events[0]
        .payload
        .encode_state(&events[0].timestamp, &mut state)
        .unwrap();
    let json = String::from_utf8(state).unwrap();
    assert!(
        json.contains(r#""opened":{"_type_":"datetime_iso","_data_":"1970-01-01T00:00:00+00:00"}"#),
        "{json}"
    );
    assert!(json.contains(r#""sponsor":null"#), "{json}");

    // The event enum itself is serde too, in the same Python forms.
    let json = serde_json::to_string(&events[0].payload).unwrap();
    let back: AccountEvent = serde_json::from_str(&json).unwrap();
    assert!(
        matches!(back, AccountEvent::Opened { owner: o, opened, sponsor: None } if o == owner && opened == OffsetDateTime::UNIX_EPOCH)
    );

    let event = &events[1];
    let mut state = Vec::new();
    event
        .payload
        .encode_state(&event.timestamp, &mut state)
        .unwrap();
    let json = String::from_utf8(state.clone()).unwrap();
    assert!(
        json.contains(r#""amount":{"_type_":"decimal_str","_data_":"10.50"}"#),
        "{json}"
    );
    let (timestamp, decoded) = AccountEvent::decode_state(1, &state).unwrap();
    assert_eq!(timestamp, event.timestamp);
    assert!(
        matches!(decoded, AccountEvent::Deposited { amount, .. } if amount == Decimal::new(1050, 2))
    );
}
