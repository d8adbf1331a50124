//! Checks of an `#[aggregate]` impl block, each reported at the span of the mistake.

use crate::ast::{AggregateImpl, EventMethod, Output, Receiver};
use crate::attr::Versioning;
use crate::types;
use quote::ToTokens;
use std::collections::HashMap;

/// Field names that Python's eventsourcing keeps for itself in every stored event.
const RESERVED_FIELDS: &[&str] =
    &["originator_id", "originator_version", "originator_topic", "timestamp", "class_version"];

/// Methods of `Root<A>` that a command of the same name would hide.
const ROOT_METHODS: &[&str] =
    &["id", "version", "created_on", "modified_on", "pending_events", "collect_events", "state"];

const GENERIC_AGGREGATE: &str =
    "generic aggregates are not supported: an aggregate's state and events are stored, so their types must be concrete";

struct Errors(Option<syn::Error>);

impl Errors {
    /// An error at one token.
    fn push(&mut self, span: proc_macro2::Span, message: impl std::fmt::Display) {
        self.add(syn::Error::new(span, message));
    }

    /// An error covering all of `tokens`, from the first to the last.
    fn push_spanned(&mut self, tokens: impl ToTokens, message: impl std::fmt::Display) {
        self.add(syn::Error::new_spanned(tokens, message));
    }

    fn add(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(existing) => existing.combine(error),
            None => self.0 = Some(error),
        }
    }
}

/// What validating an impl block found.
pub struct Checked {
    /// Every mistake found, combined; `None` when there is none.
    pub error: Option<syn::Error>,
    /// Whether the impl block itself is unusable (a trait impl, generics): then nothing but
    /// the error is emitted.
    pub fatal: bool,
    /// By event index: whether that event has a mistake, so that it is generated as a stub
    /// (its methods exist, so its uses add no errors; they are never run).
    pub invalid: Vec<bool>,
}

/// Validates the whole impl block, reporting every mistake found.
pub fn check(aggregate: &AggregateImpl) -> Checked {
    let mut errors = Errors(None);
    let item = &aggregate.item;
    let mut fatal = false;
    if let Some((_, path, _)) = &item.trait_ {
        fatal = true;
        errors.push_spanned(
            path,
            "#[aggregate] goes on the aggregate's own impl block (`impl Dog`), not on a trait impl",
        );
    }
    if !item.generics.params.is_empty() {
        fatal = true;
        errors.push_spanned(&item.generics, GENERIC_AGGREGATE);
    } else if let Some(arguments) = self_type_arguments(&item.self_ty) {
        fatal = true;
        errors.push_spanned(arguments, GENERIC_AGGREGATE);
    }
    let mut invalid = Vec::with_capacity(aggregate.events.len());
    let mut names: HashMap<String, &EventMethod> = HashMap::new();
    for event in &aggregate.events {
        let mut own = Errors(event.attr_error.clone());
        check_event(event, &mut own);
        let name = event.event_name();
        if let Some(first) = names.get(&name) {
            own.push(
                event.name_span(),
                format!(
                    "duplicate event name `{name}`: `{}` already records it",
                    first.func.sig.ident
                ),
            );
        } else {
            names.insert(name, event);
        }
        invalid.push(own.0.is_some());
        if let Some(error) = own.0 {
            errors.add(error);
        }
    }
    for command in &aggregate.commands {
        check_command_name(&command.sig.ident, &mut errors);
    }
    if !aggregate.events.iter().any(EventMethod::is_constructor) {
        errors.push(
            item.impl_token.span,
            "an aggregate needs a constructor: add a fn without `self` that returns `Self`, marked #[event(\"Name\")] (e.g. #[event(\"Registered\")] fn register(name: String) -> Self)",
        );
    }
    Checked { error: errors.0, fatal, invalid }
}

/// The `<...>` of `impl Dog<...>`, if any.
fn self_type_arguments(self_ty: &syn::Type) -> Option<&syn::PathArguments> {
    match self_ty {
        syn::Type::Path(path) => path
            .path
            .segments
            .last()
            .map(|segment| &segment.arguments)
            .filter(|arguments| !arguments.is_none()),
        _ => None,
    }
}

fn check_command_name(ident: &syn::Ident, errors: &mut Errors) {
    let name = ident.to_string();
    if ROOT_METHODS.contains(&name.as_str()) || name.starts_with("__") {
        errors.push(
            ident.span(),
            format!("`{name}` is a method of every aggregate root; choose another name"),
        );
    }
}

fn check_event(event: &EventMethod, errors: &mut Errors) {
    let sig = &event.func.sig;
    match &event.receiver {
        Receiver::Ref(receiver) => errors.push_spanned(
            receiver,
            "an #[event] method changes the aggregate, so it takes `&mut self`, not `&self`",
        ),
        Receiver::Value(receiver) => errors.push_spanned(
            receiver,
            "an #[event] method cannot take `self` by value: take `&mut self`",
        ),
        Receiver::MutRef => check_command_name(&sig.ident, errors),
        Receiver::None => {}
    }
    if event.is_constructor() && event.args.name.is_none() {
        errors.push_spanned(
            &event.attr,
            format!(
                "#[event] on the constructor `{}` needs the event's name, e.g. #[event(\"Registered\")]",
                sig.ident
            ),
        );
    }
    if let Some(name) = &event.args.name {
        if syn::parse_str::<syn::Ident>(&name.value()).is_err() {
            errors.push(
                name.span(),
                "an event name must be a Rust identifier such as \"TrickAdded\"",
            );
        }
    }
    if let Err(error) = versioning(&event.args.versioning) {
        errors.add(error);
    }
    if let Some(asyncness) = sig.asyncness {
        errors.push(
            asyncness.span,
            "an #[event] method cannot be async: its body is replayed synchronously",
        );
    }
    let generic =
        "an #[event] method cannot be generic: its arguments become fields of the event enum";
    if !sig.generics.params.is_empty() {
        errors.push_spanned(&sig.generics, generic);
    } else if let Some(where_clause) = &sig.generics.where_clause {
        errors.push_spanned(where_clause, generic);
    }
    if let Some(variadic) = &sig.variadic {
        errors.push_spanned(variadic, "variadic arguments are not supported");
    }
    for param in &event.params {
        if let Some(pattern) = &param.bad_pattern {
            errors.push_spanned(
                pattern,
                "an #[event] argument must be a plain name: it becomes a field of the event",
            );
            continue;
        }
        let name = param.ident.to_string();
        if RESERVED_FIELDS.contains(&name.trim_start_matches("r#")) {
            errors.push(
                param.ident.span(),
                format!("`{name}` is a field every stored event already has; rename this argument"),
            );
        }
        if let Some(unowned) = types::first_unowned(&param.ty) {
            errors.push_spanned(
                unowned,
                "event fields are stored and replayed, so they must be owned values (e.g. `String`, not `&str`)",
            );
        }
    }
    match (&event.output, event.is_constructor()) {
        (Output::SelfValue | Output::ResultSelf(_), true) => {}
        (Output::Unit | Output::Result(_), false) => {}
        (output, true) => errors.push_spanned(
            output_tokens(event, output),
            "an #[event] constructor must return `Self` or `Result<Self, E>`",
        ),
        (output, false) => errors.push_spanned(
            output_tokens(event, output),
            "an #[event] method must return nothing or `Result<(), E>`: it changes `self` and its result is not stored",
        ),
    }
}

/// The return type an error about it points at, or the whole signature when there is none.
fn output_tokens(event: &EventMethod, output: &Output) -> proc_macro2::TokenStream {
    match (&event.func.sig.output, output) {
        (_, Output::Result(ty) | Output::ResultSelf(ty) | Output::Other(ty)) => {
            ty.to_token_stream()
        }
        (syn::ReturnType::Type(_, ty), _) => ty.to_token_stream(),
        (syn::ReturnType::Default, _) => event.func.sig.to_token_stream(),
    }
}

/// Checks `version = N, upcast = [...]`: a version of at least 1, and exactly one upcaster
/// per step from version 1 to it, so that a missing upcaster is a compile error.
pub fn versioning(versioning: &Versioning) -> syn::Result<()> {
    let mut errors = Errors(None);
    let mut version = 1;
    if let Some(literal) = &versioning.version {
        match literal.base10_parse::<u32>() {
            Ok(parsed) if parsed >= 1 => version = parsed,
            _ => return Err(syn::Error::new(
                literal.span(),
                "a class version is a whole number from 1 (the default, which is not stored) up",
            )),
        }
    }
    let found = versioning.upcasters.len();
    let needed = (version - 1) as usize;
    match (&versioning.version, &versioning.upcast_tokens) {
        (None, Some(tokens)) => errors.push_spanned(
            tokens,
            "`upcast = [...]` needs `version = N`: the class version that its upcasters lead to",
        ),
        (Some(_), Some(tokens)) if found != needed => {
            errors.push_spanned(tokens, upcaster_count_message(version, found))
        }
        (Some(literal), None) if needed > 0 => {
            let tokens =
                versioning.version_tokens.clone().unwrap_or_else(|| literal.to_token_stream());
            errors.push_spanned(tokens, upcaster_count_message(version, found))
        }
        _ => {}
    }
    match errors.0 {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

/// "version 3 needs 2 upcasters (1→2, 2→3), found 1", with a hint when some are missing.
fn upcaster_count_message(version: u32, found: usize) -> String {
    let needed = version - 1;
    let plural = if needed == 1 { "" } else { "s" };
    let steps = match needed {
        0 => String::from("version 1 is never upcast"),
        1..=6 => {
            (1..version).map(|v| format!("{v}\u{2192}{}", v + 1)).collect::<Vec<_>>().join(", ")
        }
        _ => format!("1\u{2192}2, 2\u{2192}3, \u{2026}, {}\u{2192}{version}", version - 1),
    };
    let mut message =
        format!("version {version} needs {needed} upcaster{plural} ({steps}), found {found}");
    if (found as u64) < u64::from(needed) {
        message.push_str(
            ": list them in order as `upcast = [...]`, each a `fn(&mut serde_json::Map<String, serde_json::Value>)` that upgrades a stored state by one version",
        );
    }
    message
}
