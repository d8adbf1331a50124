//! The typed model that `#[aggregate]` reads from its input tokens.

use crate::attr::{is_event_attribute, EventArgs};
use crate::types;
use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::{
    Attribute, FnArg, Ident, ImplItem, ImplItemFn, ItemImpl, ItemStruct, Pat, ReturnType, Type,
};

/// What `#[aggregate]` was put on.
pub enum Input {
    Struct(ItemStruct),
    Impl(AggregateImpl),
}

/// An `#[aggregate] impl Name { ... }` block.
pub struct AggregateImpl {
    pub item: ItemImpl,
    pub self_ident: Ident,
    pub events: Vec<EventMethod>,
    /// Undecorated `&mut self` methods: commands that compose events.
    pub commands: Vec<ImplItemFn>,
    /// Everything else, kept on the state type as written.
    pub others: Vec<ImplItem>,
}

/// A method marked `#[event]`.
pub struct EventMethod {
    pub attr: Attribute,
    pub args: EventArgs,
    /// A mistake in the `#[event(...)]` arguments (or a second `#[event]`): reported, and
    /// the method becomes a stub so that its uses add no errors of their own.
    pub attr_error: Option<syn::Error>,
    pub func: ImplItemFn,
    pub receiver: Receiver,
    pub params: Vec<Param>,
    pub output: Output,
}

/// How an `#[event]` method takes `self`.
pub enum Receiver {
    /// No `self`: the constructor, which records the "created" event.
    None,
    MutRef,
    /// `&self` (or `&'a self`), kept for the error that points at it.
    Ref(TokenStream),
    /// `self` or `mut self`, kept for the error that points at it.
    Value(TokenStream),
}

/// One argument of an `#[event]` method; it becomes a field of the event.
pub struct Param {
    pub ident: Ident,
    pub ty: Type,
    /// A pattern other than a plain identifier, which an event field cannot have.
    pub bad_pattern: Option<TokenStream>,
    /// `#[transcode]` (`Some(true)`) or `#[transcode(off)]` (`Some(false)`) on the argument.
    pub transcode: Option<bool>,
}

/// What an `#[event]` method's body returns.
pub enum Output {
    Unit,
    /// `Result<(), E>`: an `Err` rejects the command.
    Result(Type),
    /// `Self` (constructors).
    SelfValue,
    /// `Result<Self, E>` (constructors).
    ResultSelf(Type),
    Other(Type),
}

impl Input {
    pub fn from_syn(item: syn::Item) -> syn::Result<Self> {
        match item {
            syn::Item::Struct(item) => Ok(Input::Struct(item)),
            syn::Item::Impl(item) => AggregateImpl::from_syn(item).map(Input::Impl),
            other => Err(syn::Error::new(
                other.span(),
                "#[aggregate] goes on the aggregate's struct and on its impl block",
            )),
        }
    }
}

impl AggregateImpl {
    fn from_syn(mut item: ItemImpl) -> syn::Result<Self> {
        // `Dog<T>` is accepted here so that validation reports the generics themselves.
        let single_segment = match &*item.self_ty {
            Type::Path(path) if path.qself.is_none() && path.path.leading_colon.is_none() => {
                let mut segments = path.path.segments.iter();
                match (segments.next(), segments.next()) {
                    (Some(segment), None) => Some(segment.ident.clone()),
                    _ => None,
                }
            }
            _ => None,
        };
        let Some(self_ident) = single_segment else {
            return Err(syn::Error::new_spanned(
                &item.self_ty,
                "#[aggregate] impl blocks must name the aggregate struct directly (e.g. `impl Dog`)",
            ));
        };
        let mut events = Vec::new();
        let mut commands = Vec::new();
        let mut others = Vec::new();
        for impl_item in std::mem::take(&mut item.items) {
            match impl_item {
                ImplItem::Fn(mut func) => {
                    let position = func.attrs.iter().position(is_event_attribute);
                    match position {
                        Some(index) => {
                            let attr = func.attrs.remove(index);
                            let extra = func.attrs.iter().position(is_event_attribute).map(|at| {
                                syn::Error::new_spanned(
                                    func.attrs.remove(at),
                                    "a method can record only one event: remove this second #[event]",
                                )
                            });
                            let mut event = EventMethod::from_syn(attr, func, &self_ident);
                            if let Some(extra) = extra {
                                match &mut event.attr_error {
                                    Some(error) => error.combine(extra),
                                    None => event.attr_error = Some(extra),
                                }
                            }
                            events.push(event);
                        }
                        None if takes_mut_self(&func) => commands.push(func),
                        None => others.push(ImplItem::Fn(func)),
                    }
                }
                other => others.push(other),
            }
        }
        Ok(AggregateImpl { item, self_ident, events, commands, others })
    }
}

fn takes_mut_self(func: &ImplItemFn) -> bool {
    matches!(
        func.sig.inputs.first(),
        Some(FnArg::Receiver(receiver)) if receiver.reference.is_some() && receiver.mutability.is_some()
    )
}

impl Param {
    /// Whether the argument is stored in Python's JSON forms: as `#[transcode]` says, else
    /// by its type's name ([`types::is_python_transcoded`]).
    pub fn transcoded(&self) -> bool {
        self.transcode.unwrap_or_else(|| types::is_python_transcoded(&self.ty))
    }
}

impl EventMethod {
    fn from_syn(attr: Attribute, mut func: ImplItemFn, self_ident: &Ident) -> Self {
        let (args, mut attr_error) = match EventArgs::from_attribute(&attr) {
            Ok(args) => (args, None),
            Err(error) => (EventArgs::default(), Some(error)),
        };
        // `#[transcode]` is read here and removed, so that the generated methods do not
        // carry it.
        let mut transcodes = Vec::new();
        for input in func.sig.inputs.iter_mut() {
            if let FnArg::Typed(typed) = input {
                match crate::attr::take_transcode(&mut typed.attrs) {
                    Ok(transcode) => transcodes.push(transcode),
                    Err(error) => {
                        transcodes.push(None);
                        match &mut attr_error {
                            Some(existing) => existing.combine(error),
                            None => attr_error = Some(error),
                        }
                    }
                }
            }
        }
        let mut transcodes = transcodes.into_iter();
        let mut receiver = Receiver::None;
        let mut params = Vec::new();
        for input in &func.sig.inputs {
            match input {
                FnArg::Receiver(r) => {
                    receiver = match (&r.reference, &r.mutability) {
                        (Some(_), Some(_)) => Receiver::MutRef,
                        (Some(_), None) => Receiver::Ref(r.to_token_stream()),
                        (None, _) => Receiver::Value(r.to_token_stream()),
                    };
                }
                FnArg::Typed(typed) => {
                    let (ident, bad_pattern) = match &*typed.pat {
                        Pat::Ident(pat) if pat.by_ref.is_none() && pat.subpat.is_none() => {
                            (pat.ident.clone(), None)
                        }
                        other => {
                            (Ident::new("__invalid", other.span()), Some(other.to_token_stream()))
                        }
                    };
                    let transcode = transcodes.next().flatten();
                    params.push(Param { ident, ty: (*typed.ty).clone(), bad_pattern, transcode });
                }
            }
        }
        let output = match &func.sig.output {
            ReturnType::Default => Output::Unit,
            ReturnType::Type(_, ty) if types::is_unit(ty) => Output::Unit,
            ReturnType::Type(_, ty) if types::is_self(ty, self_ident) => Output::SelfValue,
            ReturnType::Type(_, ty) => match types::result_ok_type(ty) {
                Some(Some(ok)) if types::is_self(ok, self_ident) => {
                    Output::ResultSelf((**ty).clone())
                }
                Some(Some(ok)) if types::is_unit(ok) => Output::Result((**ty).clone()),
                Some(None) => Output::Result((**ty).clone()),
                _ => Output::Other((**ty).clone()),
            },
        };
        EventMethod { attr, args, attr_error, func, receiver, params, output }
    }

    /// Whether this is the constructor, which records the "created" event.
    pub fn is_constructor(&self) -> bool {
        matches!(self.receiver, Receiver::None)
    }

    /// The event's name: the attribute's string, or the method name in PascalCase.
    pub fn event_name(&self) -> String {
        match &self.args.name {
            Some(name) => name.value(),
            None => heck::ToUpperCamelCase::to_upper_camel_case(
                self.func.sig.ident.to_string().trim_start_matches("r#"),
            ),
        }
    }

    /// The span errors about the event's name point at.
    pub fn name_span(&self) -> Span {
        match &self.args.name {
            Some(name) => name.span(),
            None => self.attr.span(),
        }
    }
}
