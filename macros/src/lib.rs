//! Procedural macros of `eventsourcing-dynamodb`: `#[aggregate]` and `#[event]`.
//!
//! `#[aggregate]` on a struct makes it the state of an event-sourced aggregate;
//! `#[aggregate]` on that struct's `impl` block turns every `#[event]` method into
//! an event variant, a command that records it, and the apply logic that replays it.
//! See the `eventsourcing_dynamodb` crate documentation for the full story.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod ast;
mod attr;
mod expand;
mod types;
mod valid;

use proc_macro::TokenStream;

/// Declares an event-sourced aggregate: put it on the state struct and on its `impl` block.
///
/// Event arguments and state fields are stored in Python eventsourcing's JSON forms when
/// their type's name says so: the last path segment is `Uuid`, `Decimal`,
/// `OffsetDateTime`, `f64` or `f32`, or `Option`/`Vec` of one (a macro sees names, not
/// types, so aliases and wrappers are not recognised). Choose explicitly with
/// `#[transcode]` (Python's forms) or `#[transcode(off)]` (the type's own `Serialize`) on
/// the argument or field. A field with its own `#[serde(...)]` is left to that attribute.
///
/// Mistakes are compile errors at their span; the impl block is still generated (an event
/// with a mistake as a stub that never runs), so one mistake is one error.
#[proc_macro_attribute]
pub fn aggregate(args: TokenStream, input: TokenStream) -> TokenStream {
    expand::aggregate(args.into(), input.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Marks a method of an `#[aggregate]` impl block as recording an event.
///
/// Used anywhere else, it is a compile error: the `#[aggregate]` attribute on the impl
/// block consumes it.
#[proc_macro_attribute]
pub fn event(_args: TokenStream, input: TokenStream) -> TokenStream {
    let error = syn::Error::new(
        proc_macro2::Span::call_site(),
        "#[event] must be on a method inside an `#[aggregate] impl` block: put #[aggregate] on the impl block (and on the struct)",
    )
    .into_compile_error();
    // The item is kept, so that its uses do not add errors of their own.
    let input = proc_macro2::TokenStream::from(input);
    quote::quote!(#error #input).into()
}
