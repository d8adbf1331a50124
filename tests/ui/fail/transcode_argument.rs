use eventsourcing_dynamodb::prelude::*;

pub type Money = Decimal;

#[aggregate]
pub struct Account {
    balance: Decimal,
}

#[aggregate]
impl Account {
    #[event("Opened")]
    pub fn open() -> Self {
        Account { balance: Decimal::ZERO }
    }

    #[event("Credited")]
    pub fn credit(&mut self, #[transcode(always)] amount: Money) {
        self.balance += amount;
    }
}

// The type is used as if it were right: the mistake above is the only error.
fn main() {
    let mut account = Account::open();
    account.credit(Decimal::ONE);
    assert_eq!(account.balance, Decimal::ONE);
}
