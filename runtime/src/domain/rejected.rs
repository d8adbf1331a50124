use std::any::Any;
use std::fmt;

/// Why an event body did not apply: the error it returned, or an event in the wrong place.
///
/// A command hands the body's own error back to its caller; replay reports it as
/// [`crate::Error::Replay`].
pub struct Rejected {
    message: String,
    error: Option<Box<dyn Any + Send>>,
}

impl Rejected {
    /// Wraps the error returned by an event body.
    pub fn new<E: fmt::Debug + Send + 'static>(error: E) -> Self {
        Rejected { message: format!("{error:?}"), error: Some(Box::new(error)) }
    }

    /// A created event applied to an existing aggregate, or another event used to create one.
    pub fn misplaced(message: &str) -> Self {
        Rejected { message: message.to_owned(), error: None }
    }

    /// The text of the error.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The body's error, given back to the command that triggered it.
    ///
    /// # Panics
    /// If `E` is not the type the body returned; generated code always asks for that type.
    pub fn downcast<E: 'static>(self) -> E {
        match self.error.map(|error| error.downcast::<E>()) {
            Some(Ok(error)) => *error,
            _ => panic!("internal error: event body error of unexpected type: {}", self.message),
        }
    }

    /// For bodies that cannot fail: reaching this is a bug in the generated code.
    pub fn unexpected<T>(self) -> T {
        panic!("internal error: an infallible event body failed: {}", self.message)
    }
}

impl fmt::Debug for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Rejected").field(&self.message).finish()
    }
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
