//! Procedural macros of `eventsourcing-dynamodb`: `#[aggregate]` and `#[event]`.
//!
//! `#[aggregate]` on a struct makes it the state of an event-sourced aggregate;
//! `#[aggregate]` on that struct's `impl` block turns every `#[event]` method into
//! an event variant, a command that records it, and the apply logic that replays it.
//! Applications use them through the `eventsourcing_dynamodb` crate, whose documentation
//! is the guide; the attributes' pages here show every form with an example.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod ast;
mod attr;
mod expand;
mod types;
mod valid;

use proc_macro::TokenStream;

#[doc = include_str!("../doc/aggregate.md")]
#[proc_macro_attribute]
pub fn aggregate(args: TokenStream, input: TokenStream) -> TokenStream {
    expand::aggregate(args.into(), input.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

#[doc = include_str!("../doc/event.md")]
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
