//! Questions about types that the expansion and the validation ask.

use quote::ToTokens;
use syn::visit::Visit;
use syn::{GenericArgument, PathArguments, Type};

/// The last path segment's identifier, if `ty` is a path type.
fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match ty {
        Type::Path(path) if path.qself.is_none() => path.path.segments.last(),
        Type::Group(group) => last_segment(&group.elem),
        Type::Paren(paren) => last_segment(&paren.elem),
        _ => None,
    }
}

fn generic_types(segment: &syn::PathSegment) -> impl Iterator<Item = &Type> {
    let args = match &segment.arguments {
        PathArguments::AngleBracketed(args) => Some(args.args.iter()),
        _ => None,
    };
    args.into_iter().flatten().filter_map(|arg| match arg {
        GenericArgument::Type(ty) => Some(ty),
        _ => None,
    })
}

/// Whether values of `ty` go through the runtime's `transcoding` module, directly or inside
/// `Option`/`Vec`: Python's custom JSON forms (`uuid_hex`, `decimal_str`, `datetime_iso`),
/// and floats, which it refuses to write when they are NaN or infinite.
pub fn is_python_transcoded(ty: &Type) -> bool {
    let Some(segment) = last_segment(ty) else {
        return false;
    };
    match segment.ident.to_string().as_str() {
        "Uuid" | "Decimal" | "OffsetDateTime" | "f64" | "f32" => true,
        "Option" | "Vec" => generic_types(segment).next().is_some_and(is_python_transcoded),
        _ => false,
    }
}

/// `Result<..>` (any path ending in `Result`): the first generic type argument, if any.
pub fn result_ok_type(ty: &Type) -> Option<Option<&Type>> {
    let segment = last_segment(ty)?;
    (segment.ident == "Result").then(|| generic_types(segment).next())
}

/// Whether `ty` is `Self` or the aggregate's own name.
pub fn is_self(ty: &Type, self_ident: &syn::Ident) -> bool {
    match last_segment(ty) {
        Some(segment) => {
            matches!(segment.arguments, PathArguments::None)
                && (segment.ident == "Self" || segment.ident == *self_ident)
        }
        None => false,
    }
}

/// Whether `ty` is `()`.
pub fn is_unit(ty: &Type) -> bool {
    matches!(ty, Type::Tuple(tuple) if tuple.elems.is_empty())
}

/// The first borrowed or `impl Trait` part of `ty`, which an event field cannot hold.
pub fn first_unowned(ty: &Type) -> Option<proc_macro2::TokenStream> {
    struct Finder(Option<proc_macro2::TokenStream>);
    impl<'ast> Visit<'ast> for Finder {
        fn visit_type_reference(&mut self, node: &'ast syn::TypeReference) {
            self.0.get_or_insert_with(|| node.to_token_stream());
        }
        fn visit_type_impl_trait(&mut self, node: &'ast syn::TypeImplTrait) {
            self.0.get_or_insert_with(|| node.to_token_stream());
        }
        fn visit_lifetime(&mut self, node: &'ast syn::Lifetime) {
            if node.ident != "static" {
                self.0.get_or_insert_with(|| node.to_token_stream());
            }
        }
    }
    let mut finder = Finder(None);
    finder.visit_type(ty);
    finder.0
}

/// Replaces the first generic type argument of a `Result<..>` type with `replacement`.
pub fn replace_result_ok(ty: &Type, replacement: Type) -> Type {
    let mut ty = ty.clone();
    if let Type::Path(path) = &mut ty {
        if let Some(segment) = path.path.segments.last_mut() {
            if let PathArguments::AngleBracketed(args) = &mut segment.arguments {
                if let Some(GenericArgument::Type(first)) =
                    args.args.iter_mut().find(|arg| matches!(arg, GenericArgument::Type(_)))
                {
                    *first = replacement;
                }
            }
        }
    }
    ty
}
