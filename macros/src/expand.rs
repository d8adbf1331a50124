//! Code generation for `#[aggregate]`.

use crate::ast::{AggregateImpl, EventMethod, Input, Output};
use crate::attr::{AggregateArgs, Versioning};
use crate::{types, valid};
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{FnArg, Ident, ImplItem, ImplItemFn, ItemStruct, Pat, Visibility};

/// Entry point shared by the struct and impl forms.
pub fn aggregate(args: TokenStream, input: TokenStream) -> syn::Result<TokenStream> {
    let item: syn::Item = syn::parse2(input)?;
    // A mistake in the arguments is reported, and the item is expanded without them, so
    // that its uses add no errors of their own.
    let (args, args_error) = match syn::parse2::<AggregateArgs>(args) {
        Ok(args) => (args, None),
        Err(error) => (AggregateArgs::default(), Some(error.into_compile_error())),
    };
    let expansion = expand(&args, item)?;
    Ok(quote!(#args_error #expansion))
}

fn expand(args: &AggregateArgs, item: syn::Item) -> syn::Result<TokenStream> {
    let krate = match &args.krate {
        Some(path) => path.to_token_stream(),
        None => quote!(::eventsourcing_dynamodb),
    };
    match Input::from_syn(item)? {
        Input::Struct(item) => expand_struct(args, &krate, item),
        Input::Impl(aggregate) => {
            // Every mistake is reported, and the impl block is still generated (invalid
            // events as stubs), so that one mistake is one error, not one more at every use.
            let mut errors: Option<syn::Error> = None;
            let mut add = |error: syn::Error| match &mut errors {
                Some(existing) => existing.combine(error),
                None => errors = Some(error),
            };
            if let Some(naming) = &args.naming {
                add(syn::Error::new_spanned(
                    naming,
                    "`topic` and `aliases` go on the #[aggregate] of the struct, not of the impl block",
                ));
            }
            if let Some(versioning) = args.versioning.tokens() {
                add(syn::Error::new_spanned(
                    versioning,
                    "`version` and `upcast` go on the #[aggregate] of the struct (the state's class version) or on an #[event] (that event's), not on the impl block",
                ));
            }
            let checked = valid::check(&aggregate);
            if let Some(error) = checked.error {
                add(error);
            }
            if checked.fatal {
                return Err(errors.unwrap_or_else(|| {
                    syn::Error::new(Span::call_site(), "#[aggregate] cannot expand this impl block")
                }));
            }
            let errors = errors.map(syn::Error::into_compile_error);
            let expansion = expand_impl(&krate, &aggregate, &checked.invalid);
            Ok(quote!(#errors #expansion))
        }
    }
}

fn derives(item: &ItemStruct) -> Vec<String> {
    let mut names = Vec::new();
    for attr in item.attrs.iter().filter(|a| a.path().is_ident("derive")) {
        let _ = attr.parse_nested_meta(|meta| {
            if let Some(last) = meta.path.segments.last() {
                names.push(last.ident.to_string());
            }
            Ok(())
        });
    }
    names
}

fn expand_struct(
    args: &AggregateArgs,
    krate: &TokenStream,
    mut item: ItemStruct,
) -> syn::Result<TokenStream> {
    if !item.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &item.generics,
            "generic aggregates are not supported: an aggregate's state and events are stored, so their types must be concrete",
        ));
    }
    // Reported next to the struct, which is still emitted so that its uses add no errors.
    let version_error =
        valid::versioning(&args.versioning).err().map(syn::Error::into_compile_error);
    let private = quote!(#krate::__private);
    let present = derives(&item);
    let mut wanted = Vec::new();
    if !present.iter().any(|d| d == "Clone") {
        wanted.push(quote!(::core::clone::Clone));
    }
    let mut serde_derives_added = 0;
    for name in ["Serialize", "Deserialize"] {
        if !present.iter().any(|d| d == name) {
            let ident = Ident::new(name, Span::call_site());
            wanted.push(quote!(#private::serde::#ident));
            serde_derives_added += 1;
        }
    }
    let adds_serde = serde_derives_added > 0;
    if !wanted.is_empty() {
        item.attrs.push(syn::parse_quote!(#[derive(#(#wanted),*)]));
    }
    if adds_serde {
        let serde_path = format!("{}::serde", path_string(&private));
        item.attrs.push(syn::parse_quote!(#[serde(crate = #serde_path)]));
    }
    // Reported next to the struct, which is still emitted.
    let mut field_errors = Vec::new();
    if serde_derives_added == 2 {
        // State fields take the same forms as event arguments, so snapshots read like
        // Python's and never hold a NaN; a field with its own serde attributes is left as is.
        let py_with = format!("{}::py", path_string(&private));
        for field in item.fields.iter_mut() {
            let transcode = crate::attr::take_transcode(&mut field.attrs).unwrap_or_else(|e| {
                field_errors.push(e.into_compile_error());
                None
            });
            let own_serde = field.attrs.iter().any(|attr| attr.path().is_ident("serde"));
            if own_serde && transcode.is_some() {
                field_errors.push(syn::Error::new_spanned(
                    &field.ty,
                    "a field with its own #[serde(...)] is stored as that says: remove #[transcode]",
                ).into_compile_error());
            }
            if transcode.unwrap_or_else(|| types::is_python_transcoded(&field.ty)) && !own_serde {
                field.attrs.push(syn::parse_quote!(#[serde(with = #py_with)]));
            }
        }
    } else {
        for field in item.fields.iter_mut() {
            if !matches!(crate::attr::take_transcode(&mut field.attrs), Ok(None)) {
                field_errors.push(syn::Error::new_spanned(
                    &field.ty,
                    "#[transcode] works when #[aggregate] derives the struct's Serialize and Deserialize; with your own derives, use #[serde(with = \"eventsourcing_dynamodb::transcoding\")]",
                ).into_compile_error());
            }
        }
    }
    let ident = &item.ident;
    let name = ident.to_string();
    let topic = match &args.topic {
        Some(topic) => quote!(#topic),
        None => quote! {
            static TOPIC: ::std::sync::OnceLock<::std::string::String> = ::std::sync::OnceLock::new();
            TOPIC.get_or_init(|| #private::default_topic(::core::module_path!(), #name))
        },
    };
    let aliases = &args.aliases;
    let versioning = match args.versioning.version {
        Some(_) if version_error.is_none() => {
            let version = args.versioning.version();
            let steps = upcast_steps(krate, &args.versioning);
            let upcast = quote!(#krate::__private::upcast);
            quote! {
                const CLASS_VERSION: ::core::primitive::u32 = #version;
                fn upcast_step(__from: ::core::primitive::u32, __state: &mut #upcast::StateObject) {
                    #steps
                }
            }
        }
        _ => quote!(),
    };
    Ok(quote! {
        #version_error
        #(#field_errors)*
        #item

        #[automatically_derived]
        impl #private::AggregateState for #ident {
            #versioning
            const NAME: &'static str = #name;
            fn topic() -> &'static str {
                #topic
            }
            fn topic_aliases() -> &'static [&'static str] {
                &[#(#aliases),*]
            }
        }
    })
}

/// The body of an upcast step function of `__from: u32, __state: &mut StateObject`: runs
/// the upcaster from version `__from` to the next. Each upcaster is first bound to a
/// variable of type `Upcaster`, so that one with another signature is reported at its path.
fn upcast_steps(krate: &TokenStream, versioning: &Versioning) -> TokenStream {
    let arms = versioning.upcasters.iter().zip(1u32..).map(|(path, from)| {
        let upcaster = respan(quote!(#krate::__private::upcast::Upcaster), path.span());
        let bind = quote_spanned!(path.span()=> let __upcaster: #upcaster = #path;);
        quote!(#from => { #bind __upcaster(__state) })
    });
    if versioning.upcasters.is_empty() {
        return quote!(let _ = (__from, __state););
    }
    quote! {
        match __from {
            #(#arms)*
            _ => {}
        }
    }
}

/// `tokens` with every token (and group) at `span`.
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut token| {
            if let proc_macro2::TokenTree::Group(group) = &token {
                let mut inner =
                    proc_macro2::Group::new(group.delimiter(), respan(group.stream(), span));
                inner.set_span(span);
                token = proc_macro2::TokenTree::Group(inner);
            } else {
                token.set_span(span);
            }
            token
        })
        .collect()
}

fn path_string(tokens: &TokenStream) -> String {
    tokens.to_string().replace(' ', "")
}

/// The name of the commands trait for methods of this visibility.
fn commands_trait(self_ident: &Ident, vis: &Visibility) -> syn::Result<Ident> {
    let infix = match vis {
        Visibility::Public(_) => "",
        Visibility::Inherited => "Private",
        Visibility::Restricted(restricted) if restricted.path.is_ident("crate") => "Crate",
        Visibility::Restricted(restricted) if restricted.path.is_ident("super") => "Super",
        Visibility::Restricted(restricted) if restricted.path.is_ident("self") => "Private",
        Visibility::Restricted(restricted) => {
            return Err(syn::Error::new_spanned(
                restricted,
                "commands may be `pub`, `pub(crate)`, `pub(super)` or private",
            ))
        }
    };
    Ok(format_ident!("{}{}Commands", self_ident, infix))
}

/// A declaration-safe copy of a signature: patterns become plain names without `mut`.
fn declaration(sig: &syn::Signature) -> syn::Signature {
    let mut sig = sig.clone();
    for (index, input) in sig.inputs.iter_mut().enumerate() {
        if let FnArg::Receiver(receiver) = input {
            if receiver.reference.is_none() {
                receiver.mutability = None;
            }
        }
        if let FnArg::Typed(typed) = input {
            let ident = match &*typed.pat {
                Pat::Ident(pat) => pat.ident.clone(),
                _ => format_ident!("__arg{}", index),
            };
            *typed.pat = syn::parse_quote!(#ident);
        }
    }
    sig
}

fn is_lint_attribute(attr: &syn::Attribute) -> bool {
    ["allow", "expect", "warn", "deny"].iter().any(|lint| attr.path().is_ident(lint))
}

struct Generated {
    trait_decls: Vec<(Ident, Visibility, Vec<TokenStream>)>,
    trait_impls: Vec<(Ident, Vec<TokenStream>)>,
}

impl Generated {
    fn push(
        &mut self,
        self_ident: &Ident,
        vis: &Visibility,
        decl: TokenStream,
        body: TokenStream,
    ) -> syn::Result<()> {
        let name = commands_trait(self_ident, vis)?;
        match self.trait_decls.iter_mut().find(|(n, _, _)| *n == name) {
            Some((_, _, decls)) => decls.push(decl),
            None => self.trait_decls.push((name.clone(), vis.clone(), vec![decl])),
        }
        match self.trait_impls.iter_mut().find(|(n, _)| *n == name) {
            Some((_, bodies)) => bodies.push(body),
            None => self.trait_impls.push((name, vec![body])),
        }
        Ok(())
    }
}

fn expand_impl(krate: &TokenStream, aggregate: &AggregateImpl, invalid: &[bool]) -> TokenStream {
    match try_expand_impl(krate, aggregate, invalid) {
        Ok(tokens) => tokens,
        Err(error) => error.into_compile_error(),
    }
}

/// What every generator needs to know about the impl block.
struct Ctx<'a> {
    krate: &'a TokenStream,
    /// `<krate>::__private`, the only way generated code reaches the runtime.
    private: TokenStream,
    self_ident: &'a Ident,
    enum_ident: Ident,
    /// The transcoding module for `#[serde(with = ...)]`.
    py_with: String,
    /// serde's path for `#[serde(crate = ...)]`.
    serde_path: String,
    /// The aggregate's `fn create_id(...)`, if it has one.
    create_id: Option<&'a ImplItemFn>,
}

/// One event's share of the generated code: its variant, its arms in the generated
/// matches, and its hidden body. Kept together, so that no two lists can drift apart.
struct EventParts {
    variant: TokenStream,
    name_arm: TokenStream,
    created_arm: TokenStream,
    version_arm: TokenStream,
    topic_spec: TokenStream,
    field_checks: Vec<TokenStream>,
    encode_arm: TokenStream,
    decode_arm: TokenStream,
    create_arm: Option<TokenStream>,
    apply_arm: Option<TokenStream>,
    /// Declarations and definitions in the hidden `__Bodies` trait.
    body_decls: Vec<TokenStream>,
    body_impls: Vec<TokenStream>,
}

/// An event's arguments as the generators use them.
struct Fields<'a> {
    idents: Vec<&'a Ident>,
    types: Vec<&'a syn::Type>,
    /// `#[serde(with = ...)]` for each transcoded argument, nothing for the others.
    py_attrs: Vec<TokenStream>,
}

impl<'a> Fields<'a> {
    fn of(ctx: &Ctx, event: &'a EventMethod) -> Self {
        let py_with = &ctx.py_with;
        Fields {
            idents: event.params.iter().map(|p| &p.ident).collect(),
            types: event.params.iter().map(|p| &p.ty).collect(),
            py_attrs: event
                .params
                .iter()
                .map(|p| match p.transcoded() {
                    true => quote!(#[serde(with = #py_with)]),
                    false => quote!(),
                })
                .collect(),
        }
    }
}

/// The commands of one visibility, collected into their generated traits.
fn collect_commands(
    ctx: &Ctx,
    aggregate: &AggregateImpl,
    generated: &mut Generated,
) -> syn::Result<()> {
    for command in &aggregate.commands {
        let docs: Vec<&syn::Attribute> =
            command.attrs.iter().filter(|a| a.path().is_ident("doc")).collect();
        let decl = declaration(&command.sig);
        let ImplItemFn { attrs, sig, block, .. } = command;
        generated.push(
            ctx.self_ident,
            &command.vis,
            quote!(#(#docs)* #decl;),
            quote!(#(#attrs)* #sig #block),
        )?;
    }
    Ok(())
}

fn try_expand_impl(
    krate: &TokenStream,
    aggregate: &AggregateImpl,
    invalid: &[bool],
) -> syn::Result<TokenStream> {
    let private = quote!(#krate::__private);
    let ctx = Ctx {
        krate,
        py_with: format!("{}::py", path_string(&private)),
        serde_path: format!("{}::serde", path_string(&private)),
        private,
        self_ident: &aggregate.self_ident,
        enum_ident: format_ident!("{}Event", aggregate.self_ident),
        create_id: aggregate.others.iter().find_map(|item| match item {
            ImplItem::Fn(func)
                if func.sig.ident == "create_id" && func.sig.receiver().is_none() =>
            {
                Some(func)
            }
            _ => None,
        }),
    };
    let mut parts = Vec::new();
    let mut constructors = Vec::new();
    let mut generated = Generated { trait_decls: Vec::new(), trait_impls: Vec::new() };
    for (index, event) in aggregate.events.iter().enumerate() {
        if invalid.get(index).copied().unwrap_or(false) {
            stub(&ctx.private, ctx.self_ident, event, &mut constructors, &mut generated)?;
            continue;
        }
        // `parts.len()`: the event's position among the topic specs, which decoding goes by.
        let part = event_parts(&ctx, event, index, parts.len(), &mut constructors, &mut generated)?;
        parts.push(part);
    }
    collect_commands(&ctx, aggregate, &mut generated)?;
    Ok(assemble(&ctx, aggregate, &parts, &constructors, &generated))
}

/// Everything one valid event contributes; its constructor or command goes to
/// `constructors` or `generated`.
fn event_parts(
    ctx: &Ctx,
    event: &EventMethod,
    index: usize,
    position: usize,
    constructors: &mut Vec<TokenStream>,
    generated: &mut Generated,
) -> syn::Result<EventParts> {
    let fields = Fields::of(ctx, event);
    let mut body_decls = Vec::new();
    let mut body_impls = Vec::new();
    let step = upcast_step(ctx, event, index, &mut body_decls, &mut body_impls);
    let (body_decl, body_impl, body_method) = event_body(event, index);
    body_decls.push(body_decl);
    body_impls.push(body_impl);
    let (create_arm, apply_arm) = match event.is_constructor() {
        true => {
            constructors.push(constructor(ctx, event, &fields)?);
            (Some(create_arm(ctx, event, &fields, &body_method)), None)
        }
        false => {
            command(ctx, event, &fields, generated)?;
            (None, Some(apply_arm(ctx, event, &fields, &body_method)))
        }
    };
    let (name_arm, created_arm, version_arm) = event_info_arms(event);
    Ok(EventParts {
        variant: variant(ctx, event, &fields),
        name_arm,
        created_arm,
        version_arm,
        topic_spec: topic_spec(ctx, event),
        field_checks: field_checks(event),
        encode_arm: encode_arm(ctx, event, &fields),
        decode_arm: decode_arm(ctx, event, &fields, position, &step),
        create_arm,
        apply_arm,
        body_decls,
        body_impls,
    })
}

fn variant_ident(event: &EventMethod) -> Ident {
    Ident::new(&event.event_name(), event.name_span())
}

/// The event's variant in the generated enum, with its doc.
fn variant(ctx: &Ctx, event: &EventMethod, fields: &Fields) -> TokenStream {
    let name = event.event_name();
    let method = &event.func.sig.ident;
    let self_ident = ctx.self_ident;
    let doc = match event.is_constructor() {
        true => {
            format!(" `{name}`: creates the aggregate; recorded by [`{self_ident}::{method}`].")
        }
        false => format!(" `{name}`: recorded by the `{method}` command."),
    };
    let variant = variant_ident(event);
    let Fields { idents, types, py_attrs } = fields;
    quote! {
        #[doc = #doc]
        #variant { #(#py_attrs #idents: #types),* }
    }
}

/// The event's arms in `Event::name`, `is_created` and `class_version`.
fn event_info_arms(event: &EventMethod) -> (TokenStream, TokenStream, TokenStream) {
    let variant = variant_ident(event);
    let name = event.event_name();
    let is_created = event.is_constructor();
    let version = event.args.versioning.version();
    (
        quote!(Self::#variant { .. } => #name),
        quote!(Self::#variant { .. } => #is_created),
        quote!(Self::#variant { .. } => #version),
    )
}

/// The event's entry in `EventTopics`: its name, its own topic if given, its aliases.
fn topic_spec(ctx: &Ctx, event: &EventMethod) -> TokenStream {
    let private = &ctx.private;
    let name = event.event_name();
    let override_topic = match &event.args.topic {
        Some(topic) => quote!(::core::option::Option::Some(#topic)),
        None => quote!(::core::option::Option::None),
    };
    let aliases = &event.args.aliases;
    quote! {
        #private::EventTopicSpec { name: #name, topic: #override_topic, aliases: &[#(#aliases),*] }
    }
}

/// Checks that each argument type can be stored, spanned at the type, so that a type that
/// cannot be stored is reported there.
fn field_checks(event: &EventMethod) -> Vec<TokenStream> {
    event
        .params
        .iter()
        .map(|param| {
            let ty = &param.ty;
            match param.transcoded() {
                true => quote_spanned!(ty.span()=> __assert_python_field::<#ty>();),
                false => quote_spanned!(ty.span()=> __assert_event_field::<#ty>();),
            }
        })
        .collect()
}

/// The function that upcasts a stored state of this event by one version: a no-op for
/// version 1, else a hidden `__Bodies` function running the event's upcasters.
fn upcast_step(
    ctx: &Ctx,
    event: &EventMethod,
    index: usize,
    body_decls: &mut Vec<TokenStream>,
    body_impls: &mut Vec<TokenStream>,
) -> TokenStream {
    let krate = ctx.krate;
    let upcast = quote!(#krate::__private::upcast);
    if event.args.versioning.version() == 1 {
        return quote!(|_: ::core::primitive::u32, _: &mut #upcast::StateObject| {});
    }
    let step_method = format_ident!("__upcast_event_{}", index);
    let steps = upcast_steps(ctx.krate, &event.args.versioning);
    body_decls.push(quote!(fn #step_method(__from: ::core::primitive::u32, __state: &mut #upcast::StateObject);));
    body_impls.push(quote! {
        fn #step_method(__from: ::core::primitive::u32, __state: &mut #upcast::StateObject) {
            #steps
        }
    });
    let self_ident = ctx.self_ident;
    quote!(<#self_ident as __Bodies>::#step_method)
}

/// The arm of `Event::encode_state`: the state as Python writes it (timestamp first, the
/// originator topic for a created event, the arguments, `class_version` last).
fn encode_arm(ctx: &Ctx, event: &EventMethod, fields: &Fields) -> TokenStream {
    let Ctx { private, py_with, serde_path, self_ident, .. } = ctx;
    let variant = variant_ident(event);
    let Fields { idents, types, py_attrs } = fields;
    let (origin_field, origin_value) = match event.is_constructor() {
        true => (
            quote!(originator_topic: &'__es str,),
            quote!(originator_topic: __aggregate_topic::<#self_ident>(),),
        ),
        false => (quote!(), quote!()),
    };
    let (version_field, version_value) = match event.args.versioning.version() {
        1 => (quote!(), quote!()),
        version => {
            (quote!(class_version: ::core::primitive::u32,), quote!(class_version: #version,))
        }
    };
    quote! {
        Self::#variant { #(#idents),* } => {
            #[derive(#private::serde::Serialize)]
            #[serde(crate = #serde_path)]
            struct __State<'__es> {
                #[serde(with = #py_with)]
                timestamp: &'__es #private::OffsetDateTime,
                #origin_field
                #(#py_attrs #idents: &'__es #types,)*
                #version_field
            }
            #private::serde_json::to_writer(__out, &__State { timestamp: __timestamp, #origin_value #(#idents,)* #version_value })
        }
    }
}

/// The arm of `Event::decode_state` for the event at `position` among the topic specs:
/// reads the state, upcasting older versions with `step`.
fn decode_arm(
    ctx: &Ctx,
    event: &EventMethod,
    fields: &Fields,
    position: usize,
    step: &TokenStream,
) -> TokenStream {
    let Ctx { krate, private, py_with, serde_path, enum_ident, .. } = ctx;
    let upcast = quote!(#krate::__private::upcast);
    let variant = variant_ident(event);
    let version = event.args.versioning.version();
    let what = format!("event `{enum_ident}::{}`", event.event_name());
    let Fields { idents, types, py_attrs } = fields;
    quote! {
        #position => {
            #[derive(#private::serde::Deserialize)]
            #[serde(crate = #serde_path)]
            struct __State {
                #[serde(with = #py_with)]
                timestamp: #private::OffsetDateTime,
                #(#py_attrs #idents: #types,)*
                class_version: ::core::option::Option<::core::primitive::u32>,
            }
            let __state: __State = #upcast::decode_state(
                __bytes,
                #version,
                #what,
                |__state: &__State| __state.class_version,
                #step,
            )?;
            ::core::result::Result::Ok((__state.timestamp, Self::#variant { #(#idents: __state.#idents),* }))
        }
    }
}

/// The body, moved into a trait that nothing outside the generated block can name, under
/// a name unlike the method's: `state.add_trick(..)` on a bare state finds no method (and
/// rustc suggests none), and a body cannot run another event's body without recording
/// that event. Returns its declaration, its definition and its name.
fn event_body(event: &EventMethod, index: usize) -> (TokenStream, TokenStream, Ident) {
    let func = &event.func;
    let lint_attrs: Vec<&syn::Attribute> =
        func.attrs.iter().filter(|a| is_lint_attribute(a)).collect();
    let body_method = format_ident!("__event_body_{}", index, span = func.sig.ident.span());
    let mut body_decl = declaration(&func.sig);
    body_decl.ident = body_method.clone();
    let mut body_sig = func.sig.clone();
    body_sig.constness = None;
    body_sig.ident = body_method.clone();
    let block = &func.block;
    (quote!(#body_decl;), quote!(#(#lint_attrs)* #body_sig #block), body_method)
}

/// `Rejected::new`, spanned at the event method's return type (where a wrong error type
/// is reported).
fn rejected(ctx: &Ctx, event: &EventMethod) -> TokenStream {
    let private = &ctx.private;
    let ret_span = match &event.func.sig.output {
        syn::ReturnType::Type(_, ty) => ty.span(),
        syn::ReturnType::Default => event.func.sig.span(),
    };
    quote_spanned!(ret_span=> #private::Rejected::new)
}

/// The arm of `Aggregate::create` for a constructor event: runs the body.
fn create_arm(ctx: &Ctx, event: &EventMethod, fields: &Fields, body: &Ident) -> TokenStream {
    let enum_ident = &ctx.enum_ident;
    let variant = variant_ident(event);
    let idents = &fields.idents;
    let call = quote!(<Self as __Bodies>::#body(#(#idents),*));
    match &event.output {
        Output::ResultSelf(_) => {
            let rejected = rejected(ctx, event);
            quote!(#enum_ident::#variant { #(#idents),* } => #call.map_err(#rejected),)
        }
        _ => quote!(#enum_ident::#variant { #(#idents),* } => ::core::result::Result::Ok(#call),),
    }
}

/// The arm of `Aggregate::apply` for an event of an existing aggregate: runs the body.
fn apply_arm(ctx: &Ctx, event: &EventMethod, fields: &Fields, body: &Ident) -> TokenStream {
    let enum_ident = &ctx.enum_ident;
    let variant = variant_ident(event);
    let idents = &fields.idents;
    let call = quote!(<Self as __Bodies>::#body(self, #(#idents),*));
    match &event.output {
        Output::Result(_) => {
            let rejected = rejected(ctx, event);
            quote!(#enum_ident::#variant { #(#idents),* } => #call.map_err(#rejected),)
        }
        _ => {
            quote!(#enum_ident::#variant { #(#idents),* } => { #call; ::core::result::Result::Ok(()) })
        }
    }
}

/// The public constructor on the state type: `Dog::register(..) -> Root<Dog>` (or a
/// `Result` of it), which records the created event with the id `create_id` gives.
fn constructor(ctx: &Ctx, event: &EventMethod, fields: &Fields) -> syn::Result<TokenStream> {
    let Ctx { private, self_ident, enum_ident, .. } = ctx;
    let func = &event.func;
    let (method, inputs, outer_attrs, vis) =
        (&func.sig.ident, &func.sig.inputs, &func.attrs, &func.vis);
    let variant = variant_ident(event);
    let idents = &fields.idents;
    let id = match ctx.create_id {
        Some(create_id) => create_id_call(create_id, event)?,
        None => quote!(#private::Uuid::new_v4()),
    };
    let root = quote!(#private::Root<#self_ident>);
    let (output, finish) = match &event.output {
        Output::ResultSelf(ty) => {
            let ty = types::replace_result_ok(ty, syn::parse_quote!(#root));
            (quote!(#ty), quote!(.map_err(#private::Rejected::downcast)))
        }
        _ => (quote!(#root), quote!(.unwrap_or_else(|__rejected| __rejected.unexpected()))),
    };
    Ok(quote! {
        #(#outer_attrs)*
        #vis fn #method(#inputs) -> #output {
            let __id = #id;
            #private::Root::<#self_ident>::__create(__id, #enum_ident::#variant { #(#idents),* }) #finish
        }
    })
}

/// The command on `Root<A>` (in the generated commands trait) that records the event.
fn command(
    ctx: &Ctx,
    event: &EventMethod,
    fields: &Fields,
    generated: &mut Generated,
) -> syn::Result<()> {
    let Ctx { private, self_ident, enum_ident, .. } = ctx;
    let func = &event.func;
    let variant = variant_ident(event);
    let idents = &fields.idents;
    let finish = match &event.output {
        Output::Result(_) => quote!(.map_err(#private::Rejected::downcast)),
        _ => quote!(.unwrap_or_else(|__rejected| __rejected.unexpected())),
    };
    let docs: Vec<&syn::Attribute> =
        func.attrs.iter().filter(|a| a.path().is_ident("doc")).collect();
    let decl = declaration(&func.sig);
    let (outer_attrs, command_sig) = (&func.attrs, &func.sig);
    generated.push(
        self_ident,
        &func.vis,
        quote!(#(#docs)* #decl;),
        quote! {
            #(#outer_attrs)*
            #command_sig {
                self.__trigger(#enum_ident::#variant { #(#idents),* }) #finish
            }
        },
    )
}

/// The whole expansion of the impl block, from the events' parts.
fn assemble(
    ctx: &Ctx,
    aggregate: &AggregateImpl,
    parts: &[EventParts],
    constructors: &[TokenStream],
    generated: &Generated,
) -> TokenStream {
    let Ctx { private, self_ident, enum_ident, serde_path, .. } = ctx;
    let trait_decls = generated.trait_decls.iter().map(|(name, vis, decls)| {
        let doc = format!(
            " Commands of the [`{self_ident}`] aggregate, generated by `#[aggregate]`: bring this trait into scope to call them on a `Root<{self_ident}>`."
        );
        quote! {
            #[doc = #doc]
            #vis trait #name {
                #(#decls)*
            }
        }
    });
    let trait_impls = generated.trait_impls.iter().map(|(name, bodies)| {
        quote! {
            #[automatically_derived]
            impl #name for #private::Root<#self_ident> {
                #(#bodies)*
            }
        }
    });

    let field_checks = parts.iter().flat_map(|part| &part.field_checks);
    let variants = parts.iter().map(|part| &part.variant);
    let names = parts.iter().map(|part| &part.name_arm);
    let created_flags = parts.iter().map(|part| &part.created_arm);
    let class_versions = parts.iter().map(|part| &part.version_arm);
    let topic_specs = parts.iter().map(|part| &part.topic_spec);
    let encode_arms = parts.iter().map(|part| &part.encode_arm);
    let decode_arms = parts.iter().map(|part| &part.decode_arm);
    let create_arms = parts.iter().filter_map(|part| part.create_arm.as_ref());
    let apply_arms = parts.iter().filter_map(|part| part.apply_arm.as_ref());
    let body_decls = parts.iter().flat_map(|part| &part.body_decls);
    let body_impls = parts.iter().flat_map(|part| &part.body_impls);
    let others = &aggregate.others;
    let impl_attrs = &aggregate.item.attrs;
    let enum_doc =
        format!(" Events of the [`{self_ident}`] aggregate, generated by `#[aggregate]`.");
    let not_created = format!("only a constructor event can create a {self_ident}");
    let created_again =
        format!("a constructor event cannot be applied to an existing {self_ident}");

    quote! {
        // First, so that an argument type that cannot be stored is reported by these
        // checks before the derives of the event enum report it again.
        const _: () = {
            fn __assert_event_field<T: #private::EventField>() {}
            fn __assert_python_field<T>()
            where
                T: #private::py::ToPy
                    + #private::py::FromPy
                    + ::core::clone::Clone
                    + ::core::fmt::Debug
                    + ::core::marker::Send
                    + ::core::marker::Sync
                    + 'static,
            {
            }
            #[allow(dead_code)]
            fn __check_event_fields() {
                #(#field_checks)*
            }
        };

        #[doc = #enum_doc]
        #[derive(::core::fmt::Debug, ::core::clone::Clone, #private::serde::Serialize, #private::serde::Deserialize)]
        #[serde(crate = #serde_path)]
        #[allow(missing_docs)]
        pub enum #enum_ident {
            #(#variants,)*
        }

        #(#trait_decls)*

        #(#impl_attrs)*
        impl #self_ident {
            #(#constructors)*
            #(#others)*
        }

        const _: () = {
            // Through `Aggregate`, so that a struct without #[aggregate] is reported once,
            // at `impl Aggregate for ...`, and not again at every use of its topic.
            fn __aggregate_topic<A: #private::Aggregate>() -> &'static str {
                <A as #private::AggregateState>::topic()
            }
            fn __aggregate_topic_aliases<A: #private::Aggregate>() -> &'static [&'static str] {
                <A as #private::AggregateState>::topic_aliases()
            }

            trait __Bodies: ::core::marker::Sized {
                #(#body_decls)*
            }

            #[automatically_derived]
            impl __Bodies for #self_ident {
                #(#body_impls)*
            }

            // Lets process applications decode this aggregate's events by topic.
            #private::inventory::submit! {
                #private::EventDecoder::of::<#self_ident>()
            }

            #[automatically_derived]
            impl #private::Aggregate for #self_ident {
                type Event = #enum_ident;

                #[allow(unreachable_patterns)]
                fn create(__event: #enum_ident) -> ::core::result::Result<Self, #private::Rejected> {
                    match __event {
                        #(#create_arms)*
                        _ => ::core::result::Result::Err(#private::Rejected::misplaced(#not_created)),
                    }
                }

                #[allow(unreachable_patterns)]
                fn apply(&mut self, __event: #enum_ident) -> ::core::result::Result<(), #private::Rejected> {
                    match __event {
                        #(#apply_arms)*
                        _ => ::core::result::Result::Err(#private::Rejected::misplaced(#created_again)),
                    }
                }
            }

            // The `_` arms are for an enum left without variants (all its events had
            // mistakes, reported above); a reference to it is still "inhabited".
            #[automatically_derived]
            #[allow(unreachable_patterns)]
            impl #private::Event for #enum_ident {
                fn name(&self) -> &'static str {
                    match self { #(#names,)* _ => ::core::unreachable!() }
                }

                fn is_created(&self) -> bool {
                    match self { #(#created_flags,)* _ => ::core::unreachable!() }
                }

                fn class_version(&self) -> ::core::primitive::u32 {
                    match self { #(#class_versions,)* _ => ::core::unreachable!() }
                }

                fn topics() -> &'static #private::EventTopics {
                    static TOPICS: ::std::sync::OnceLock<#private::EventTopics> = ::std::sync::OnceLock::new();
                    TOPICS.get_or_init(|| {
                        #private::EventTopics::new(
                            __aggregate_topic::<#self_ident>(),
                            __aggregate_topic_aliases::<#self_ident>(),
                            &[#(#topic_specs),*],
                        )
                    })
                }

                fn encode_state(
                    &self,
                    __timestamp: &#private::OffsetDateTime,
                    __out: &mut ::std::vec::Vec<u8>,
                ) -> ::core::result::Result<(), #private::serde_json::Error> {
                    match self { #(#encode_arms)* _ => ::core::unreachable!() }
                }

                fn decode_state(
                    __index: usize,
                    __bytes: &[u8],
                ) -> ::core::result::Result<(#private::OffsetDateTime, Self), #private::DecodeProblem> {
                    match __index {
                        #(#decode_arms)*
                        _ => ::core::result::Result::Err(#private::DecodeProblem::Json(
                            <#private::serde_json::Error as #private::serde::de::Error>::custom("no event has this index"),
                        )),
                    }
                }
            }

            #(#trait_impls)*
        };
    }
}

/// The methods of an event with a mistake (already reported), with the signatures its
/// callers expect and bodies that never run: its uses then compile, so the mistake is the
/// only error. No event variant is generated for it.
fn stub(
    private: &TokenStream,
    self_ident: &Ident,
    event: &EventMethod,
    constructors: &mut Vec<TokenStream>,
    generated: &mut Generated,
) -> syn::Result<()> {
    let func = &event.func;
    let attrs = &func.attrs;
    let vis = &func.vis;
    let mut sig = func.sig.clone();
    sig.asyncness = None;
    sig.constness = None;
    let never = quote!(::core::unreachable!("an #[event] method that did not compile"));
    if event.is_constructor() {
        let root: syn::Type = syn::parse_quote!(#private::Root<#self_ident>);
        let output = match &event.output {
            Output::ResultSelf(ty) => types::replace_result_ok(ty, root),
            _ => root,
        };
        sig.output = syn::parse_quote!(-> #output);
        let sig = declaration(&sig);
        constructors.push(quote! {
            #(#attrs)*
            #[allow(unused_variables)]
            #vis #sig { #never }
        });
        return Ok(());
    }
    let docs: Vec<&syn::Attribute> = attrs.iter().filter(|a| a.path().is_ident("doc")).collect();
    // Plain names (no `mut`, no patterns) in the stub too: its body never runs.
    let decl = declaration(&sig);
    generated.push(
        self_ident,
        vis,
        quote!(#(#docs)* #decl;),
        quote! {
            #(#attrs)*
            #[allow(unused_variables)]
            #decl { #never }
        },
    )
}

/// `Self::create_id(...)` with the constructor's arguments matched by name, as Python does.
fn create_id_call(create_id: &ImplItemFn, event: &EventMethod) -> syn::Result<TokenStream> {
    let mut args = Vec::new();
    for input in &create_id.sig.inputs {
        let FnArg::Typed(typed) = input else { continue };
        let Pat::Ident(pat) = &*typed.pat else {
            return Err(syn::Error::new_spanned(
                &typed.pat,
                "create_id arguments must be plain names",
            ));
        };
        let name = &pat.ident;
        let Some(param) = event.params.iter().find(|p| p.ident == *name) else {
            return Err(syn::Error::new(
                name.span(),
                format!(
                    "create_id takes `{name}`, but the constructor `{}` has no argument of that name",
                    event.func.sig.ident
                ),
            ));
        };
        let ident = &param.ident;
        args.push(match &*typed.ty {
            syn::Type::Reference(_) => quote!(&#ident),
            _ => quote!(::core::clone::Clone::clone(&#ident)),
        });
    }
    Ok(quote!(Self::create_id(#(#args),*)))
}
