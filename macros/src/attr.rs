//! Parsing of the attribute arguments: `#[aggregate(...)]` and `#[event(...)]`.

use proc_macro2::TokenStream;
use syn::buffer::Cursor;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{bracketed, Attribute, LitInt, LitStr, Path, Token};

/// Arguments of `#[aggregate(...)]`.
#[derive(Default)]
pub struct AggregateArgs {
    /// `topic = "module:Name"`: the aggregate's topic (default: `<module path>:<Name>`).
    pub topic: Option<LitStr>,
    /// `aliases = ["old:Name"]`: topics under which older events of this aggregate were stored.
    pub aliases: Vec<LitStr>,
    /// `crate = "path"`: where the runtime is (default `::eventsourcing_dynamodb`).
    pub krate: Option<Path>,
    /// The first `topic = ...` or `aliases = [...]` as written, for errors about its place.
    pub naming: Option<TokenStream>,
    /// `version = N, upcast = [...]`: the state's class version and its upcasters.
    pub versioning: Versioning,
}

/// `version = N` and `upcast = [f, g]`, on `#[aggregate]` (the state) or on `#[event]`.
#[derive(Default)]
pub struct Versioning {
    /// `version = N` as written: the class version (Python's `class_version`), 1 if absent.
    pub version: Option<LitInt>,
    /// The whole `version = N` argument, for errors about it.
    pub version_tokens: Option<TokenStream>,
    /// `upcast = [...]`: the functions that upgrade a stored state one version each, in order.
    pub upcasters: Vec<Path>,
    /// The whole `upcast = [...]` argument, for errors about it.
    pub upcast_tokens: Option<TokenStream>,
}

impl Versioning {
    /// The class version: `version = N`, or 1. Validation rejects values that do not fit.
    pub fn version(&self) -> u32 {
        self.version.as_ref().and_then(|v| v.base10_parse().ok()).unwrap_or(1)
    }

    /// The first `version` or `upcast` argument as written, if any.
    pub fn tokens(&self) -> Option<&TokenStream> {
        self.version_tokens.as_ref().or(self.upcast_tokens.as_ref())
    }

    fn set(&mut self, tokens: TokenStream, arg: Arg) {
        match arg {
            Arg::Version(version) => {
                self.version = Some(version);
                self.version_tokens = Some(tokens);
            }
            Arg::Upcast(upcasters) => {
                self.upcasters = upcasters;
                self.upcast_tokens = Some(tokens);
            }
            _ => {}
        }
    }
}

/// Arguments of `#[event("Name", topic = "...", aliases = [...], version = N, upcast = [...])]`.
#[derive(Default)]
pub struct EventArgs {
    /// The event's name; `None` for a bare `#[event]`.
    pub name: Option<LitStr>,
    /// A topic that replaces the derived `<aggregate topic>.<Name>`.
    pub topic: Option<LitStr>,
    /// Other topics that decode as this event.
    pub aliases: Vec<LitStr>,
    /// `version = N, upcast = [...]`: the event's class version and its upcasters.
    pub versioning: Versioning,
}

enum Arg {
    Positional(LitStr),
    Topic(LitStr),
    Aliases(Vec<LitStr>),
    Crate(Path),
    Version(LitInt),
    Upcast(Vec<Path>),
}

impl Arg {
    /// The argument's name, for "given twice" errors.
    fn key(&self) -> &'static str {
        match self {
            Arg::Positional(_) => "name",
            Arg::Topic(_) => "topic",
            Arg::Aliases(_) => "aliases",
            Arg::Crate(_) => "crate",
            Arg::Version(_) => "version",
            Arg::Upcast(_) => "upcast",
        }
    }
}

impl Parse for Arg {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.peek(LitStr) {
            return Ok(Arg::Positional(input.parse()?));
        }
        let key: syn::Ident = if input.peek(Token![crate]) {
            let token: Token![crate] = input.parse()?;
            syn::Ident::new("crate", token.span)
        } else {
            input.parse()?
        };
        input.parse::<Token![=]>()?;
        match key.to_string().as_str() {
            "topic" => Ok(Arg::Topic(input.parse()?)),
            "aliases" => {
                let content;
                bracketed!(content in input);
                let list = Punctuated::<LitStr, Token![,]>::parse_terminated(&content)?;
                Ok(Arg::Aliases(list.into_iter().collect()))
            }
            "crate" => {
                let path: LitStr = input.parse()?;
                Ok(Arg::Crate(path.parse()?))
            }
            "version" => Ok(Arg::Version(input.parse()?)),
            "upcast" => {
                let content;
                bracketed!(content in input);
                let list = Punctuated::<Path, Token![,]>::parse_terminated(&content)?;
                Ok(Arg::Upcast(list.into_iter().collect()))
            }
            other => Err(syn::Error::new(
                key.span(),
                format!(
                    "unknown argument `{other}`: expected `topic`, `aliases`, `version`, `upcast` or `crate`"
                ),
            )),
        }
    }
}

/// The arguments, each with its tokens as written (for errors that cover the whole argument).
/// An argument given twice is an error (not "the last one wins").
fn parse_args(input: ParseStream) -> syn::Result<Vec<(TokenStream, Arg)>> {
    let mut args: Vec<(TokenStream, Arg)> = Vec::new();
    while !input.is_empty() {
        let begin = input.cursor();
        let arg: Arg = input.parse()?;
        let tokens = tokens_between(begin, input.cursor());
        let key = arg.key();
        // Two names are reported where they are read ("the event name must come first").
        if key != "name" && args.iter().any(|(_, earlier)| earlier.key() == key) {
            return Err(syn::Error::new_spanned(
                tokens,
                format!("`{key}` is given twice: give each argument once"),
            ));
        }
        args.push((tokens, arg));
        if input.is_empty() {
            break;
        }
        input.parse::<Token![,]>()?;
    }
    Ok(args)
}

fn tokens_between(mut cursor: Cursor, end: Cursor) -> TokenStream {
    let mut tokens = TokenStream::new();
    while cursor != end {
        let Some((token, next)) = cursor.token_tree() else {
            break;
        };
        tokens.extend([token]);
        cursor = next;
    }
    tokens
}

impl Parse for AggregateArgs {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut out = AggregateArgs::default();
        for (tokens, arg) in parse_args(input)? {
            if matches!(arg, Arg::Topic(_) | Arg::Aliases(_)) && out.naming.is_none() {
                out.naming = Some(tokens.clone());
            }
            match arg {
                Arg::Topic(topic) => out.topic = Some(topic),
                Arg::Aliases(aliases) => out.aliases = aliases,
                Arg::Crate(path) => out.krate = Some(path),
                arg @ (Arg::Version(_) | Arg::Upcast(_)) => out.versioning.set(tokens, arg),
                Arg::Positional(_) => return Err(syn::Error::new_spanned(
                    tokens,
                    "#[aggregate] takes `topic = \"...\"`, `aliases = [...]`, `version = N`, `upcast = [...]` or `crate = \"...\"`",
                )),
            }
        }
        Ok(out)
    }
}

impl EventArgs {
    /// Parses the arguments of one `#[event]` attribute (bare, or with a list).
    pub fn from_attribute(attr: &Attribute) -> syn::Result<Self> {
        let mut out = EventArgs::default();
        if matches!(attr.meta, syn::Meta::Path(_)) {
            return Ok(out);
        }
        let args = attr.parse_args_with(parse_args)?;
        for (index, (tokens, arg)) in args.into_iter().enumerate() {
            match arg {
                Arg::Positional(name) if index == 0 => out.name = Some(name),
                Arg::Positional(_) => {
                    return Err(syn::Error::new_spanned(tokens, "the event name must come first"))
                }
                Arg::Topic(topic) => out.topic = Some(topic),
                Arg::Aliases(aliases) => out.aliases = aliases,
                arg @ (Arg::Version(_) | Arg::Upcast(_)) => out.versioning.set(tokens, arg),
                Arg::Crate(_) => {
                    return Err(syn::Error::new_spanned(
                        tokens,
                        "`crate = ...` belongs on #[aggregate], not on #[event]",
                    ))
                }
            }
        }
        Ok(out)
    }
}

/// Whether `attr` is `#[event]` or `#[event(...)]` (also through a path ending in `event`).
pub fn is_event_attribute(attr: &Attribute) -> bool {
    attr.path().segments.last().is_some_and(|segment| segment.ident == "event")
}

/// Takes the `#[transcode]` / `#[transcode(off)]` attribute out of `attrs`: `Some(true)` to
/// store the value in Python's JSON forms whatever its type's name, `Some(false)` to store
/// it by its own `Serialize`, `None` to go by the type's name.
pub fn take_transcode(attrs: &mut Vec<Attribute>) -> syn::Result<Option<bool>> {
    let Some(index) = attrs.iter().position(|attr| attr.path().is_ident("transcode")) else {
        return Ok(None);
    };
    let attr = attrs.remove(index);
    if let Some(again) = attrs.iter().find(|attr| attr.path().is_ident("transcode")) {
        return Err(syn::Error::new_spanned(again, "`#[transcode]` is given twice: give it once"));
    }
    match &attr.meta {
        syn::Meta::Path(_) => Ok(Some(true)),
        syn::Meta::List(list) if list.tokens.to_string() == "off" => Ok(Some(false)),
        _ => Err(syn::Error::new_spanned(
            attr,
            "expected #[transcode] (Python's JSON forms whatever the type's name) or #[transcode(off)] (the type's own Serialize)",
        )),
    }
}
